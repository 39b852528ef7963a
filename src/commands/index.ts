import type { CommandSpec } from './spec.js';
import { canaryPromoteCommand, canaryRollbackCommand, canaryShiftCommand } from './canary.js';
import { completionCommand } from './completion.js';
import { manifestGenerateCommand } from './manifest.js';
import { profileDiffCommand, profileDumpCommand, profileListCommand } from './profile.js';
import { versionCommand } from './version.js';

/**
 * Every command, sorted by path. Command files are light: each imports heavy modules
 * (@kubernetes/client-node, ink, undici) inside its `run`, so `meshctl --help` loads none of them.
 */
export const COMMANDS: readonly CommandSpec[] = [canaryPromoteCommand, canaryRollbackCommand, canaryShiftCommand, completionCommand, manifestGenerateCommand, profileDiffCommand, profileDumpCommand, profileListCommand, versionCommand];

/** One-line summaries of command groups (`meshctl canary --help`). */
export const GROUPS: Readonly<Record<string, string>> = {
  canary: 'Shift, promote and roll back canary releases on the Istio API',
  manifest: 'Render the install manifests without applying them',
  profile: 'Inspect the install profiles (minimal, default, demo)',
};
