import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PROXY_SETTINGS_ENV, type ProxyLaunch } from './runtime-launch.js';

/**
 * The proxy's V8 heap settings. V8 grows the young generation to two 16 MB semi-spaces under load,
 * which a proxy (many short-lived objects per request, almost nothing retained) does not need: RSS
 * under sustained max load was ~103 MB with 16 MB semi-spaces and ~79.5 MB, flat for 70 s, with 4 MB
 * (dev machine, src/proxy/http1 hot path). Smaller is worse, not better: with 2 MB, scavenges came
 * so often (every ~10 ms at 30k req/s) that the socket read buffers of requests in flight were
 * promoted, and their dead backing stores piled up outside the heap until V8's external-memory
 * trigger (RSS 133 MB after 40 s). 3 MB measured the same as 4. V8 reads the flag only when the
 * isolate starts (v8.setFlagsFromString at run time changes nothing), so the real CLI process
 * replaces itself with process.execve: same PID, so a supervisor's SIGTERM still reaches the proxy,
 * and no parent process stays around costing its own memory.
 */
export const PROXY_V8_FLAGS = ['--max-semi-space-size=4'];

/**
 * One glibc malloc arena instead of one per thread: V8's background compiler and GC threads
 * otherwise each keep an arena of freed zone memory resident. RSS after 8 s of max load went from
 * 84-88 MB to 79-80 MB with no change in throughput (dev machine, 3 interleaved rounds); idle RSS is
 * the same. A value the user set is kept.
 */
function proxyEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '1', ...extra };
}
const MARKER = 'MESHCTL_PROXY_EXECED';

/**
 * process.execve when `env` is this real CLI process's own and it may replace itself: not an
 * in-process run, not already re-executed, not Windows, Node new enough (22.15) to have it.
 */
function execveIfAllowed(env: Record<string, string | undefined>): typeof process.execve {
  if (env !== process.env || env[MARKER] === '1' || process.platform === 'win32') return undefined;
  return typeof process.execve === 'function' ? process.execve.bind(process) : undefined;
}

/**
 * The runtime bundle for the launch's config source (dist/proxy-config.cjs or
 * dist/proxy-discovery.cjs, see scripts/build.mjs) beside the bundle this code was built into
 * (dist/meshctl.js or a chunk in dist/chunks/); undefined when running from src/, where there is
 * no bundle to run.
 */
function runtimeFile(launch: ProxyLaunch): string | undefined {
  const name = 'discovery' in launch ? 'proxy-discovery.cjs' : 'proxy-config.cjs';
  for (const rel of [`./${name}`, `../${name}`]) {
    const file = fileURLToPath(new URL(rel, import.meta.url));
    if (readable(file)) return file;
  }
  return undefined;
}

/** Readable, not only present: a bundle Node cannot read would fail after the exec, with Node's own error. */
function readable(file: string): boolean {
  try {
    accessSync(file, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Replaces the real CLI process with the proxy runtime: `node --max-semi-space-size=4
 * dist/proxy-{config,discovery}.cjs <original args>`, the settings in PROXY_SETTINGS_ENV. The runtime is
 * CommonJS and holds only the proxy, so the process skips Node's ESM loader and the CLI's modules
 * (idle RSS 71.8 -> 65.2 MB on the dev machine). The original args stay in argv so
 * `ps` and `pgrep -f "meshctl proxy"` still find the process; the runtime ignores them. Same PID,
 * so a supervisor's SIGTERM reaches the proxy. Returns (and the caller runs the proxy in-process)
 * when `env` is not this process's own (tests), on Windows, without process.execve, or when execve
 * fails; without the runtime file (running from src/) it falls back to re-executing the CLI itself
 * with the V8 flags (reexecWithProxyFlags).
 */
export function execProxyRuntime(env: Record<string, string | undefined>, launch: ProxyLaunch): void {
  const execve = execveIfAllowed(env);
  if (!execve) return;
  const file = runtimeFile(launch);
  if (!file) return reexecWithProxyFlags(env);
  const flags = [...process.execArgv, env.NODE_OPTIONS ?? ''].some((a) => a.includes('semi-space-size')) ? [] : PROXY_V8_FLAGS;
  try {
    execve(process.execPath, [process.execPath, ...process.execArgv, ...flags, file, ...process.argv.slice(1)], proxyEnv({ [MARKER]: '1', [PROXY_SETTINGS_ENV]: JSON.stringify(launch) }));
  } catch {
    // execve failed before replacing the process: run the proxy in this one, as it is.
  }
}

/**
 * Re-executes `meshctl proxy` with PROXY_V8_FLAGS, once. Does nothing when `env` is not this
 * process's own (an in-process run, as in tests), when the user already set the flag (node
 * options or NODE_OPTIONS), on Windows, or where process.execve is missing (Node < 22.15).
 */
export function reexecWithProxyFlags(env: Record<string, string | undefined>): void {
  const execve = execveIfAllowed(env);
  if (!execve) return;
  const already = [...process.execArgv, env.NODE_OPTIONS ?? ''].some((a) => a.includes('semi-space-size'));
  if (already || !process.argv[1]) return;
  try {
    execve(process.execPath, [process.execPath, ...process.execArgv, ...PROXY_V8_FLAGS, ...process.argv.slice(1)], proxyEnv({ [MARKER]: '1' }));
  } catch {
    // execve failed before replacing the process: run as we are, with V8's default heap sizes.
  }
}
