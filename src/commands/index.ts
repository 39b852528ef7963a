import type { CommandSpec } from './spec.js';
import { completionCommand } from './completion.js';
import { versionCommand } from './version.js';

/**
 * Every command, sorted by path. Command files are light: each imports heavy modules
 * (@kubernetes/client-node, ink, undici) inside its `run`, so `meshctl --help` loads none of them.
 */
export const COMMANDS: readonly CommandSpec[] = [completionCommand, versionCommand];

/** One-line summaries of command groups (`meshctl canary --help`). */
export const GROUPS: Readonly<Record<string, string>> = {};
