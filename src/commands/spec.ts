import type { Context } from '../context.js';
import type { Table } from '../ui/table.js';

export interface OptionSpec {
  /** commander syntax: `-t, --to <subset>`, `--dry-run`, `--set <key=value...>` */
  flags: string;
  description: string;
  default?: string | boolean | string[];
  choices?: readonly string[];
  /** Shown in completions for the option's value. */
  valueHint?: 'file' | 'dir' | 'namespace' | 'service';
}

export interface ArgSpec {
  name: string;
  description: string;
  required?: boolean;
  variadic?: boolean;
}

/** What a command returns: data for -o json|yaml, and how to show it to a person. */
export interface CommandOutput {
  data: unknown;
  /** Rendered for -o table (the default); falls back to `text`, then to YAML of `data`. */
  table?: Table;
  text?: string;
  /** Exit code when the command succeeded but found something (analyze: 79). */
  exitCode?: number;
}

export interface CommandSpec {
  /** Words after `meshctl`: `version`, `canary shift`. */
  path: string;
  summary: string;
  description?: string;
  args?: readonly ArgSpec[];
  options?: readonly OptionSpec[];
  examples?: readonly string[];
  /** -o values this command accepts; default table, json, yaml. */
  outputs?: readonly string[];
  run(ctx: Context, args: string[], opts: Record<string, unknown>): Promise<CommandOutput | void>;
}

export const DEFAULT_OUTPUTS = ['table', 'json', 'yaml'] as const;

export function defineCommand(spec: CommandSpec): CommandSpec {
  return spec;
}
