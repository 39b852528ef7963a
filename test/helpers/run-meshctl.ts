import { PassThrough, Readable } from 'node:stream';
import { runMeshctl } from '../../src/main.js';

export interface MeshctlResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/**
 * Runs meshctl in-process through the real command tree, the way the binary does, with captured
 * streams. `args` is a string split on spaces (quote-free) or an argv array.
 */
export async function meshctl(
  args: string | readonly string[],
  opts: { env?: Record<string, string | undefined>; stdin?: string; cwd?: string; isTTY?: boolean; now?: () => Date } = {},
): Promise<MeshctlResult> {
  const argv = typeof args === 'string' ? args.split(' ').filter(Boolean) : args;
  let stdout = '';
  let stderr = '';
  const stdin = opts.stdin === undefined ? new PassThrough() : Readable.from([opts.stdin]);
  if (opts.stdin === undefined) (stdin as PassThrough).end();
  const exitCode = await runMeshctl(argv, {
    io: {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      stdin,
      isTTY: opts.isTTY ?? false,
    },
    // A clean environment: no KUBECONFIG or MESHCTL_LOCAL leaks in from the developer's shell.
    env: { HOME: '/nonexistent-meshctl-test-home', PATH: process.env.PATH, ...opts.env },
    cwd: opts.cwd ?? process.cwd(),
    ...(opts.now ? { now: opts.now } : {}),
  });
  return { stdout, stderr, exitCode };
}
