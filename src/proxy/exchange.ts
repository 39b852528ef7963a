import type { IncomingHttpHeaders } from 'node:http';
import type { RetryPolicy } from '../core/compile/snapshot.js';
import type { ResponseSink, UpstreamCall, UpstreamError } from './http1/client.js';
import type { InRequest } from './http1/server.js';
import type { Flag } from './metrics.js';
import type { DestinationStats } from './metrics.js';
import { RouteTable, type CompiledDestination, type CompiledRoute } from './router.js';
import type { ClusterRuntime, EndpointState } from './upstream.js';

/**
 * One request through the proxy: the route's stages (composed once per route when a snapshot
 * loads), then attempts to upstream endpoints with timeout, retry and outlier bookkeeping, then the
 * response streamed straight back. One Exchange and one Attempt object per request; no closures on
 * the common path (timers and socket callbacks get the exchange as an argument).
 */

/** What an Exchange needs from the proxy that owns it. */
export interface ExchangeHost {
  readonly draining: boolean;
  clusters: Map<string, ClusterRuntime>;
  /** Records for requests that never reached an endpoint (NR, UH, UO, FI ...), per cluster or none. */
  localStats(cluster: ClusterRuntime | undefined): DestinationStats | undefined;
  finished(ex: Exchange): void;
}

export type Stage = (ex: Exchange) => void;
export type Interceptor = (next: Stage) => Stage;

/** Largest request body buffered so that retries and mirrors can replay it; larger bodies stream once. */
export const MAX_REPLAY_BODY = 64 * 1024;

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

export class Exchange {
  readonly start = performance.now();
  route: CompiledRoute | undefined;
  destination: CompiledDestination | undefined;
  cluster: ClusterRuntime | undefined;
  endpoint: EndpointState | undefined;
  /** Outgoing request headers, flat [name, value, ...]: what goes upstream. */
  headers: string[] = [];
  path: string;
  /** A buffered body (replayable), the downstream request streaming its body once, or none. */
  body: Buffer | InRequest | null = null;
  replayable = true;
  requestBytes = 0;
  responseBytes = 0;
  status = 0;
  flag: Flag = '-';
  attempts = 0;
  retriesLeft = 0;
  attempt: Attempt | undefined;
  /** Counted in the cluster's outstanding retries until the exchange finishes. */
  retrying = false;
  done = false;
  hashKey: string | undefined;
  requestId = '';
  /** Trace context when tracing is on: this proxy's span, its parent ('' for a new trace). */
  traceId = '';
  spanId = '';
  parentSpanId = '';
  sampled = false;
  /** Inbound: the caller's `x-meshctl-peer` ('' when it did not say). */
  peer = '';
  routeTimer: NodeJS.Timeout | undefined;
  waitTimer: NodeJS.Timeout | undefined;

  #incoming: IncomingHttpHeaders | undefined;

  constructor(
    readonly host: ExchangeHost,
    readonly req: InRequest,
    readonly reporter: 'source' | 'destination',
  ) {
    this.path = req.url;
    req.owner = this;
    req.onClose = onDownstreamClose;
  }

  // RequestView for the route matchers: the Exchange itself, so matching allocates nothing.
  get method(): string {
    return this.req.method;
  }
  get url(): string {
    return this.req.url;
  }
  get authority(): string {
    return this.req.authority;
  }
  /** Lower-cased header object, built on first use (only header matches and hashing need it). */
  get incoming(): IncomingHttpHeaders {
    return (this.#incoming ??= headerObject(this.req.raw));
  }

  /** A response head has gone downstream: nothing can be retried or answered locally any more. */
  get committed(): boolean {
    return this.req.headersSent;
  }

  get retries(): RetryPolicy | undefined {
    return this.route?.route.retries;
  }

  /** Answers from the proxy itself: a clear body naming the flag and the reason. */
  localReply(status: number, flag: Flag, reason: string): void {
    if (this.done) return;
    this.flag = flag;
    this.status = status;
    if (this.committed) {
      this.req.destroy();
    } else {
      const body = Buffer.from(`meshctl proxy: ${status} ${flag === '-' ? '' : flag + ' '}${reason}\n`);
      this.responseBytes = body.length;
      this.req.writeHead(status, ['content-type', 'text/plain; charset=utf-8', 'content-length', String(body.length), 'x-meshctl-flags', flag], 'raw');
      this.req.end(body);
    }
    this.finish();
  }

  finish(): void {
    if (this.done) return;
    this.done = true;
    if (this.retrying) this.cluster!.retrying--;
    if (this.routeTimer) clearTimeout(this.routeTimer);
    if (this.waitTimer) clearTimeout(this.waitTimer);
    this.host.finished(this);
  }

  /** Sends the next attempt, or answers 503 UH when the cluster has no healthy endpoint. */
  send(): void {
    const cluster = this.cluster!;
    // Istio configures Envoy's previous_hosts retry predicate: a retry tries another endpoint if it can.
    const ep = this.attempts > 0 && this.endpoint && this.hashKey === undefined ? cluster.pickOther(this.endpoint) : cluster.pick(this.hashKey);
    if (!ep || cluster.active >= cluster.limit) this.endpoint = undefined; // the local reply is not that endpoint's
    if (!ep) {
      this.localReply(503, 'UH', `no healthy upstream: every endpoint of ${cluster.cluster.name} is ejected or there are none`);
      return;
    }
    if (cluster.active >= cluster.limit) {
      this.localReply(503, 'UO', `upstream overflow: ${cluster.cluster.name} has ${cluster.active} requests in flight, the connectionPool limit is ${cluster.limit}`);
      return;
    }
    this.endpoint = ep;
    this.attempts++;
    const a = new Attempt(this, ep);
    this.attempt = a;
    cluster.active++;
    ep.active++;
    const perTry = this.retries?.perTryTimeoutMs ?? 0;
    if (perTry > 0) a.timer = setTimeout(onTryTimeout, perTry, a);
    a.call = ep.pool.request(this.req.method, this.path, this.headers, this.body, a);
  }

  /** Whether a failed attempt may be retried, and by which retryOn condition. */
  canRetry(status: number, kind: 'status' | 'connect' | 'reset' | 'timeout'): boolean {
    if (this.retriesLeft <= 0 || this.done || this.committed || !this.replayable) return false;
    // DestinationRule connectionPool.http.maxRetries: outstanding retries per cluster (Envoy's retry circuit breaker).
    const c = this.cluster;
    if (c && !this.retrying && c.cluster.connectionPool.maxRetries > 0 && c.retrying >= c.cluster.connectionPool.maxRetries) return false;
    return this.policyRetries(status, kind);
  }

  /** The retry policy's verdict alone, budget aside: a final response it covers is flagged URX. */
  policyRetries(status: number, kind: 'status' | 'connect' | 'reset' | 'timeout'): boolean {
    const p = this.retries;
    if (!p || p.attempts <= 0) return false;
    // Only connect failures are safe for every method: the request never left.
    if (kind !== 'connect' && !p.nonIdempotent && !IDEMPOTENT.has(this.req.method)) return false;
    const on = p.retryOn;
    switch (kind) {
      case 'connect':
        return on.includes('connect-failure') || on.includes('5xx') || on.includes('gateway-error') || on.includes('reset');
      case 'reset':
        return on.includes('reset') || on.includes('5xx');
      case 'timeout':
        return on.includes('5xx') || on.includes('gateway-error') || on.includes('reset');
      default:
        return (
          (status >= 500 && on.includes('5xx')) ||
          ((status === 502 || status === 503 || status === 504) && on.includes('gateway-error')) ||
          (status === 409 && on.includes('retriable-4xx')) ||
          (on.includes('retriable-status-codes') && p.retriableStatusCodes.includes(status))
        );
    }
  }

  /** Jittered exponential backoff (Envoy: random in [0, base * (2^n - 1)], capped at 10x base). */
  retry(): void {
    this.retriesLeft--;
    if (!this.retrying && this.cluster) {
      this.retrying = true;
      this.cluster.retrying++;
    }
    const base = this.retries?.backoffBaseMs ?? 25;
    const ms = Math.random() * Math.min(base * (2 ** this.attempts - 1), base * 10);
    this.waitTimer = setTimeout(onBackoffDone, ms, this);
  }

  /** The downstream response head: upstream's minus hop-by-hop fields, with the route's header ops. */
  writeHead(status: number, raw: string[], framing: 'raw' | 'chunked' | 'close', connectionTokens: string[] | null): void {
    const rd = this.route?.responseHeaders;
    const dd = this.destination?.responseHeaders;
    const drops = (rd !== undefined && rd.drop.size > 0) || (dd !== undefined && dd.drop.size > 0);
    const out: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const k = raw[i]!;
      if (isHopByHopRaw(k)) continue;
      if (drops || connectionTokens) {
        const lower = k.toLowerCase();
        if ((rd && rd.drop.has(lower)) || (dd && dd.drop.has(lower)) || connectionTokens?.includes(lower)) continue;
      }
      out.push(k, raw[i + 1]!);
    }
    if (rd) for (const x of rd.append) out.push(x);
    if (dd) for (const x of dd.append) out.push(x);
    this.status = status;
    this.req.writeHead(status, out, framing);
  }
}

/** One try against one endpoint: the upstream call's response sink. A stale attempt (retried or timed out) is ignored. */
export class Attempt implements ResponseSink {
  call: UpstreamCall | undefined;
  timer: NodeJS.Timeout | undefined;
  /** The response is retriable and will be retried: its body is read and dropped. */
  discarding = false;
  discardStatus = 0;
  started = false;
  ended = false;
  abortedFor: 'timeout' | 'try-timeout' | 'downstream' | undefined;

  constructor(
    readonly ex: Exchange,
    readonly ep: EndpointState,
  ) {}

  #current(): boolean {
    return this.ex.attempt === this && !this.ex.done;
  }

  onHead(statusCode: number, raw: string[], framing: 'raw' | 'chunked' | 'close', connectionTokens: string[] | null): void {
    if (!this.#current()) {
      this.call?.abort();
      return;
    }
    this.started = true;
    const ex = this.ex;
    ex.cluster!.report(this.ep, statusCode);
    if (ex.canRetry(statusCode, 'status')) {
      this.discarding = true;
      this.discardStatus = statusCode;
      return;
    }
    if (ex.attempts > 1 && ex.policyRetries(statusCode, 'status')) ex.flag = 'URX';
    ex.writeHead(statusCode, raw, framing, connectionTokens);
  }

  onData(chunk: Buffer): void {
    if (this.discarding || !this.#current()) return;
    const ex = this.ex;
    ex.responseBytes += chunk.length;
    if (!ex.req.write(chunk)) {
      // The client reads slower than upstream sends: stop reading upstream until its socket drains.
      this.call?.pause();
      ex.req.onDrain = onDownstreamDrain;
    }
  }

  onEnd(): void {
    this.#release();
    if (!this.#current()) return;
    const ex = this.ex;
    if (this.discarding) {
      ex.retry();
      return;
    }
    ex.req.end();
    ex.finish();
  }

  onError(err: UpstreamError): void {
    this.#release();
    if (!this.#current()) return;
    const ex = this.ex;
    if (this.abortedFor === 'downstream') return; // finished by onDownstreamClose
    if (this.abortedFor === 'timeout') {
      ex.localReply(504, 'UT', `upstream request timeout after ${ex.route?.route.timeoutMs} ms (${ex.cluster?.cluster.name})`);
      return;
    }
    if (this.discarding) {
      // The retriable response broke while being dropped: retry anyway, it was going to be retried.
      ex.retry();
      return;
    }
    const tryTimeout = this.abortedFor === 'try-timeout';
    const connect = !this.started && err.phase === 'connect';
    ex.cluster!.report(this.ep, tryTimeout ? 504 : 0);
    if (!this.started) {
      const kind = tryTimeout ? 'timeout' : connect ? 'connect' : 'reset';
      if (ex.canRetry(0, kind)) {
        ex.retry();
        return;
      }
    }
    const name = ex.cluster!.cluster.name;
    const tries = ex.attempts > 1 ? ` after ${ex.attempts} tries` : '';
    if (tryTimeout) ex.localReply(504, ex.attempts > 1 ? 'URX' : 'UT', `upstream per-try timeout of ${ex.retries?.perTryTimeoutMs} ms${tries} (${name} ${this.ep.origin})`);
    else if (connect) ex.localReply(503, ex.attempts > 1 ? 'URX' : 'UF', `upstream connect error${tries}: ${errText(err)} (${name} ${this.ep.origin})`);
    else if (!this.started && err.phase === 'protocol') ex.localReply(502, 'UPE', `upstream protocol error${tries}: ${errText(err)} (${name} ${this.ep.origin})`);
    else if (!this.started) ex.localReply(503, ex.attempts > 1 ? 'URX' : 'UC', `upstream reset before response headers${tries}: ${errText(err)} (${name} ${this.ep.origin})`);
    else {
      // Mid-body: the status is already sent, so the only honest signal left is to cut the connection.
      ex.flag = err.phase === 'protocol' ? 'UPE' : 'UC';
      ex.req.destroy();
      ex.finish();
    }
  }

  #release(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    const c = this.ex.cluster!;
    c.active--;
    this.ep.active--;
  }
}

/** What an attempt the proxy aborted itself (timeout, client gone) fails with; `abortedFor` says which. */
const ABORTED = { phase: 'reset', message: 'aborted by the proxy', code: 'ECANCELED' } as UpstreamError;

function onTryTimeout(a: Attempt): void {
  if (a.ended || a.ex.attempt !== a) return;
  a.abortedFor = 'try-timeout';
  // An aborted call reports nothing more: the attempt fails here, as if upstream had reset.
  a.call?.abort();
  a.onError(ABORTED);
}

export function onRouteTimeout(ex: Exchange): void {
  if (ex.done) return;
  const a = ex.attempt;
  if (a && !a.ended) {
    a.abortedFor = 'timeout';
    a.call?.abort();
    a.onError(ABORTED);
    if (ex.done) return;
  }
  ex.localReply(504, 'UT', `upstream request timeout after ${ex.route?.route.timeoutMs} ms (${ex.cluster?.cluster.name})`);
}

function onBackoffDone(ex: Exchange): void {
  ex.waitTimer = undefined;
  if (!ex.done) ex.send();
}

function onDownstreamClose(req: InRequest): void {
  const ex = req.owner as Exchange;
  if (ex.done) return;
  // The client went away before the response finished: stop the upstream request too (Envoy's DC).
  ex.flag = 'DC';
  if (!ex.committed) ex.status = 0;
  const a = ex.attempt;
  if (a && !a.ended) {
    a.abortedFor = 'downstream';
    a.call?.abort();
    a.onError(ABORTED);
  }
  ex.finish();
}

function onDownstreamDrain(req: InRequest): void {
  req.onDrain = null;
  (req.owner as Exchange).attempt?.call?.resume();
}

function errText(err: UpstreamError): string {
  return err.code ? `${err.code} ${err.message}` : err.message;
}

/** Node's lower-cased header object from raw pairs: repeated fields joined (cookie with "; "), for the route matchers. */
function headerObject(raw: string[]): IncomingHttpHeaders {
  const h: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    const v = raw[i + 1]!;
    const prev = h[k];
    h[k] = prev === undefined ? v : `${prev}${k === 'cookie' ? '; ' : ', '}${v}`;
  }
  return h;
}

/** Hop-by-hop headers (RFC 9110 7.6.1) plus `expect`, which the proxy answers itself. Lower-case input. */
export function isHopByHop(k: string): boolean {
  switch (k.length) {
    case 2:
      return k === 'te';
    case 6:
      return k === 'expect';
    case 7:
      return k === 'trailer' || k === 'upgrade';
    case 10:
      return k === 'connection' || k === 'keep-alive';
    case 16:
      return k === 'proxy-connection';
    case 17:
      return k === 'transfer-encoding';
    default:
      return false;
  }
}

/** Same check on a raw (any-case) header name, lower-casing only names of a hop-by-hop length. */
export function isHopByHopRaw(k: string): boolean {
  const n = k.length;
  if (n !== 2 && n !== 6 && n !== 7 && n !== 10 && n !== 16 && n !== 17) return false;
  return isHopByHop(k.toLowerCase());
}

// ---- stages, composed per route when a snapshot loads ----

/** Terminal stage: pick a destination by weight, set up timeout and retries, send. */
export const upstreamStage: Stage = (ex) => {
  const route = ex.route!;
  const dest = RouteTable.pick(route, Math.random());
  const cluster = dest ? ex.host.clusters.get(dest.cluster) : undefined;
  if (!dest || !cluster) {
    ex.localReply(503, 'NR', `no route: ${dest ? `cluster ${dest.cluster} is not known (no service or subset for it)` : 'every destination has weight 0'} (route ${route.route.name})`);
    return;
  }
  ex.destination = dest;
  ex.cluster = cluster;
  if (dest.requestHeaders) applyOps(ex.headers, dest.requestHeaders.drop, dest.requestHeaders.append);
  ex.retriesLeft = ex.replayable ? (route.route.retries?.attempts ?? 0) : 0;
  if (route.route.timeoutMs > 0) ex.routeTimer = setTimeout(onRouteTimeout, route.route.timeoutMs, ex);
  ex.send();
};

export function faultInterceptor(route: CompiledRoute): Interceptor | undefined {
  const f = route.route.fault;
  if (!f) return undefined;
  return (next) => {
    const abort: Stage = (ex) => {
      if (f.abort && Math.random() * 100 < f.abort.percent) {
        ex.localReply(f.abort.httpStatus, 'FI', `fault filter abort (VirtualService fault.abort on route ${route.route.name})`);
        return;
      }
      next(ex);
    };
    if (!f.delay) return abort;
    const delay = f.delay;
    return (ex) => {
      if (Math.random() * 100 < delay.percent) {
        ex.flag = 'DI';
        ex.waitTimer = setTimeout(afterDelay, delay.fixedDelayMs, ex, abort);
        return;
      }
      abort(ex);
    };
  };
}

function afterDelay(ex: Exchange, next: Stage): void {
  ex.waitTimer = undefined;
  if (!ex.done) next(ex);
}

const NOOP_SINK: ResponseSink = {
  onHead() {},
  onData() {},
  onEnd() {},
  onError() {},
};

export function mirrorInterceptor(route: CompiledRoute): Interceptor | undefined {
  const mirrors = route.route.mirrors;
  if (!mirrors?.length) return undefined;
  return (next) => (ex) => {
    for (const m of mirrors) {
      if (m.percent < 100 && Math.random() * 100 >= m.percent) continue;
      if (!ex.replayable) continue; // a streamed body can be read once; the primary gets it
      const c = ex.host.clusters.get(m.cluster);
      const ep = c?.pick(undefined);
      if (!ep) continue;
      // Fire and forget, as Envoy's shadowing: Host gets "-shadow", the answer is dropped.
      const headers = ex.headers.slice();
      for (let i = 0; i < headers.length; i += 2) if (headers[i] === 'host') headers[i + 1] = headers[i + 1] + '-shadow';
      try {
        ep.pool.request(ex.req.method, ex.path, headers, ex.body as Buffer | null, NOOP_SINK);
      } catch {
        // A mirror never affects the primary request.
      }
    }
    next(ex);
  };
}

/** Composes a route's stages once: fault -> mirror -> upstream. */
export function composeRoute(route: CompiledRoute): Stage {
  const interceptors = [faultInterceptor(route), mirrorInterceptor(route)].filter((i): i is Interceptor => !!i);
  let stage = upstreamStage;
  for (let i = interceptors.length - 1; i >= 0; i--) stage = interceptors[i]!(stage);
  return stage;
}

/** Removes dropped names from a flat header list, then appends pairs. Names in `drop` are lower-case. */
export function applyOps(headers: string[], drop: Set<string>, append: string[]): void {
  if (drop.size) {
    let w = 0;
    for (let i = 0; i < headers.length; i += 2) {
      if (drop.has(headers[i]!.toLowerCase())) continue;
      headers[w++] = headers[i]!;
      headers[w++] = headers[i + 1]!;
    }
    headers.length = w;
  }
  for (const x of append) headers.push(x);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * A version 4 UUID for `x-request-id`. Envoy's are not cryptographic either (a per-thread PRNG): an
 * id must be unique, not unguessable, and V8's Math.random (xorshift128+) gives 122 random bits in
 * four calls without loading node:crypto (~3 MB of RSS for a sidecar that needs it for nothing else).
 */
export function newRequestId(): string {
  const a = (Math.random() * 0x100000000) >>> 0;
  const b = (Math.random() * 0x100000000) >>> 0;
  const c = (Math.random() * 0x100000000) >>> 0;
  const d = (Math.random() * 0x100000000) >>> 0;
  return (
    HEX[a >>> 24]! + HEX[(a >>> 16) & 0xff]! + HEX[(a >>> 8) & 0xff]! + HEX[a & 0xff]! + '-' +
    HEX[b >>> 24]! + HEX[(b >>> 16) & 0xff]! + '-' +
    HEX[0x40 | ((b >>> 8) & 0x0f)]! + HEX[b & 0xff]! + '-' +
    HEX[0x80 | ((c >>> 24) & 0x3f)]! + HEX[(c >>> 16) & 0xff]! + '-' +
    HEX[(c >>> 8) & 0xff]! + HEX[c & 0xff]! + HEX[d >>> 24]! + HEX[(d >>> 16) & 0xff]! + HEX[(d >>> 8) & 0xff]! + HEX[d & 0xff]!
  );
}
