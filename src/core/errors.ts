/**
 * One error model for every command. Each error has a stable code (shown to users and matched by
 * scripts), a one-line message naming the input, an optional hint naming the fix, and an exit code
 * on istioctl's sysexits so CI scripts written for istioctl keep working.
 * Only src/main.ts turns these into process exit codes.
 */
export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 64,
  dataErr: 65,
  unavailable: 69,
  noPerm: 77,
  analyzeIssues: 79,
  /** `canary rollout` failed a metric gate (or stayed inconclusive) and rolled back; after istioctl's 79. */
  rolloutFailed: 80,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class MeshctlError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly exitCode: ExitCode;
  constructor(code: string, message: string, opts: { hint?: string; exitCode: ExitCode; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = opts.hint;
    this.exitCode = opts.exitCode;
  }
}

/** Wrong flags, arguments or values on the command line (exit 64). */
export class UsageError extends MeshctlError {
  constructor(message: string, hint?: string, code = 'E_USAGE') {
    super(code, message, { hint, exitCode: ExitCode.usage });
  }
}

/** Input data that cannot be used: bad YAML, a schema violation, an unknown service (exit 65). */
export class InputError extends MeshctlError {
  constructor(message: string, hint?: string, code = 'E_INPUT') {
    super(code, message, { hint, exitCode: ExitCode.dataErr });
  }
}

/** Object not found in the store (exit 65: the input named something that is not there). */
export class NotFoundError extends MeshctlError {
  constructor(message: string, hint?: string) {
    super('E_NOT_FOUND', message, { hint, exitCode: ExitCode.dataErr });
  }
}

/** The cluster (or the local store) cannot be reached or its config cannot be loaded (exit 69). */
export class ClusterError extends MeshctlError {
  constructor(message: string, hint?: string, cause?: unknown, code = 'E_CLUSTER_UNREACHABLE') {
    super(code, message, { hint, exitCode: ExitCode.unavailable, cause });
  }
}

/** The API server refused the credentials or the action (exit 77). */
export class ForbiddenError extends MeshctlError {
  constructor(message: string, hint?: string, cause?: unknown, code = 'E_FORBIDDEN') {
    super(code, message, { hint, exitCode: ExitCode.noPerm, cause });
  }
}

/** A write lost a race too many times in a row (exit 69: try again later). */
export class ConflictError extends MeshctlError {
  constructor(message: string, hint?: string) {
    super('E_CONFLICT', message, { hint, exitCode: ExitCode.unavailable });
  }
}

export function isMeshctlError(e: unknown): e is MeshctlError {
  return e instanceof MeshctlError;
}

/** "did you mean" for an unknown word, by Levenshtein distance; undefined when nothing is close. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  // Two rows are enough: the words compared here are flag and key names, a few dozen chars at most.
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/**
 * Writes the one stderr line an error gets (-v adds the stack) and returns its exit code: meshctl's
 * typed errors as themselves, anything else as an internal error. Shared by src/main.ts and the proxy
 * runtime (src/proxy/runtime-main.ts), which must not load commander.
 */
export function writeError(err: unknown, write: (text: string) => void, verbose: boolean): number {
  if (isMeshctlError(err)) {
    write(`Error: ${err.message}${err.hint ? ` (${err.hint})` : ''}\n`);
    if (verbose) write(`[${err.code}] ${err.stack ?? ''}\n${err.cause ? `caused by: ${String((err.cause as Error).stack ?? err.cause)}\n` : ''}`);
    return err.exitCode;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  write(`Error: internal error: ${e.message} (please report it; -v shows the stack trace)\n`);
  if (verbose) write(`${e.stack ?? ''}\n`);
  return ExitCode.internal;
}
