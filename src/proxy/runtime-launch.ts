import type { RunDiscoveryProxyOptions } from './discovery.js';
import type { RunProxyOptions } from './run.js';

/**
 * The hand-over from `meshctl proxy` (ESM CLI, src/proxy/reexec.ts) to the runtime bundles,
 * dist/proxy-config.cjs and dist/proxy-discovery.cjs (src/proxy/runtime-main.ts). A file of its own
 * because all three bundles need it and reexec.ts uses import.meta, which CommonJS cannot contain.
 */

/** The env var carrying the validated proxy settings (JSON); the runtime deletes it after reading. */
export const PROXY_SETTINGS_ENV = 'MESHCTL_PROXY_SETTINGS';

type Settings = Omit<RunProxyOptions, 'dir' | 'compile' | 'stop' | 'onReady'>;

/** What `meshctl proxy` hands the runtime: its validated settings, one config source, and -v. */
export type ProxyLaunch = Settings & { verbose: boolean } & ({ dir: string } | Pick<RunDiscoveryProxyOptions, 'discovery'>);
