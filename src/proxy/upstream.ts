import type { Cluster, Endpoint } from '../core/compile/snapshot.js';
import { UpstreamPool, type PoolOptions } from './http1/client.js';
import type { DestinationStats, Metrics } from './metrics.js';

/**
 * Upstream clusters at run time: endpoints with their connection pool, load balancing, outlier
 * detection and the cluster's circuit breaker. Pools are owned by a PoolRegistry that outlives
 * snapshots, so a reload that keeps an endpoint keeps its kept-alive connections.
 */

export class EndpointState {
  /** Requests sent and not finished: LEAST_REQUEST reads it. */
  active = 0;
  consecutive5xx = 0;
  consecutiveGateway = 0;
  /** 0 when healthy; else the time (ms, monotonic) the ejection ends. */
  ejectedUntil = 0;
  /** How many times it was ejected; the ejection time grows with it and decays while healthy. */
  ejections = 0;
  constructor(
    readonly endpoint: Endpoint,
    readonly pool: UpstreamPool,
    readonly origin: string,
    readonly stats: DestinationStats | undefined,
  ) {}
}

/** Pools shared across snapshots, keyed by address and pool settings. */
export class PoolRegistry {
  readonly #pools = new Map<string, UpstreamPool>();

  get(host: string, port: number, opts: PoolOptions): UpstreamPool {
    const key = `${host}|${port}|${opts.maxConnections}|${opts.idleTimeoutMs}|${opts.maxRequestsPerConnection}|${opts.connectTimeoutMs}`;
    let p = this.#pools.get(key);
    if (!p) this.#pools.set(key, (p = new UpstreamPool(host, port, opts)));
    return p;
  }

  /** Closes pools no live cluster uses; close() lets their in-flight requests finish first. */
  retain(live: Set<UpstreamPool>): void {
    for (const [k, p] of this.#pools) {
      if (!live.has(p)) {
        this.#pools.delete(k);
        void p.close().catch(() => undefined);
      }
    }
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.#pools.values()].map((p) => p.close()));
    this.#pools.clear();
  }
}

export class ClusterRuntime {
  readonly endpoints: EndpointState[];
  /** Requests in flight on the whole cluster: the circuit breaker's count. */
  active = 0;
  /** Exchanges that are retrying now: compared with connectionPool.maxRetries. */
  retrying = 0;
  #rr = 0;
  /** Consistent-hash ring: sorted hashes and the endpoint each belongs to. */
  #ring: Uint32Array | undefined;
  #ringOwner: EndpointState[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** Over this many in-flight requests, new ones get 503 UO. Infinity = no limit. */
  readonly limit: number;

  constructor(
    readonly cluster: Cluster,
    pools: PoolRegistry,
    metrics: Metrics | undefined,
    reporter: 'source' | 'destination',
    previous: ClusterRuntime | undefined,
  ) {
    const cp = cluster.connectionPool;
    const poolOpts: PoolOptions = {
      maxConnections: cp.maxConnections,
      idleTimeoutMs: Math.min(cp.idleTimeoutMs, 600_000),
      connectTimeoutMs: cp.connectTimeoutMs,
      maxRequestsPerConnection: cp.maxRequestsPerConnection,
    };
    this.endpoints = cluster.endpoints.map((e) => {
      const host = e.address.includes(':') ? `[${e.address}]` : e.address;
      const origin = `http://${host}:${e.port}`;
      const stats = metrics?.destination(reporter, {
        destinationWorkload: e.workload,
        destinationWorkloadNamespace: e.namespace,
        destinationService: cluster.service,
        destinationServiceName: cluster.serviceName,
        destinationServiceNamespace: cluster.serviceNamespace,
        destinationVersion: e.labels.version ?? cluster.subset ?? 'unknown',
      }, reporter === 'source' ? 'unknown' : 'none');
      const st = new EndpointState(e, pools.get(e.address, e.port, poolOpts), origin, stats);
      // Outlier state survives a reload for the same endpoint: an ejected host stays ejected.
      const old = previous?.endpoints.find((p) => p.origin === origin);
      if (old) {
        st.ejectedUntil = old.ejectedUntil;
        st.ejections = old.ejections;
        st.consecutive5xx = old.consecutive5xx;
        st.consecutiveGateway = old.consecutiveGateway;
      }
      return st;
    });
    const perEndpoint = cp.maxConnections > 0 ? cp.maxConnections * Math.max(1, this.endpoints.length) : 0;
    let limit = Infinity;
    if (cp.maxRequests > 0) limit = cp.maxRequests;
    if (perEndpoint > 0 && cp.maxPendingRequests > 0) limit = Math.min(limit, perEndpoint + cp.maxPendingRequests);
    this.limit = limit;
    if (cluster.lb.type === 'CONSISTENT_HASH') this.#buildRing();
    const od = cluster.outlierDetection;
    if (od) {
      this.#timer = setInterval(() => this.#sweep(Date.now()), od.intervalMs);
      this.#timer.unref();
    }
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  /** Picks an endpoint that is not ejected; undefined when none is left (503 UH). */
  pick(hashKey: string | undefined): EndpointState | undefined {
    const eps = this.endpoints;
    const n = eps.length;
    if (n === 0) return undefined;
    if (n === 1) return eps[0]!.ejectedUntil === 0 ? eps[0] : undefined;
    switch (this.cluster.lb.type) {
      case 'ROUND_ROBIN':
        for (let i = 0; i < n; i++) {
          const e = eps[this.#rr++ % n]!;
          if (e.ejectedUntil === 0) return e;
        }
        return undefined;
      case 'RANDOM':
        return this.#healthyFrom(Math.floor(Math.random() * n));
      case 'CONSISTENT_HASH':
        return hashKey === undefined ? this.#healthyFrom(Math.floor(Math.random() * n)) : this.#ringPick(hashKey);
      default: {
        // Power of two choices: two random healthy endpoints, the one with fewer active requests.
        const a = this.#healthyFrom(Math.floor(Math.random() * n));
        const b = this.#healthyFrom(Math.floor(Math.random() * n));
        if (!a || !b) return a ?? b;
        return b.active < a.active ? b : a;
      }
    }
  }

  /** For a retry: an endpoint other than `prev` when a healthy one exists, else whatever pick() gives. */
  pickOther(prev: EndpointState): EndpointState | undefined {
    const ep = this.pick(undefined);
    if (ep !== prev || this.endpoints.length < 2) return ep;
    const i = this.endpoints.indexOf(prev);
    const other = this.#healthyFrom(i + 1);
    return other ?? ep;
  }

  #healthyFrom(start: number): EndpointState | undefined {
    const eps = this.endpoints;
    for (let i = 0; i < eps.length; i++) {
      const e = eps[(start + i) % eps.length]!;
      if (e.ejectedUntil === 0) return e;
    }
    return undefined;
  }

  #buildRing(): void {
    // 64 points per endpoint (Envoy's ring_hash uses a minimum ring of 1024 for the whole cluster).
    const points: [number, EndpointState][] = [];
    for (const e of this.endpoints) for (let i = 0; i < 64; i++) points.push([fnv1a(`${e.origin}#${i}`), e]);
    points.sort((a, b) => a[0] - b[0]);
    this.#ring = Uint32Array.from(points.map((p) => p[0]));
    this.#ringOwner = points.map((p) => p[1]);
  }

  #ringPick(key: string): EndpointState | undefined {
    const ring = this.#ring;
    if (!ring || ring.length === 0) return undefined;
    const h = fnv1a(key);
    let lo = 0;
    let hi = ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ring[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    // Walk on past ejected endpoints so keys of an ejected host move, the rest stay put.
    for (let i = 0; i < ring.length; i++) {
      const e = this.#ringOwner[(lo + i) % ring.length]!;
      if (e.ejectedUntil === 0) return e;
    }
    return undefined;
  }

  /** Outlier detection input: the status of a finished response, 0 for connect failure / reset. */
  report(e: EndpointState, status: number): void {
    const od = this.cluster.outlierDetection;
    if (!od) return;
    const is5xx = status === 0 || status >= 500;
    const isGateway = status === 0 || status === 502 || status === 503 || status === 504;
    if (!is5xx) {
      e.consecutive5xx = 0;
      e.consecutiveGateway = 0;
      return;
    }
    e.consecutive5xx++;
    if (isGateway) e.consecutiveGateway++;
    const hit = (od.consecutive5xxErrors > 0 && e.consecutive5xx >= od.consecutive5xxErrors) || (od.consecutiveGatewayErrors > 0 && e.consecutiveGateway >= od.consecutiveGatewayErrors);
    if (hit && e.ejectedUntil === 0) this.#eject(e, Date.now());
  }

  #eject(e: EndpointState, now: number): void {
    const od = this.cluster.outlierDetection!;
    const ejected = this.endpoints.reduce((n, x) => n + (x.ejectedUntil !== 0 ? 1 : 0), 0);
    // Envoy's rule: eject while the share already ejected is below maxEjectionPercent.
    if ((ejected * 100) / this.endpoints.length >= od.maxEjectionPercent) return;
    e.ejections++;
    e.ejectedUntil = now + od.baseEjectionTimeMs * Math.min(e.ejections, 10);
    e.consecutive5xx = 0;
    e.consecutiveGateway = 0;
  }

  /** Runs every `interval`: brings back hosts whose ejection ended, decays the multiplier of healthy ones. */
  #sweep(now: number): void {
    for (const e of this.endpoints) {
      if (e.ejectedUntil !== 0) {
        if (now >= e.ejectedUntil) e.ejectedUntil = 0;
      } else if (e.ejections > 0 && e.consecutive5xx === 0) {
        e.ejections--;
      }
    }
  }
}

/** 32-bit FNV-1a with a final avalanche: fast, and an even spread over a ring of a few hundred points. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // murmur3's finaliser: FNV alone leaves keys that differ in the last character close together,
  // which put whole runs of similar keys (user-1, user-2 ...) on one endpoint.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
