import type { Agent } from 'node:http';

// The exporter's HTTP client is loaded only when tracing is on (getBuiltinModule is synchronous):
// node:http costs a sidecar ~1.25 MB of idle RSS, node:https (tls) ~2.7 MB more, and a proxy
// without a collector needs neither (its own traffic runs on src/proxy/http1).
const httpClient = (url: URL) => process.getBuiltinModule(url.protocol === 'https:' ? 'node:https' : 'node:http');

/**
 * Distributed tracing as Envoy does it in an Istio sidecar: every request gets a span of this proxy
 * (CLIENT on outbound, SERVER on inbound). The caller's context (W3C `traceparent`, else B3 multi
 * headers, else B3 single `b3`) is the parent; without one the proxy starts a trace. Upstream gets
 * the context with this proxy's span as parent, in both W3C and B3 form.
 *
 * Spans go to an OTLP/HTTP collector (JSON encoding, POST /v1/traces) off the hot path: the request
 * only pushes a small record into a bounded array; a timer (or a full batch) serialises and posts
 * it, one post at a time. A full buffer or a failed post drops spans and counts them; a request never
 * waits for, or fails because of, the collector.
 */

/** What the tracer reads from a finished request (the Exchange satisfies it). */
export interface TracedRequest {
  readonly start: number;
  readonly reporter: 'source' | 'destination';
  readonly authority: string;
  readonly req: { method?: string | undefined; url?: string | undefined };
  traceId: string;
  spanId: string;
  parentSpanId: string;
  sampled: boolean;
  status: number;
  flag: string;
  requestId: string;
  requestBytes: number;
  responseBytes: number;
  readonly cluster: { cluster: { name: string } } | undefined;
  readonly endpoint: { origin: string } | undefined;
}

export interface TracerOptions {
  /** Collector URL: `http://host:4318` (the /v1/traces path is added) or the full traces URL. */
  endpoint: string;
  /** OTLP resource `service.name`: Istio names a workload's spans `<canonical service>.<namespace>`. */
  serviceName: string;
  namespace: string;
  canonicalService: string;
  /** Percent of new traces sampled (a caller's sampling decision is kept). */
  samplingPercent: number;
  flushMs?: number;
  /** Spans held while the collector is slow or down; beyond it spans are dropped and counted. */
  maxBuffer?: number;
  /** Spans per post; a full batch is posted without waiting for the timer. */
  batchSize?: number;
  timeoutMs?: number;
}

/** A finished span as the hot path leaves it: flat fields, turned into OTLP JSON only when posted. */
interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  kind: 2 | 3;
  /** The span name is `<authority>/*`, as Envoy's operation name in Istio; built when posted. */
  authority: string;
  startMs: number;
  endMs: number;
  method: string;
  url: string;
  status: number;
  flag: string;
  cluster: string;
  upstream: string;
  requestId: string;
  requestBytes: number;
  responseBytes: number;
}

// Random ids from a pooled buffer refilled 4 KiB at a time: one randomFillSync per ~170 requests
// instead of a crypto call (and a Buffer) per id.
const POOL = Buffer.allocUnsafe(4096);
let poolOffset = POOL.length;
function randomHex(bytes: number): string {
  if (poolOffset + bytes > POOL.length) {
    // Loaded on first use: only a proxy with tracing on needs it (node:crypto alone is ~3 MB of RSS).
    process.getBuiltinModule('node:crypto').randomFillSync(POOL);
    poolOffset = 0;
  }
  const s = POOL.toString('hex', poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return s;
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const HEX16 = /^[0-9a-f]{16}$/;
const HEX16OR32 = /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/;
const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

export class Tracer {
  exported = 0;
  dropped = 0;
  readonly #opts: Required<TracerOptions>;
  readonly #url: URL;
  readonly #agent: Agent;
  #buffer: SpanRecord[] = [];
  #posting: Promise<void> | undefined;
  #flushSoon = false;
  readonly #timer: NodeJS.Timeout;

  constructor(opts: TracerOptions) {
    this.#opts = { flushMs: 1000, maxBuffer: 2048, batchSize: 512, timeoutMs: 5000, ...opts };
    this.#url = tracesUrl(opts.endpoint);
    this.#agent = new (httpClient(this.#url).Agent)({ keepAlive: true, maxSockets: 1 });
    this.#timer = setInterval(() => void this.flush(), this.#opts.flushMs);
    this.#timer.unref();
  }

  get buffered(): number {
    return this.#buffer.length;
  }

  /**
   * Takes the caller's trace context out of the outgoing header list `headers` (flat [name, value]),
   * sets the request's ids, and appends the context upstream should see. `tracestate` passes as is.
   */
  inject(headers: string[], r: TracedRequest): void {
    let tp = '';
    let b3Trace = '';
    let b3Span = '';
    let b3Sampled = '';
    let b3Flags = '';
    let b3 = '';
    let w = 0;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const n = name.length;
      // Only names of a trace-header length are lower-cased (traceparent/x-b3-spanid 11, x-b3-traceid/
      // x-b3-sampled 12, x-b3-parentspanid 17, x-b3-flags 10, b3 2).
      if (n === 2 || n === 10 || n === 11 || n === 12 || n === 17) {
        const lower = name.toLowerCase();
        const v = headers[i + 1]!;
        let trace = true;
        if (lower === 'traceparent') tp = v;
        else if (lower === 'x-b3-traceid') b3Trace = v;
        else if (lower === 'x-b3-spanid') b3Span = v;
        else if (lower === 'x-b3-sampled') b3Sampled = v;
        else if (lower === 'x-b3-flags') b3Flags = v;
        else if (lower === 'b3') b3 = v;
        else if (lower !== 'x-b3-parentspanid') trace = false; // x-b3-parentspanid: this proxy sets its own
        if (trace) continue;
      }
      if (w !== i) {
        headers[w] = name;
        headers[w + 1] = headers[i + 1]!;
      }
      w += 2;
    }
    headers.length = w;

    let traceId = '';
    let parent = '';
    let sampled: boolean | undefined;
    const m = tp ? TRACEPARENT.exec(tp.toLowerCase()) : null;
    if (m && m[1] !== ZERO_TRACE && m[2] !== ZERO_SPAN) {
      traceId = m[1]!;
      parent = m[2]!;
      sampled = (parseInt(m[3]!, 16) & 1) === 1;
    } else if (b3Trace && HEX16OR32.test(b3Trace.toLowerCase())) {
      traceId = b3Trace.toLowerCase().padStart(32, '0');
      if (HEX16.test(b3Span.toLowerCase())) parent = b3Span.toLowerCase();
      sampled = b3Flags === '1' || b3Sampled === '1' || b3Sampled === 'true' ? true : b3Sampled === '0' || b3Sampled === 'false' ? false : undefined;
    } else if (b3) {
      // b3: {traceid}-{spanid}[-{sampled}[-{parent}]] or a lone sampling state (0, 1, d).
      const parts = b3.toLowerCase().split('-');
      if (parts.length >= 2 && HEX16OR32.test(parts[0]!) && HEX16.test(parts[1]!)) {
        traceId = parts[0]!.padStart(32, '0');
        parent = parts[1]!;
      }
      const s = parts.length === 1 ? parts[0] : parts[2];
      if (s === '1' || s === 'd') sampled = true;
      else if (s === '0') sampled = false;
    }
    if (traceId === '' || traceId === ZERO_TRACE) {
      traceId = randomHex(16);
      parent = '';
    }
    if (sampled === undefined) sampled = this.#opts.samplingPercent >= 100 || Math.random() * 100 < this.#opts.samplingPercent;
    const spanId = randomHex(8);
    r.traceId = traceId;
    r.spanId = spanId;
    r.parentSpanId = parent;
    r.sampled = sampled;
    const flag = sampled ? '1' : '0';
    headers.push('traceparent', `00-${traceId}-${spanId}-0${flag}`, 'x-b3-traceid', traceId, 'x-b3-spanid', spanId, 'x-b3-sampled', flag);
    if (parent) headers.push('x-b3-parentspanid', parent);
  }

  /** Called when a traced request finishes: buffers its span (sampled ones only). */
  finished(r: TracedRequest, endMs: number): void {
    if (!r.sampled || r.traceId === '') return;
    if (this.#buffer.length >= this.#opts.maxBuffer) {
      this.dropped++;
      return;
    }
    this.#buffer.push({
      traceId: r.traceId,
      spanId: r.spanId,
      parentSpanId: r.parentSpanId,
      kind: r.reporter === 'source' ? 3 : 2,
      authority: r.authority,
      startMs: r.start,
      endMs,
      method: r.req.method ?? '',
      url: r.req.url ?? '/',
      status: r.status,
      flag: r.flag,
      cluster: r.cluster?.cluster.name ?? '',
      upstream: r.endpoint?.origin ?? '',
      requestId: r.requestId,
      requestBytes: r.requestBytes,
      responseBytes: r.responseBytes,
    });
    if (this.#buffer.length >= this.#opts.batchSize && !this.#posting && !this.#flushSoon) {
      this.#flushSoon = true;
      setImmediate(() => {
        this.#flushSoon = false;
        void this.flush();
      });
    }
  }

  /** Posts what is buffered (one post at a time; a post in flight is waited for, not doubled). */
  flush(): Promise<void> {
    if (this.#posting) return this.#posting;
    if (this.#buffer.length === 0) return Promise.resolve();
    const batch = this.#buffer.length > this.#opts.batchSize ? this.#buffer.splice(0, this.#opts.batchSize) : this.#buffer;
    if (batch === this.#buffer) this.#buffer = [];
    this.#posting = this.#post(batch).finally(() => {
      this.#posting = undefined;
    });
    return this.#posting;
  }

  /** Final flush on shutdown, bounded by `graceMs`; whatever is still buffered then is dropped. */
  async close(graceMs: number): Promise<void> {
    clearInterval(this.#timer);
    const deadline = Date.now() + graceMs;
    while ((this.#buffer.length > 0 || this.#posting) && Date.now() < deadline) {
      await Promise.race([this.flush(), new Promise((r) => setTimeout(r, Math.max(1, deadline - Date.now())))]);
    }
    this.dropped += this.#buffer.length;
    this.#buffer = [];
    this.#agent.destroy();
  }

  #post(batch: SpanRecord[]): Promise<void> {
    // One UTF-8 encoding pass: a string body would be scanned for its length and again when written.
    const body = Buffer.from(this.#otlp(batch));
    const { request } = httpClient(this.#url);
    return new Promise<void>((resolve) => {
      let settled = false;
      const done = (ok: boolean) => {
        if (settled) return;
        settled = true;
        if (ok) this.exported += batch.length;
        else this.dropped += batch.length;
        resolve();
      };
      const req = request(this.#url, { method: 'POST', agent: this.#agent, timeout: this.#opts.timeoutMs, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
        res.resume();
        res.on('end', () => done((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300));
        res.on('error', () => done(false));
      });
      req.on('timeout', () => req.destroy(new Error('OTLP collector timeout')));
      req.on('error', () => done(false));
      req.end(body);
    });
  }

  /**
   * OTLP/HTTP JSON (ExportTraceServiceRequest), written as a string: building objects for
   * JSON.stringify cost about twice as much per span. Ids are hex this proxy made or validated;
   * every string that came from a request goes through JSON.stringify.
   */
  #otlp(batch: SpanRecord[]): string {
    const o = this.#opts;
    const spans: string[] = [];
    for (const s of batch) {
      const error = s.status >= 500 || s.status === 0;
      spans.push(
        `{"traceId":"${s.traceId}","spanId":"${s.spanId}",${s.parentSpanId ? `"parentSpanId":"${s.parentSpanId}",` : ''}"name":${q(s.authority + '/*')},"kind":${s.kind},` +
          `"startTimeUnixNano":"${unixNano(s.startMs)}","endTimeUnixNano":"${unixNano(s.endMs)}","attributes":[` +
          // OpenTelemetry's HTTP names, plus the Envoy tags Istio users search by.
          `${str('http.request.method', s.method)},${str('url.path', s.url)},${int('http.response.status_code', s.status)},${str('server.address', s.authority)},` +
          `${str('upstream_cluster', s.cluster)},${str('upstream_address', s.upstream)},${str('response_flags', s.flag)},${str('guid:x-request-id', s.requestId)},` +
          `${int('request_size', s.requestBytes)},${int('response_size', s.responseBytes)}],` +
          // Envoy marks a span as an error for 5xx and for no response at all.
          `"status":${error ? `{"code":2,"message":${q(s.flag === '-' ? `HTTP ${s.status}` : s.flag)}}` : '{}'}}`,
      );
    }
    const resource = [str('service.name', o.serviceName), str('service.namespace', o.namespace), str('istio.canonical_service', o.canonicalService), str('istio.namespace', o.namespace)].join(',');
    return `{"resourceSpans":[{"resource":{"attributes":[${resource}]},"scopeSpans":[{"scope":{"name":"meshctl-proxy"},"spans":[${spans.join(',')}]}]}]}`;
  }
}

/** `http://collector:4318` -> `http://collector:4318/v1/traces`; a URL with a path is used as is. */
export function tracesUrl(endpoint: string): URL {
  const u = new URL(endpoint);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`${endpoint} is not an http(s) URL`);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1/traces';
  return u;
}

/** performance.now() milliseconds -> Unix nanoseconds as OTLP JSON wants them (a decimal string, beyond 2^53). */
function unixNano(perfMs: number): string {
  const ms = performance.timeOrigin + perfMs;
  let whole = Math.floor(ms);
  let nanos = Math.round((ms - whole) * 1e6);
  if (nanos >= 1e6) {
    whole++;
    nanos -= 1e6;
  }
  return `${whole}${String(nanos).padStart(6, '0')}`;
}

const q = JSON.stringify;
const str = (key: string, v: string) => `{"key":"${key}","value":{"stringValue":${q(v)}}}`;
const int = (key: string, v: number) => `{"key":"${key}","value":{"intValue":"${Math.trunc(v)}"}}`;
