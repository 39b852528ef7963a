import type { Snapshot } from '../core/compile/snapshot.js';
import type { MeshProxy, ProxyOptions } from './proxy.js';

/**
 * A proxy's config as compiled away from it: by the controller (`--discovery`) or by the compile
 * process of `--config DIR` (src/proxy/config-source.ts). The snapshot now, and the same proxy's
 * snapshot after each coming fault expiry (meshctl inject fault --duration), earliest first.
 */
export interface CompiledConfig {
  snapshot: Snapshot;
  upcoming: { at: string; snapshot: Snapshot }[];
}

/**
 * Names a compiled config with its expiries: equal fingerprints, equal configs. The controller
 * pushes a sidecar only a new fingerprint; `--config`'s compile step answers "unchanged" to the
 * fingerprint the proxy has, so a save that changes nothing (a comment, a touch) is not sent back
 * and parsed again (on a 1,000-service mesh that parse alone held traffic up ~15 ms).
 */
export function fingerprintOf(c: CompiledConfig): string {
  return [c.snapshot.version, ...c.upcoming.map((u) => `${u.at}=${u.snapshot.version}`)].join(' ');
}

/** The proxy's own facts that a compiled snapshot leaves at defaults (see localize). */
export type LocalFacts = Pick<ProxyOptions, 'outboundAddress' | 'bindAddress' | 'appPort' | 'metrics' | 'accessLog' | 'outboundTrafficPolicy'>;

/**
 * Snapshots are compiled for (workload, namespace, labels, app port); the listener addresses,
 * telemetry switches and a --outbound-traffic-policy override are this process's own facts and
 * are filled in here. The version stays the compiler's, so both ends name the same config.
 */
export function localize(s: Snapshot, proxy: { ports: { outbound: number; inbound: number } }, o: LocalFacts): Snapshot {
  return {
    ...s,
    listeners: {
      outbound: { address: o.outboundAddress, port: proxy.ports.outbound },
      inbound: { address: o.bindAddress, port: proxy.ports.inbound, ...(o.appPort ? { appPort: o.appPort } : {}) },
    },
    telemetry: { metrics: o.metrics, accessLog: o.accessLog },
    outboundTrafficPolicy: o.outboundTrafficPolicy ?? s.outboundTrafficPolicy,
  };
}

/** The longest delay setTimeout takes (2^31 - 1 ms, ~24.8 days); longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Runs `fn` at `atMs` (epoch ms), however far off: a delay past setTimeout's limit is waited out in
 * steps, so a fault set to expire in 30 days does not end after 24.8. Unref'd: it never keeps the
 * process alive on its own.
 */
export function runAt(atMs: number, fn: () => void): { cancel(): void } {
  let t: NodeJS.Timeout;
  const arm = () => {
    const ms = atMs - Date.now();
    t = ms > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(fn, Math.max(0, ms) + 1);
    t.unref();
  };
  arm();
  return { cancel: () => clearTimeout(t) };
}

/**
 * Feeds compiled configs to a running proxy: swaps the snapshot in (MeshProxy.applySnapshot, so no
 * request in flight is dropped) and swaps each precompiled fault-expiry snapshot in on time with a
 * local timer, so an expired fault stops even while the compiler is away. `onLastExpiry` runs when
 * the last precompiled expiry has been applied: later expiries need a fresh compile.
 */
export class SnapshotFeed {
  #timers: { cancel(): void }[] = [];
  #pushed = false;
  constructor(
    private readonly proxy: MeshProxy,
    private readonly facts: LocalFacts,
    private readonly log: (line: string) => void,
    private readonly onLastExpiry?: () => void,
  ) {}

  /**
   * Applies `c` now and schedules its expiries, replacing earlier ones. Every swap after the first
   * logs a reload tagged `source`. The first is the start-up config, which the `ready` line names:
   * it is not counted as a reload (the empty config MeshProxy.start binds with is no config), and
   * with `strict` a first config the proxy cannot apply throws instead of leaving it serving none.
   */
  push(c: CompiledConfig, source: string, opts: { strict?: boolean } = {}): void {
    const first = !this.#pushed;
    if (first && opts.strict) this.proxy.applySnapshot(localize(c.snapshot, this.proxy, this.facts));
    else this.#apply(c.snapshot, first ? undefined : source);
    if (first) this.proxy.reloads = 0;
    this.#pushed = true;
    this.#clear();
    c.upcoming.forEach((u, i) => {
      const at = new Date(u.at).getTime();
      if (!Number.isFinite(at)) return;
      const last = i === c.upcoming.length - 1;
      this.#timers.push(
        runAt(at, () => {
          this.#apply(u.snapshot, 'fault-expiry');
          if (last) this.onLastExpiry?.();
        }),
      );
    });
  }

  stop(): void {
    this.#clear();
  }

  #clear(): void {
    for (const t of this.#timers) t.cancel();
    this.#timers = [];
  }

  #apply(s: Snapshot, source: string | undefined): void {
    try {
      if (this.proxy.applySnapshot(localize(s, this.proxy, this.facts)) && source) this.log(JSON.stringify({ event: 'reload', version: s.version, source }));
    } catch (err) {
      this.log(JSON.stringify({ level: 'error', msg: `snapshot ${s.version} not applied, keeping version ${this.proxy.snapshot?.version}: ${(err as Error).message}` }));
    }
  }
}
