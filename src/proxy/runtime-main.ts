/**
 * Entry of dist/proxy-runtime.cjs, the process `meshctl proxy` becomes (src/proxy/reexec.ts
 * execProxyRuntime). It is bundled as CommonJS, apart from the ESM CLI: Node's ESM loader alone
 * costs ~13 MB RSS, and a sidecar that runs for days needs none of the CLI's commands. It reads the
 * settings the command already validated, runs the proxy, and turns errors into the same stderr
 * line and exit code src/main.ts gives them, so users see no difference.
 */
import { enableCompileCache } from 'node:module';
import { ExitCode, writeError } from '../core/errors.js';
import { runDiscoveryProxy } from './discovery.js';
import { PROXY_SETTINGS_ENV, type ProxyLaunch } from './runtime-launch.js';
import { runProxy } from './run.js';

// As bin/meshctl: later loads (none today, the bundle is one file) come from the compile cache.
enableCompileCache?.();

// A reader that goes away is not an error (as src/entry.ts): stop quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

/** Reads the launch settings once and removes them from the environment the proxy keeps. */
function readLaunch(): ProxyLaunch {
  const raw = process.env[PROXY_SETTINGS_ENV];
  delete process.env[PROXY_SETTINGS_ENV];
  if (!raw) throw new Error(`${PROXY_SETTINGS_ENV} is not set: run the proxy as \`meshctl proxy\`, not dist/proxy-runtime.cjs directly`);
  const launch = JSON.parse(raw) as unknown;
  if (typeof launch !== 'object' || launch === null || !('ports' in launch) || !('dir' in launch || 'discovery' in launch)) {
    throw new Error(`${PROXY_SETTINGS_ENV} does not hold proxy settings`);
  }
  return launch as ProxyLaunch;
}

async function main(): Promise<number> {
  let verbose = false;
  try {
    const launch = readLaunch();
    verbose = launch.verbose === true;
    const ctx = { io: { stdout: process.stdout } };
    if ('discovery' in launch) await runDiscoveryProxy(ctx, launch);
    else await runProxy(ctx, launch);
    return ExitCode.ok;
  } catch (err) {
    return writeError(err, (text) => void process.stderr.write(text), verbose);
  }
}

// CommonJS has no top-level await. Only the exit code is set: the process ends once the drained
// proxy has closed its listeners, as the CLI's does.
void main().then((code) => (process.exitCode = code));
