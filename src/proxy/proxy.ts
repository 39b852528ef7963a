import type { Resource } from '../api/resource.js';
import { compileSnapshot } from '../core/compile/compile.js';
import { nextFaultExpiry } from '../core/traffic/fault-expiry.js';
import type { Cluster, Snapshot } from '../core/compile/snapshot.js';
import { applyOps, composeRoute, Exchange, isHopByHopRaw, MAX_REPLAY_BODY, newRequestId, type ExchangeHost, type Stage } from './exchange.js';
import { Http1Server, noop, type InRequest } from './http1/server.js';
import { canonicalOf, decodePeer, encodePeer, Metrics, PEER_HEADER, UNKNOWN_PEER, type DestinationStats } from './metrics.js';
import { compileRoute, RouteTable, type CompiledRoute } from './router.js';
import { Tracer } from './tracing.js';
import { ClusterRuntime, PoolRegistry } from './upstream.js';

/**
 * The sidecar: outbound and inbound HTTP/1.1 listeners (our own framing on raw sockets, see
 * http1/server.ts), admin, stats and readiness servers (the same server, answering locally), and the
 * current snapshot generation. A reload builds a new generation and swaps one reference: requests
 * in flight keep the generation (and pools) they started with, kept-alive downstream connections
 * are untouched, and pools for endpoints that stay are shared, so upstream connections stay too.
 */

export interface ProxyPorts {
  outbound: number;
  inbound: number;
  admin: number;
  stats: number;
  health: number;
}

export interface ProxyOptions {
  workload: string;
  namespace: string;
  labels?: Record<string, string>;
  appPort?: number | undefined;
  ports: ProxyPorts;
  /** Address of the outbound listener (the app's side): loopback by default. */
  outboundAddress: string;
  /** Address of inbound, stats and health listeners. Admin is always 127.0.0.1. */
  bindAddress: string;
  metrics: boolean;
  accessLog: boolean;
  /** Overrides the mesh config's outboundTrafficPolicy; undefined follows it (default REGISTRY_ONLY). */
  outboundTrafficPolicy?: 'REGISTRY_ONLY' | 'ALLOW_ANY' | undefined;
  headersTimeoutMs: number;
  idleTimeoutMs: number;
  /** OTLP/HTTP collector for spans (tracing is on when set): `http://host:4318` or a full /v1/traces URL. */
  otlpEndpoint?: string | undefined;
  /** Percent of new traces sampled when tracing is on (a caller's decision is kept). Default 100. */
  traceSamplingPercent?: number | undefined;
  /** Access log lines and proxy events, one line each. */
  log: (line: string) => void;
}

interface Generation {
  snapshot: Snapshot;
  table: RouteTable;
  clusters: Map<string, ClusterRuntime>;
  stages: Map<CompiledRoute, Stage>;
  inbound: { route: CompiledRoute; stage: Stage } | undefined;
  localStats: Map<string, DestinationStats>;
  /** ALLOW_ANY: one cluster per unknown host:port, made on first use (bounded, see #passthrough). */
  passthrough: Map<string, ClusterRuntime>;
}

/** The route unknown hosts take under ALLOW_ANY: no retries, no timeout, as Istio's PassthroughCluster. */
const PASSTHROUGH_ROUTE = compileRoute({ name: 'PassthroughCluster', match: [], timeoutMs: 0 });
const passthroughStage: Stage = (ex) => ex.send();
const MAX_PASSTHROUGH_CLUSTERS = 1024;

export class MeshProxy implements ExchangeHost {
  draining = false;
  reloads = 0;
  /** More `name: value` lines for admin /stats (the discovery client's connection state). */
  extraStats: (() => string[]) | undefined;
  readonly ports: ProxyPorts = { outbound: 0, inbound: 0, admin: 0, stats: 0, health: 0 };
  readonly #opts: ProxyOptions;
  readonly #pools = new PoolRegistry();
  readonly #metrics: Metrics;
  readonly #tracer: Tracer | undefined;
  #gen: Generation | undefined;
  #inflight = 0;
  #drained: (() => void) | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;
  /** This workload as `x-meshctl-peer` says it, built once. */
  readonly #peerHeader: string;
  /** Inbound records per calling workload (header value), bounded: beyond it callers count as unknown. */
  readonly #inboundStats = new Map<string, DestinationStats>();
  /** Admin, stats and health: local answers only, on the same HTTP/1.1 server as the traffic listeners. */
  readonly #servers: Http1Server[] = [];
  #outbound!: Http1Server;
  #inbound!: Http1Server;

  private constructor(opts: ProxyOptions) {
    this.#opts = opts;
    const labels = opts.labels ?? { app: opts.workload };
    this.#metrics = new Metrics({ workload: opts.workload, namespace: opts.namespace, labels });
    const canonical = canonicalOf({ workload: opts.workload, labels });
    this.#peerHeader = encodePeer({ workload: opts.workload, namespace: opts.namespace, canonical, version: labels.version ?? 'unknown' });
    if (opts.otlpEndpoint) {
      this.#tracer = new Tracer({
        endpoint: opts.otlpEndpoint,
        serviceName: `${canonical}.${opts.namespace}`,
        namespace: opts.namespace,
        canonicalService: canonical,
        samplingPercent: opts.traceSamplingPercent ?? 100,
      });
    }
  }

  /** Span export counters (undefined when tracing is off). */
  get tracing(): { exported: number; dropped: number; buffered: number } | undefined {
    const t = this.#tracer;
    return t && { exported: t.exported, dropped: t.dropped, buffered: t.buffered };
  }

  /** Posts buffered spans now (tests; the timer does it otherwise). */
  flushTraces(): Promise<void> {
    return this.#tracer?.flush() ?? Promise.resolve();
  }

  /** Binds every listener (port 0 picks a free one; see `ports`) and loads the first config. */
  static async start(opts: ProxyOptions, resources: Resource[]): Promise<MeshProxy> {
    const p = new MeshProxy(opts);
    const serverOpts = {
      headersTimeoutMs: opts.headersTimeoutMs,
      idleTimeoutMs: opts.idleTimeoutMs,
      // Envoy's stream idle timeout: a request with nothing moving for 5 minutes (a client that
      // stalls mid-body, say) is cut, so stuck requests cannot pile up forever.
      streamIdleTimeoutMs: 300_000,
    };
    p.#outbound = new Http1Server(serverOpts, (req) => p.#onOutbound(req));
    p.#inbound = new Http1Server(serverOpts, (req) => p.#onInbound(req));
    const admin = new Http1Server(LOCAL_SERVER_OPTIONS, (req) => p.#onAdmin(req));
    const stats = new Http1Server(LOCAL_SERVER_OPTIONS, (req) => p.#onStats(req));
    const health = new Http1Server(LOCAL_SERVER_OPTIONS, (req) => p.#onHealth(req));
    p.#servers.push(admin, stats, health);
    try {
      p.ports.outbound = await p.#outbound.listen(opts.ports.outbound, opts.outboundAddress);
      p.ports.inbound = await p.#inbound.listen(opts.ports.inbound, opts.bindAddress);
      p.ports.admin = await admin.listen(opts.ports.admin, '127.0.0.1');
      p.ports.stats = await stats.listen(opts.ports.stats, opts.bindAddress);
      p.ports.health = await health.listen(opts.ports.health, opts.bindAddress);
    } catch (err) {
      for (const s of [p.#outbound, p.#inbound, ...p.#servers]) s.closeAll();
      throw err;
    }
    p.update(resources);
    return p;
  }

  get snapshot(): Snapshot | undefined {
    return this.#gen?.snapshot;
  }

  get clusters(): Map<string, ClusterRuntime> {
    return this.#gen!.clusters;
  }

  get inflight(): number {
    return this.#inflight;
  }

  /** Compiles `resources` and swaps the generation when the content hash changed. Returns whether it did. */
  update(resources: Resource[]): boolean {
    const o = this.#opts;
    const now = new Date();
    // A fault with an expiry (meshctl inject fault --duration) stops on its own: recompile at that moment.
    if (this.#expiryTimer) clearTimeout(this.#expiryTimer);
    const next = nextFaultExpiry(resources.filter((r) => r.kind === 'VirtualService'), now);
    if (next && !this.draining) {
      this.#expiryTimer = setTimeout(() => this.update(resources), Math.min(next.getTime() - now.getTime() + 1, 2 ** 31 - 1));
      this.#expiryTimer.unref();
    }
    const snapshot = compileSnapshot(resources, {
      now,
      workload: o.workload,
      namespace: o.namespace,
      ...(o.labels ? { labels: o.labels } : {}),
      outbound: { address: o.outboundAddress, port: this.ports.outbound },
      inbound: { address: o.bindAddress, port: this.ports.inbound, appPort: o.appPort },
      telemetry: { metrics: o.metrics, accessLog: o.accessLog },
      outboundTrafficPolicy: o.outboundTrafficPolicy,
    });
    return this.applySnapshot(snapshot);
  }

  /** Swaps in a compiled snapshot (from update, or from the controller's discovery stream) unless its version is current. */
  applySnapshot(snapshot: Snapshot): boolean {
    const o = this.#opts;
    if (this.#gen && this.#gen.snapshot.version === snapshot.version) return false;
    const prev = this.#gen;
    const metrics = o.metrics ? this.#metrics : undefined;
    const clusters = new Map<string, ClusterRuntime>();
    for (const c of snapshot.clusters) clusters.set(c.name, new ClusterRuntime(c, this.#pools, metrics, c.direction === 'inbound' ? 'destination' : 'source', prev?.clusters.get(c.name)));
    const table = new RouteTable(snapshot);
    const stages = new Map<CompiledRoute, Stage>();
    for (const cr of table.allRoutes()) stages.set(cr, composeRoute(cr));
    let inbound: Generation['inbound'];
    const ib = snapshot.clusters.find((c) => c.direction === 'inbound');
    if (ib) {
      const route = compileRoute({ name: 'inbound', match: [], destinations: [{ cluster: ib.name, weight: 100 }], timeoutMs: 0 });
      inbound = { route, stage: composeRoute(route) };
    }
    this.#gen = { snapshot, table, clusters, stages, inbound, localStats: new Map(), passthrough: new Map() };
    if (prev) {
      this.reloads++;
      for (const c of prev.clusters.values()) c.stop();
      for (const c of prev.passthrough.values()) c.stop();
      const live = new Set([...clusters.values()].flatMap((c) => c.endpoints.map((e) => e.pool)));
      this.#pools.retain(live);
    }
    for (const w of snapshot.warnings) o.log(JSON.stringify({ level: 'warn', msg: w, version: snapshot.version }));
    return true;
  }

  // ---- ExchangeHost ----

  localStats(cluster: ClusterRuntime | undefined, reporter: 'source' | 'destination' = 'source'): DestinationStats | undefined {
    if (!this.#opts.metrics) return undefined;
    const gen = this.#gen!;
    const key = `${reporter}|${cluster?.cluster.name ?? ''}`;
    let s = gen.localStats.get(key);
    if (!s) {
      const c = cluster?.cluster;
      s = this.#metrics.destination(
        reporter,
        {
          destinationWorkload: reporter === 'destination' ? this.#opts.workload : 'unknown',
          destinationWorkloadNamespace: reporter === 'destination' ? this.#opts.namespace : 'unknown',
          destinationService: c?.service ?? 'unknown',
          destinationServiceName: c?.serviceName ?? 'unknown',
          destinationServiceNamespace: c?.serviceNamespace ?? 'unknown',
          destinationVersion: c?.subset || 'unknown',
        },
        reporter === 'source' ? 'unknown' : 'none',
      );
      gen.localStats.set(key, s);
    }
    return s;
  }

  finished(ex: Exchange): void {
    if (this.#tracer) this.#tracer.finished(ex, performance.now());
    if (this.#opts.metrics) {
      const stats = ex.reporter === 'destination' ? this.#callerStats(ex.peer) : (ex.endpoint?.stats ?? this.localStats(ex.cluster, ex.reporter));
      stats?.record(ex.status, ex.flag, performance.now() - ex.start, ex.requestBytes, ex.responseBytes);
    }
    if (this.#opts.accessLog) {
      this.#opts.log(
        JSON.stringify({
          start_time: new Date(performance.timeOrigin + ex.start).toISOString(),
          method: ex.req.method,
          path: ex.req.url,
          authority: ex.authority,
          response_code: ex.status,
          response_flags: ex.flag,
          duration_ms: Math.round((performance.now() - ex.start) * 1000) / 1000,
          bytes_sent: ex.responseBytes,
          upstream_cluster: ex.cluster?.cluster.name ?? '',
          upstream_host: ex.endpoint?.origin ?? '',
          route_name: ex.route?.route.name ?? '',
          request_id: ex.requestId,
          ...(ex.traceId ? { trace_id: ex.traceId, span_id: ex.spanId } : {}),
          reporter: ex.reporter,
        }),
      );
    }
    if (--this.#inflight === 0 && this.#drained) this.#drained();
  }

  #callerStats(peer: string): DestinationStats {
    let s = this.#inboundStats.get(peer);
    if (s) return s;
    const o = this.#opts;
    const labels = o.labels ?? { app: o.workload };
    const p = (this.#inboundStats.size < 1000 && decodePeer(peer)) || UNKNOWN_PEER;
    s = this.#metrics.destination(
      'destination',
      {
        destinationWorkload: o.workload,
        destinationWorkloadNamespace: o.namespace,
        destinationService: this.#gen?.snapshot.clusters.find((c) => c.direction === 'inbound')?.service ?? o.workload,
        destinationServiceName: canonicalOf({ workload: o.workload, labels }),
        destinationServiceNamespace: o.namespace,
        destinationVersion: labels.version ?? 'unknown',
      },
      'none',
      p,
    );
    if (this.#inboundStats.size < 1000) this.#inboundStats.set(peer, s);
    return s;
  }

  // ---- listeners ----

  #onOutbound(req: InRequest): void {
    const gen = this.#gen!;
    this.#inflight++;
    const out: string[] = [];
    const scan = scanHeaders(req, out);
    const ex = new Exchange(this, req, 'source');
    ex.headers = out;
    ex.requestBytes = Math.max(0, req.framing.length);
    // Envoy generates x-request-id when the request has none; local replies log it too.
    ex.requestId = scan.requestId || newRequestId();
    if (this.#tracer) this.#tracer.inject(out, ex);
    const m = gen.table.match(ex);
    if (!m) {
      const known = gen.table.resolveHost(req.authority);
      const allowAny = gen.snapshot.outboundTrafficPolicy === 'ALLOW_ANY';
      if (!known && allowAny) {
        const cluster = this.#passthrough(gen, req.authority);
        if (cluster) {
          ex.route = PASSTHROUGH_ROUTE;
          ex.cluster = cluster;
          if (!scan.requestId) out.push('x-request-id', ex.requestId);
          this.#withBody(ex, false, passthroughStage);
          return;
        }
      }
      ex.localReply(404, 'NR', known ? `no route: no VirtualService route of ${known.host.vhost.host} port ${known.port} matches ${req.method} ${req.url}` : allowAny ? `no route: "${req.authority}" is not a valid passthrough destination (bad port, or this proxy's own listener)` : `no route: host "${req.authority}" is not a service in the mesh (outboundTrafficPolicy REGISTRY_ONLY)`);
      return;
    }
    const cr = m.route;
    ex.route = cr;
    const route = cr.route;
    if (route.redirect) {
      const r = route.redirect;
      const q = req.url.indexOf('?');
      const query = q < 0 || (r.uri && r.uri.includes('?')) ? '' : req.url.slice(q);
      const authority = r.authority ?? req.authority.replace(/:\d+$/, '');
      const location = `${r.scheme ?? 'http'}://${authority}${r.port ? ':' + r.port : ''}${r.uri ?? (q < 0 ? req.url : req.url.slice(0, q))}${query}`;
      ex.status = r.code;
      req.writeHead(r.code, ['location', location, 'content-length', '0'], 'raw');
      req.end();
      ex.finish();
      return;
    }
    if (route.directResponse) {
      const d = route.directResponse;
      ex.status = d.status;
      const body = Buffer.from(d.body ?? '');
      ex.responseBytes = body.length;
      req.writeHead(d.status, ['content-type', 'text/plain', 'content-length', String(body.length)], 'raw');
      req.end(body);
      ex.finish();
      return;
    }
    if (cr.requestHeaders) applyOps(out, cr.requestHeaders.drop, cr.requestHeaders.append);
    const rw = route.rewrite;
    if (rw) {
      if (rw.uri !== undefined || cr.rewriteRegex) ex.path = rewritePath(ex.path, cr, m.matchedPrefix);
      if (rw.authority) for (let i = 0; i < out.length; i += 2) if (out[i]!.length === 4 && out[i]!.toLowerCase() === 'host') out[i + 1] = rw.authority;
    }
    if (!scan.requestId) out.push('x-request-id', ex.requestId);
    out.push(PEER_HEADER, this.#peerHeader);
    const stage = gen.stages.get(cr)!;
    this.#withBody(ex, (route.retries?.attempts ?? 0) > 0 || !!route.mirrors, stage);
  }

  /** Istio's PassthroughCluster for ALLOW_ANY: the Host header's own host:port, never this proxy's listeners. */
  #passthrough(gen: Generation, authority: string): ClusterRuntime | undefined {
    let c = gen.passthrough.get(authority);
    if (c) return c;
    const colon = authority.lastIndexOf(':');
    const hasPort = colon > 0 && authority.indexOf(']') < colon;
    const host = (hasPort ? authority.slice(0, colon) : authority).replace(/^\[|\]$/g, '').toLowerCase();
    const port = hasPort ? Number(authority.slice(colon + 1)) : 80;
    if (!host || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
    const loopback = host === 'localhost' || host.startsWith('127.') || host === '::1';
    if (loopback && Object.values(this.ports).includes(port)) return undefined; // would loop into ourselves
    if (gen.passthrough.size >= MAX_PASSTHROUGH_CLUSTERS) {
      for (const old of gen.passthrough.values()) old.stop();
      gen.passthrough.clear();
    }
    const cluster: Cluster = {
      name: 'PassthroughCluster',
      direction: 'outbound',
      service: host,
      serviceName: host,
      serviceNamespace: 'unknown',
      port,
      subset: '',
      protocol: 'HTTP',
      endpoints: [{ address: host, port, labels: {}, weight: 1, workload: 'unknown', namespace: 'unknown' }],
      lb: { type: 'ROUND_ROBIN' },
      connectionPool: { maxConnections: 0, maxPendingRequests: 0, maxRequests: 0, maxRequestsPerConnection: 0, maxRetries: 0, connectTimeoutMs: 10_000, idleTimeoutMs: 60_000 },
    };
    c = new ClusterRuntime(cluster, this.#pools, this.#opts.metrics ? this.#metrics : undefined, 'source', undefined);
    gen.passthrough.set(authority, c);
    return c;
  }

  #onInbound(req: InRequest): void {
    const gen = this.#gen!;
    this.#inflight++;
    const out: string[] = [];
    const scan = scanHeaders(req, out);
    const ex = new Exchange(this, req, 'destination');
    ex.headers = out;
    ex.requestBytes = Math.max(0, req.framing.length);
    // A caller without a sidecar sent none: the app gets one, as Envoy's inbound listener does.
    ex.requestId = scan.requestId || newRequestId();
    if (!scan.requestId) out.push('x-request-id', ex.requestId);
    if (this.#tracer) this.#tracer.inject(out, ex);
    if (!gen.inbound) {
      ex.localReply(503, 'NR', 'no inbound route: the proxy was started without --app-port');
      return;
    }
    ex.route = gen.inbound.route;
    ex.peer = scan.peer;
    this.#withBody(ex, false, gen.inbound.stage);
  }

  /** Decides how the request body travels: none, buffered (replayable for retries/mirrors) or streamed once. */
  #withBody(ex: Exchange, wantReplay: boolean, stage: Stage): void {
    const { length, chunked } = ex.req.framing;
    if (length <= 0 && !chunked) {
      ex.body = null;
      this.#hashKey(ex);
      stage(ex);
      return;
    }
    if (wantReplay && !chunked && length <= MAX_REPLAY_BODY) {
      ex.req.collectBody((body) => {
        if (ex.done) return;
        ex.body = body;
        this.#hashKey(ex);
        stage(ex);
      });
      return;
    }
    ex.body = ex.req;
    ex.replayable = false;
    this.#hashKey(ex);
    stage(ex);
  }

  #hashKey(ex: Exchange): void {
    // Only consistent-hash clusters need a key; which cluster is known after the weighted pick, so
    // the key is computed for every route whose first destination hashes (the common case).
    const dest = ex.route?.destinations[0];
    const lb = dest ? this.#gen!.clusters.get(dest.cluster)?.cluster.lb : undefined;
    if (!lb || lb.type !== 'CONSISTENT_HASH') return;
    if (lb.header) ex.hashKey = headerValue(ex.incoming[lb.header]);
    else if (lb.cookie) ex.hashKey = cookieValue(ex.incoming.cookie, lb.cookie);
    else if (lb.sourceIp) ex.hashKey = ex.req.remoteAddress;
    else if (lb.queryParam) {
      const q = ex.req.url.indexOf('?');
      ex.hashKey = q < 0 ? undefined : (new URLSearchParams(ex.req.url.slice(q + 1)).get(lb.queryParam) ?? undefined);
    }
  }

  // ---- admin, stats, health ----

  #onAdmin(req: InRequest): void {
    // Any local process can send any request target; one URL cannot parse ("https://[") is a 400,
    // not an exception that takes the sidecar down.
    if (!URL.canParse(req.url, 'http://admin')) return answer(req, 400, 'admin: the request target is not a URL path\n');
    const url = new URL(req.url, 'http://admin');
    const gen = this.#gen;
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8') => answer(req, status, body, type);
    switch (url.pathname) {
      case '/config_dump':
        return send(200, JSON.stringify(gen?.snapshot ?? null, null, 2) + '\n', 'application/json');
      case '/clusters': {
        const list = [...(gen?.clusters.values() ?? [])].map((c) => ({
          name: c.cluster.name,
          active: c.active,
          limit: Number.isFinite(c.limit) ? c.limit : null,
          lb: c.cluster.lb.type,
          endpoints: c.endpoints.map((e) => ({
            address: e.origin,
            health: e.ejectedUntil ? 'ejected' : 'healthy',
            ejectedForMs: e.ejectedUntil ? Math.max(0, e.ejectedUntil - Date.now()) : 0,
            ejections: e.ejections,
            active: e.active,
            consecutive5xx: e.consecutive5xx,
          })),
        }));
        if (url.searchParams.get('format') === 'json') return send(200, JSON.stringify(list, null, 2) + '\n', 'application/json');
        const lines = list.flatMap((c) => c.endpoints.map((e) => `${c.name}::${e.address.replace('http://', '')}::health_flags::${e.health === 'ejected' ? '/failed_outlier_check' : 'healthy'}::rq_active::${e.active}::ejections::${e.ejections}`));
        return send(200, lines.join('\n') + '\n');
      }
      case '/stats': {
        const t = this.#metrics.totals();
        const lines = [
          `meshctl.config_version: ${gen?.snapshot.version ?? ''}`,
          `meshctl.reloads: ${this.reloads}`,
          `meshctl.requests_active: ${this.#inflight}`,
          `meshctl.requests_total: ${t.requests}`,
          ...Object.entries(t.byFlag).map(([f, n]) => `meshctl.response_flags.${f}: ${n}`),
          ...(this.#tracer ? [`tracing.spans_exported: ${this.#tracer.exported}`, `tracing.spans_dropped: ${this.#tracer.dropped}`, `tracing.spans_buffered: ${this.#tracer.buffered}`] : []),
          `server.state: ${this.draining ? 'DRAINING' : 'LIVE'}`,
          ...(this.extraStats?.() ?? []),
          ...Object.entries(process.memoryUsage()).map(([k, v]) => `server.memory.${k}: ${v}`),
        ];
        return send(200, lines.join('\n') + '\n');
      }
      case '/stats/prometheus':
        return send(200, this.#metrics.render(), 'text/plain; version=0.0.4');
      case '/ready':
        return send(this.draining || !gen ? 503 : 200, this.draining ? 'DRAINING\n' : 'LIVE\n');
      case '/drain':
      case '/drain_listeners':
        if (req.method !== 'POST') return send(405, 'use POST\n');
        this.startDrain();
        return send(200, 'OK\n');
      default:
        return send(404, 'admin: /config_dump /clusters /stats /stats/prometheus /ready /drain (POST)\n');
    }
  }

  #onStats(req: InRequest): void {
    if (req.url.split('?')[0] !== '/stats/prometheus') return answer(req, 404, 'only /stats/prometheus here\n');
    answer(req, 200, this.#metrics.render(), 'text/plain; version=0.0.4');
  }

  #onHealth(req: InRequest): void {
    if (req.url.split('?')[0] !== '/healthz/ready') return answer(req, 404, 'only /healthz/ready here\n');
    const ok = !!this.#gen && !this.draining;
    answer(req, ok ? 200 : 503, ok ? 'ready\n' : 'draining\n');
  }

  /** Stop accepting on the traffic listeners; responses from now on say `connection: close`. */
  startDrain(): void {
    if (this.draining) return;
    this.draining = true;
    this.#outbound.startDrain();
    this.#inbound.startDrain();
  }

  /** Drains, waits up to `graceMs` for requests in flight, then closes everything. */
  async shutdown(graceMs: number): Promise<void> {
    this.startDrain();
    if (this.#expiryTimer) clearTimeout(this.#expiryTimer);
    if (this.#inflight > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, graceMs);
        this.#drained = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    for (const s of [this.#outbound, this.#inbound, ...this.#servers]) s.closeAll();
    for (const c of this.#gen?.clusters.values() ?? []) c.stop();
    await Promise.all([this.#pools.closeAll(), this.#tracer?.close(1000)]);
  }
}

/**
 * The admin, stats and health listeners' own timeouts: probes and scrapers are local and quick,
 * and `--header-timeout`/`--idle-timeout` are about the app's traffic (before these listeners left
 * node:http they did not apply to them either).
 */
const LOCAL_SERVER_OPTIONS = { headersTimeoutMs: 10_000, idleTimeoutMs: 60_000, streamIdleTimeoutMs: 300_000 };

/**
 * A whole local answer (admin, stats, health), after the request body, if any, has been read and
 * dropped: answered first, the client's body bytes would meet a closed connection and the reset
 * would lose the answer (POST /drain with a body did drain, and the caller saw a failure).
 */
function answer(req: InRequest, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  if (!req.bodyDone) return req.readBody(noop, () => answer(req, status, body, type));
  const bytes = Buffer.from(body);
  req.writeHead(status, ['content-type', type, 'content-length', String(bytes.length)], 'raw');
  req.end(bytes);
}

interface HeaderScan {
  /** `x-request-id` as received ('' when absent), so the hot path never builds `req.headers`. */
  requestId: string;
  /** `x-meshctl-peer` as received ('' when absent); never forwarded, each proxy sets its own. */
  peer: string;
}

/**
 * One pass over the raw request headers: copies them to `out` minus hop-by-hop ones and picks up what
 * routing needs. Only names of a length that could matter are lower-cased. Framing (length, chunked,
 * Host) was validated when the head was parsed (http1/head.ts framingOf).
 */
function scanHeaders(req: InRequest, out: string[]): HeaderScan {
  const raw = req.raw;
  const tokens = req.framing.connectionTokens;
  const authority = req.authority;
  let requestId = '';
  let peer = '';
  let hasHost = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    let value = raw[i + 1]!;
    const n = name.length;
    if (isHopByHopRaw(name)) continue;
    // Fields the client named in `Connection` are hop-by-hop too (RFC 9110 7.6.1).
    if (tokens && tokens.includes(name.toLowerCase())) continue;
    if (n === 4 && name.toLowerCase() === 'host') {
      value = authority; // an absolute-form target's authority wins
      hasHost = true;
    }
    else if (n === 14) {
      if (name.toLowerCase() === PEER_HEADER) {
        peer = value;
        continue;
      }
    } else if (n === 12 && name.toLowerCase() === 'x-request-id') {
      // One id per request: an empty or repeated x-request-id is dropped (a fresh one replaces an empty one).
      if (requestId !== '' || value === '') continue;
      requestId = value;
    }
    out.push(name, value);
  }
  // HTTP/1.0 may come without Host; upstream is spoken to in HTTP/1.1, which needs one.
  if (!hasHost && authority !== '') out.push('host', authority);
  return { requestId, peer };
}

function rewritePath(url: string, cr: CompiledRoute, matchedPrefix: string | undefined): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q);
  const rw = cr.route.rewrite!;
  if (cr.rewriteRegex) return path.replace(cr.rewriteRegex, cr.rewriteRegexReplacement) + query;
  // Envoy's prefix_rewrite: the matched prefix (or exact path) is replaced; without one, the leading "/".
  const prefix = matchedPrefix !== undefined && path.startsWith(matchedPrefix) ? matchedPrefix : '/';
  return rw.uri + path.slice(prefix.length) + query;
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
