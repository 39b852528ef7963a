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

/**
 * Feeds compiled configs to a running proxy: swaps the snapshot in (MeshProxy.applySnapshot, so no
 * request in flight is dropped) and swaps each precompiled fault-expiry snapshot in on time with a
 * local timer, so an expired fault stops even while the compiler is away. `onLastExpiry` runs when
 * the last precompiled expiry has been applied: later expiries need a fresh compile.
 */
export class SnapshotFeed {
  #timers: NodeJS.Timeout[] = [];
  constructor(
    private readonly proxy: MeshProxy,
    private readonly facts: LocalFacts,
    private readonly log: (line: string) => void,
    private readonly onLastExpiry?: () => void,
  ) {}

  #pushed = false;

  /**
   * Applies `c` now and schedules its expiries, replacing earlier ones. Every swap after the first
   * logs a reload tagged `source`; the first is the start-up config, which the `ready` line names.
   */
  push(c: CompiledConfig, source: string): void {
    this.#apply(c.snapshot, this.#pushed ? source : undefined);
    this.#pushed = true;
    this.#clear();
    const now = Date.now();
    c.upcoming.forEach((u, i) => {
      const ms = new Date(u.at).getTime() - now;
      if (!Number.isFinite(ms)) return;
      const last = i === c.upcoming.length - 1;
      const t = setTimeout(
        () => {
          this.#apply(u.snapshot, 'fault-expiry');
          if (last) this.onLastExpiry?.();
        },
        Math.min(Math.max(0, ms) + 1, 2 ** 31 - 1),
      );
      t.unref();
      this.#timers.push(t);
    });
  }

  stop(): void {
    this.#clear();
  }

  #clear(): void {
    for (const t of this.#timers) clearTimeout(t);
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
