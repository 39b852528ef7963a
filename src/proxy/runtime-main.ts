/**
 * What both proxy runtime bundles run (entries: src/proxy/runtime-config.ts for `--config DIR`,
 * src/proxy/runtime-discovery.ts for `--discovery ADDR`), the process `meshctl proxy` becomes
 * (src/proxy/reexec.ts execProxyRuntime). They are bundled as CommonJS, apart from the ESM CLI:
 * Node's ESM loader alone costs ~13 MB RSS, and a sidecar that runs for days needs none of the
 * CLI's commands. One bundle per config source because the sidecar as deployed (--discovery)
 * needs neither the file store nor the YAML parser: evaluating them cost it ~1 MB of idle RSS.
 * The runtime reads the settings the command already validated, runs the proxy, and turns errors
 * into the same stderr line and exit code src/main.ts gives them, so users see no difference.
 */
import { enableCompileCache } from 'node:module';
import { ExitCode, writeError } from '../core/errors.js';
import { PROXY_SETTINGS_ENV, type ProxyLaunch } from './runtime-launch.js';
import type { ProxyContext } from './run.js';

/** Reads the launch settings once and removes them from the environment the proxy keeps. */
export function readLaunch(env: NodeJS.ProcessEnv, bundle: string): ProxyLaunch {
  const raw = env[PROXY_SETTINGS_ENV];
  delete env[PROXY_SETTINGS_ENV];
  if (!raw) throw new Error(`${PROXY_SETTINGS_ENV} is not set: run the proxy as \`meshctl proxy\`, not ${bundle} directly`);
  const launch = JSON.parse(raw) as unknown;
  if (typeof launch !== 'object' || launch === null || !('ports' in launch) || !('dir' in launch || 'discovery' in launch)) {
    throw new Error(`${PROXY_SETTINGS_ENV} does not hold proxy settings`);
  }
  return launch as ProxyLaunch;
}

/**
 * Runs the proxy with `run` (the bundle's config source) and sets the exit code. CommonJS has no
 * top-level await, so only the exit code is set: the process ends once the drained proxy has
 * closed its listeners, as the CLI's does.
 */
export function startRuntime(bundle: string, run: (ctx: ProxyContext, launch: ProxyLaunch) => Promise<void>): void {
  // As bin/meshctl: later loads (none today, the bundle is one file) come from the compile cache.
  enableCompileCache?.();
  // A reader that goes away is not an error (as src/entry.ts): stop quietly.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
  }
  let verbose = false;
  const main = async (): Promise<number> => {
    try {
      const launch = readLaunch(process.env, bundle);
      verbose = launch.verbose === true;
      await run({ io: { stdout: process.stdout } }, launch);
      return ExitCode.ok;
    } catch (err) {
      return writeError(err, (text) => void process.stderr.write(text), verbose);
    }
  };
  void main().then((code) => (process.exitCode = code));
}
