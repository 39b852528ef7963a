import type { CommandSpec } from './spec.js';
import { analyzeCommand } from './analyze.js';
import { canaryPromoteCommand, canaryRollbackCommand, canaryShiftCommand } from './canary.js';
import { canaryRolloutCommand } from './canary-rollout.js';
import { canaryStatusCommand } from './canary-status.js';
import { clusterSnapshotCommand } from './cluster-snapshot.js';
import { completionCommand } from './completion.js';
import { controllerCommand } from './controller.js';
import { explainCommand } from './explain.js';
import { getCommand } from './get.js';
import { injectFaultCommand } from './inject-fault.js';
import { installCommand } from './install.js';
import { manifestGenerateCommand } from './manifest.js';
import { profileDiffCommand, profileDumpCommand, profileListCommand } from './profile.js';
import { proxyCommand } from './proxy.js';
import { resilienceSetCommand } from './resilience.js';
import { routeHeaderCommand, routeMirrorCommand } from './route.js';
import { uninstallCommand } from './uninstall.js';
import { verifyInstallCommand } from './verify-install.js';
import { versionCommand } from './version.js';

/**
 * Every command, sorted by path. Command files are light: each imports heavy modules
 * (@kubernetes/client-node, ink, undici) inside its `run`, so `meshctl --help` loads none of them.
 */
export const COMMANDS: readonly CommandSpec[] = [analyzeCommand, canaryPromoteCommand, canaryRollbackCommand, canaryRolloutCommand, canaryShiftCommand, canaryStatusCommand, clusterSnapshotCommand, completionCommand, controllerCommand, explainCommand, getCommand, injectFaultCommand, installCommand, manifestGenerateCommand, profileDiffCommand, profileDumpCommand, profileListCommand, proxyCommand, resilienceSetCommand, routeHeaderCommand, routeMirrorCommand, uninstallCommand, verifyInstallCommand, versionCommand];

/** One-line summaries of command groups (`meshctl canary --help`). */
export const GROUPS: Readonly<Record<string, string>> = {
  canary: 'Canary releases on the Istio API: shift, status, promote, rollback, progressive rollout',
  cluster: 'Save cluster state for offline use (analyze --snapshot)',
  inject: 'Inject faults (delays, aborts) into traffic to a service',
  manifest: 'Render the install manifests without applying them',
  profile: 'Inspect the install profiles (minimal, default, demo)',
  resilience: 'Timeouts, retries, connection limits and outlier detection for a service',
  route: 'Route requests by header or cookie, and mirror traffic to a subset',
};
