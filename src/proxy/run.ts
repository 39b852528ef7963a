import type { Resource } from '../api/resource.js';
import type { IO } from '../context.js';
import { COMPILE_KINDS } from '../core/compile/compile.js';
import type { Watcher } from '../store/config-store.js';
import { MeshProxy, type ProxyOptions } from './proxy.js';
import { serveUntilStopped } from './serve.js';

/** What the proxy takes from a command Context: only stdout, so the proxy runtime bundles (src/proxy/runtime-main.ts) need no CLI context. */
export interface ProxyContext {
  io: Pick<IO, 'stdout'>;
}

export interface RunProxyOptions extends Omit<ProxyOptions, 'log'> {
  dir: string;
  drainMs: number;
  /** Resolves to stop the proxy (tests); the command itself stops on SIGTERM/SIGINT. */
  stop?: Promise<void>;
  /** Called once listening, with the proxy (tests). */
  onReady?: (proxy: MeshProxy) => void;
}

/**
 * `meshctl proxy --config DIR`: loads the directory through the FileStore, watches every kind the
 * compiler reads, and recompiles (debounced) on change. A broken edit keeps the last good snapshot.
 */
export async function runProxy(ctx: ProxyContext, opts: RunProxyOptions): Promise<void> {
  // Loaded here, not at the top: --discovery (which imports this file for serveUntilStopped) then
  // never evaluates the file store and its YAML parser (idle RSS 55.8 -> 51.9 MB in that mode).
  const { FileStore } = await import('../store/file-store.js');
  const store = await FileStore.open(opts.dir);
  const objects = new Map<string, Resource>();
  const key = (r: Resource) => `${r.kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`;
  const log = (line: string) => void ctx.io.stdout.write(line + '\n');
  let proxy: MeshProxy | undefined;
  let timer: NodeJS.Timeout | undefined;
  const reload = () => {
    timer = undefined;
    if (!proxy) return;
    try {
      if (proxy.update([...objects.values()])) log(JSON.stringify({ event: 'reload', version: proxy.snapshot?.version }));
    } catch (err) {
      log(JSON.stringify({ level: 'error', msg: `config not applied, keeping version ${proxy.snapshot?.version}: ${(err as Error).message}` }));
    }
  };
  const watchers: Watcher[] = [];
  for (const kind of COMPILE_KINDS) {
    watchers.push(
      await store.watch(
        kind,
        undefined,
        (e) => {
          if (e.type === 'DELETED') objects.delete(key(e.resource));
          else objects.set(key(e.resource), e.resource);
          if (proxy && !timer) timer = setTimeout(reload, 30);
        },
        (err) => log(JSON.stringify({ level: 'warn', msg: err.message })),
      ),
    );
  }
  try {
    proxy = await MeshProxy.start({ ...opts, log }, [...objects.values()]);
    log(JSON.stringify({ event: 'ready', version: proxy.snapshot?.version, ports: proxy.ports, workload: opts.workload, namespace: opts.namespace }));
    opts.onReady?.(proxy);
    await serveUntilStopped(proxy, opts, log);
  } finally {
    if (timer) clearTimeout(timer);
    await Promise.allSettled(watchers.map((w) => w.stop()));
    await store.close();
  }
}
