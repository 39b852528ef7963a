import type { ConfigStore } from './store/config-store.js';

/** Flags every command accepts, as kubectl has them. */
export interface GlobalOptions {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  namespace?: string | undefined;
  allNamespaces: boolean;
  output: string;
  color: boolean;
  verbose: boolean;
  /** Directory of a file-backed mesh (--local or MESHCTL_LOCAL); undefined means the cluster. */
  local?: string | undefined;
}

export interface Writer {
  write(chunk: string): unknown;
}

export interface IO {
  stdout: Writer;
  stderr: Writer;
  stdin: NodeJS.ReadableStream;
  /** stdout is a terminal: live views (ink) and colour are allowed. */
  isTTY: boolean;
  color: boolean;
}

/**
 * Everything a command may touch. Commands keep no module-level state: the entry point builds the
 * real context, tests build one over in-memory streams (test/helpers/run-meshctl.ts).
 */
export interface Context {
  io: IO;
  globals: GlobalOptions;
  env: Record<string, string | undefined>;
  cwd: string;
  now(): Date;
  /** The ConfigStore for --local DIR or the current kube context; opened once, on first use. */
  store(): Promise<ConfigStore>;
  /** -n, else the kube context's namespace (or the local mesh's), else "default". */
  namespace(): Promise<string>;
  /** Progress and hints for people: stderr, so stdout stays data. */
  info(message: string): void;
  /** Only with -v. */
  debug(message: string): void;
}
