import { untilStopped } from '../core/stop-signal.js';
import type { MeshProxy } from './proxy.js';

/** Waits for SIGTERM/SIGINT (or `opts.stop`), then drains: shared by --config and --discovery (src/proxy/discovery.ts). */
export async function serveUntilStopped(proxy: MeshProxy, opts: { stop?: Promise<void> | undefined; drainMs: number }, log: (line: string) => void): Promise<void> {
  await untilStopped(opts.stop);
  log(JSON.stringify({ event: 'draining', inflight: proxy.inflight, graceMs: opts.drainMs }));
  await proxy.shutdown(opts.drainMs);
  log(JSON.stringify({ event: 'stopped' }));
}
