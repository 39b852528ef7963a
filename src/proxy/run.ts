import type { IO } from '../context.js';
import { ConfigDirSource, type DirCompiler } from './config-source.js';
import { MeshProxy, type ProxyOptions } from './proxy.js';
import { serveUntilStopped } from './serve.js';
import { SnapshotFeed } from './snapshot-feed.js';

/** What the proxy takes from a command Context: only stdout, so the proxy runtime bundles (src/proxy/runtime-main.ts) need no CLI context. */
export interface ProxyContext {
  io: Pick<IO, 'stdout'>;
}

/** Settings shared by both config sources (--config DIR, --discovery ADDR). */
export interface ProxyRunOptions extends Omit<ProxyOptions, 'log'> {
  drainMs: number;
  /** Resolves to stop the proxy (tests); the command itself stops on SIGTERM/SIGINT. */
  stop?: Promise<void>;
  /** Called once listening, with the proxy (tests). */
  onReady?: (proxy: MeshProxy) => void;
}

export interface RunProxyOptions extends ProxyRunOptions {
  dir: string;
  /**
   * The compile step: a child process in the runtime bundle (src/proxy/runtime-config.ts), the
   * in-process compileDir in the CLI fallback. Never imported here, so the proxy runtime carries
   * neither the YAML parser nor the file store.
   */
  compile: DirCompiler;
}

/**
 * `meshctl proxy --config DIR`: compiles the directory (a config error stops the start), serves
 * it, and recompiles on change (src/proxy/config-source.ts). A broken edit keeps the last good
 * config, as a controller that cannot compile keeps a sidecar's.
 */
export async function runProxy(ctx: ProxyContext, opts: RunProxyOptions): Promise<void> {
  const log = (line: string) => void ctx.io.stdout.write(line + '\n');
  const source = new ConfigDirSource({
    dir: opts.dir,
    key: { workload: opts.workload, namespace: opts.namespace, labels: opts.labels, appPort: opts.appPort },
    compile: opts.compile,
    log,
  });
  let feed: SnapshotFeed | undefined;
  try {
    const first = await source.first();
    const proxy = await MeshProxy.start({ ...opts, log }, []);
    // Synchronous after start: no request can arrive between the empty start-up config and this one.
    feed = new SnapshotFeed(proxy, opts, log, () => source.refresh());
    try {
      // Strict: a directory that compiles but cannot be served (a rewrite regex the router
      // rejects, say) stops the start, as it did when the proxy compiled in-process.
      feed.push(first, 'config', { strict: true });
    } catch (err) {
      await proxy.shutdown(0);
      throw err;
    }
    proxy.extraStats = () => source.stats();
    source.follow((c) => feed?.push(c, 'config'));
    log(JSON.stringify({ event: 'ready', version: proxy.snapshot?.version, ports: proxy.ports, workload: opts.workload, namespace: opts.namespace }));
    opts.onReady?.(proxy);
    await serveUntilStopped(proxy, opts, log);
  } finally {
    source.stop();
    feed?.stop();
  }
}
