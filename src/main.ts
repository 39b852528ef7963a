import { CommanderError } from 'commander';
import { buildProgram, commanderExitCode, ExitWith } from './cli.js';
import type { Context, GlobalOptions, IO } from './context.js';
import { ExitCode, writeError } from './core/errors.js';
import { openStore } from './store/open.js';
import type { ConfigStore } from './store/config-store.js';
import { useColor } from './ui/color.js';
import { VERSION } from './version.js';

export interface RunOptions {
  io: Omit<IO, 'color'>;
  env: Record<string, string | undefined>;
  cwd: string;
  now?: () => Date;
}

/**
 * Runs one meshctl invocation and returns its exit code. The binary calls it with the process's
 * streams; tests call it in-process with buffers (test/helpers/run-meshctl.ts).
 */
export async function runMeshctl(argv: readonly string[], opts: RunOptions): Promise<number> {
  const stores: ConfigStore[] = [];
  const noColorFlag = argv.includes('--no-color');
  const io: IO = { ...opts.io, color: useColor({ noColorFlag, env: opts.env, isTTY: opts.io.isTTY }) };
  let verbose = argv.includes('-v') || argv.includes('--verbose');

  const makeContext = (globals: GlobalOptions): Context => {
    verbose = globals.verbose;
    const resolved: GlobalOptions = { ...globals, local: globals.local ?? (opts.env.MESHCTL_LOCAL || undefined) };
    let storePromise: Promise<ConfigStore> | undefined;
    const ctx: Context = {
      io,
      globals: resolved,
      env: opts.env,
      cwd: opts.cwd,
      now: opts.now ?? (() => new Date()),
      store: () =>
        (storePromise ??= openStore(resolved, opts.env, opts.cwd).then((s) => {
          stores.push(s);
          return s;
        })),
      namespace: async () => resolved.namespace ?? (await ctx.store()).defaultNamespace,
      info: (m) => void io.stderr.write(m + '\n'),
      debug: (m) => void (resolved.verbose && io.stderr.write(m + '\n')),
    };
    return ctx;
  };

  const program = buildProgram(io, makeContext, VERSION.version);
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return ExitCode.ok;
  } catch (err) {
    return reportError(err, io, verbose);
  } finally {
    await Promise.allSettled(stores.map((s) => s.close()));
  }
}

/** The one place errors become exit codes. User mistakes get one line; -v adds the stack. */
function reportError(err: unknown, io: IO, verbose: boolean): number {
  if (err instanceof ExitWith) return err.exitCode;
  if (err instanceof CommanderError) return commanderExitCode(err); // commander already printed it
  return writeError(err, (text) => void io.stderr.write(text), verbose);
}
