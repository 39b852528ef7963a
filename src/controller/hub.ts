import type { Resource } from '../api/resource.js';
import { compileSnapshot } from '../core/compile/compile.js';
import type { Snapshot } from '../core/compile/snapshot.js';
import { nextFaultExpiry } from '../core/traffic/fault-expiry.js';
import { fingerprintOf } from '../proxy/snapshot-feed.js';

/**
 * The controller's index of mesh objects and its per-proxy snapshots. Proxies that share a
 * (workload, namespace, labels, appPort) share one compiled snapshot: a config change compiles each
 * such key once, however many proxies are connected under it, and pushes only to the keys whose
 * content hash changed. No I/O: the caller feeds store events, calls `refresh()`, and writes the
 * lines `subscribe()` hands it to HTTP streams.
 */

/** What identifies a proxy's view of the mesh: everything the compiler reads about the proxy itself. */
export interface ProxyKey {
  workload: string;
  namespace: string;
  /** Used when no WorkloadEntry/Pod of that name exists (as `meshctl proxy --label`). */
  labels?: Record<string, string> | undefined;
  /** The app port the proxy's inbound listener forwards to: it names the inbound cluster. */
  appPort?: number | undefined;
}

/** One line of the discovery stream (NDJSON). */
export type StreamMessage =
  | {
      type: 'snapshot';
      /** The controller's config generation this snapshot was compiled at. */
      generation: number;
      snapshot: Snapshot;
      /**
       * The same proxy's snapshot after each coming fault expiry (meshctl inject fault --duration),
       * earliest first, so a proxy that loses the controller still stops an expired fault on time.
       */
      upcoming: { at: string; snapshot: Snapshot }[];
    }
  | { type: 'heartbeat'; generation: number; at: string };

/** Bounds the precompiled expiries per message: a proxy without the controller honours this many. */
const MAX_UPCOMING = 4;

export type Subscriber = (line: string) => void;

interface Entry {
  key: ProxyKey;
  subscribers: Set<Subscriber>;
  /** Generation the cached line was compiled at; stale when below the hub's. */
  generation: number;
  /** Snapshot version plus upcoming versions: a push happens only when this changes. */
  fingerprint: string;
  line: string;
}

export interface HubStats {
  generation: number;
  objects: number;
  keys: number;
  subscribers: number;
  compiles: number;
  pushes: number;
  compileSecondsSum: number;
  lastCompileSeconds: number;
}

export function keyString(k: ProxyKey): string {
  const labels = k.labels ? Object.entries(k.labels).sort(([a], [b]) => a.localeCompare(b)) : [];
  return JSON.stringify([k.workload, k.namespace, labels, k.appPort ?? 0]);
}

const objectKey = (r: Resource): string => `${r.kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`;

export class SnapshotHub {
  readonly #objects = new Map<string, Resource>();
  /** Keyed by keyString: a Map so lookups per connecting proxy are O(1). */
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => Date;
  #generation = 0;
  #compiles = 0;
  #pushes = 0;
  #compileSecondsSum = 0;
  #lastCompileSeconds = 0;

  constructor(opts: { now: () => Date }) {
    this.#now = opts.now;
  }

  get generation(): number {
    return this.#generation;
  }

  /** Applies one store event to the index; takes effect at the next `refresh()`. */
  apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', r: Resource): void {
    if (type === 'DELETED') this.#objects.delete(objectKey(r));
    else this.#objects.set(objectKey(r), r);
  }

  /**
   * A new config generation: recompiles every key that has a subscriber (once per key) and pushes
   * to its subscribers when the content changed. Returns the next fault expiry after now, when the
   * caller has to refresh again even if nothing in the store changes.
   */
  refresh(): Date | undefined {
    this.#generation++;
    for (const e of this.#entries.values()) {
      const before = e.fingerprint;
      this.#compile(e);
      if (e.fingerprint !== before) {
        for (const send of e.subscribers) {
          send(e.line);
          this.#pushes++;
        }
      }
    }
    return this.nextExpiry();
  }

  nextExpiry(): Date | undefined {
    return nextFaultExpiry(this.#virtualServices(), this.#now());
  }

  /** Registers a stream for `key` and sends it the current snapshot at once. Returns the unsubscribe. */
  subscribe(key: ProxyKey, send: Subscriber): () => void {
    const ks = keyString(key);
    let e = this.#entries.get(ks);
    if (!e) {
      e = { key, subscribers: new Set(), generation: -1, fingerprint: '', line: '' };
      this.#entries.set(ks, e);
    }
    if (e.generation !== this.#generation) this.#compile(e);
    e.subscribers.add(send);
    send(e.line);
    this.#pushes++;
    const entry = e;
    return () => {
      entry.subscribers.delete(send);
      // No proxy of this key left: forget it, so keys of gone workloads cost nothing per change.
      if (entry.subscribers.size === 0 && this.#entries.get(ks) === entry) this.#entries.delete(ks);
    };
  }

  heartbeat(): string {
    const m: StreamMessage = { type: 'heartbeat', generation: this.#generation, at: this.#now().toISOString() };
    return JSON.stringify(m) + '\n';
  }

  stats(): HubStats {
    let subscribers = 0;
    for (const e of this.#entries.values()) subscribers += e.subscribers.size;
    return {
      generation: this.#generation,
      objects: this.#objects.size,
      keys: this.#entries.size,
      subscribers,
      compiles: this.#compiles,
      pushes: this.#pushes,
      compileSecondsSum: this.#compileSecondsSum,
      lastCompileSeconds: this.#lastCompileSeconds,
    };
  }

  #virtualServices(): Resource[] {
    const out: Resource[] = [];
    for (const r of this.#objects.values()) if (r.kind === 'VirtualService') out.push(r);
    return out;
  }

  #compile(e: Entry): void {
    const started = process.hrtime.bigint();
    const { snapshot, upcoming } = compileForProxy(e.key, [...this.#objects.values()], this.#now());
    const message: StreamMessage = { type: 'snapshot', generation: this.#generation, snapshot, upcoming };
    e.line = JSON.stringify(message) + '\n';
    e.fingerprint = fingerprintOf(message);
    e.generation = this.#generation;
    const secs = Number(process.hrtime.bigint() - started) / 1e9;
    this.#compiles++;
    this.#lastCompileSeconds = secs;
    this.#compileSecondsSum += secs;
  }
}

/**
 * A proxy's snapshot at `now` and after each coming fault expiry (up to MAX_UPCOMING). Shared by
 * the controller's streams and `meshctl proxy --config`'s compile step (src/proxy/config-compile.ts),
 * so both modes hand the proxy the same thing.
 */
export function compileForProxy(key: ProxyKey, resources: Resource[], now: Date): { snapshot: Snapshot; upcoming: { at: string; snapshot: Snapshot }[] } {
  const snapshot = compileAt(key, resources, now);
  const upcoming: { at: string; snapshot: Snapshot }[] = [];
  const vss = resources.filter((r) => r.kind === 'VirtualService');
  let t = nextFaultExpiry(vss, now);
  while (t && upcoming.length < MAX_UPCOMING) {
    upcoming.push({ at: t.toISOString(), snapshot: compileAt(key, resources, t) });
    t = nextFaultExpiry(vss, t);
  }
  return { snapshot, upcoming };
}

function compileAt(key: ProxyKey, resources: Resource[], now: Date): Snapshot {
  // Listener addresses, telemetry flags and the traffic-policy override are the proxy's own
  // facts: it fills them in locally (src/proxy/snapshot-feed.ts), so they are left at defaults here.
  return compileSnapshot(resources, {
    now,
    workload: key.workload,
    namespace: key.namespace,
    ...(key.labels ? { labels: key.labels } : {}),
    ...(key.appPort ? { inbound: { address: '0.0.0.0', port: 15006, appPort: key.appPort } } : {}),
  });
}
