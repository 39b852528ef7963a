/**
 * Canary metrics from Istio's standard telemetry: the Prometheus text format that proxies serve on
 * /stats/prometheus (istio_requests_total, istio_request_duration_milliseconds), summed per
 * `destination_version` for one service. Pure: text in, numbers out.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/y;

/** Parses the Prometheus text exposition format (0.0.4); comments and malformed lines are skipped. */
export function parsePrometheusText(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    LABEL.lastIndex = 0;
    let ok = true;
    while (LABEL.lastIndex < body.length) {
      const at = LABEL.lastIndex;
      const l = LABEL.exec(body);
      if (!l || LABEL.lastIndex === at) {
        ok = body.slice(at).trim() === '';
        break;
      }
      labels[l[1] ?? ''] = (l[2] ?? '').replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    }
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    if (ok && !Number.isNaN(value)) out.push({ name: m[1] ?? '', labels, value });
  }
  return out;
}

/** Cumulative counts for one version: requests, 5xx responses, latency histogram (le -> count). */
export interface VersionCounts {
  requests: number;
  errors: number;
  buckets: Map<number, number>;
}

function emptyCounts(): VersionCounts {
  return { requests: 0, errors: 0, buckets: new Map() };
}

function forService(labels: Record<string, string>, host: string): boolean {
  if (labels.destination_service === host) return true;
  const name = labels.destination_service_name;
  const ns = labels.destination_service_namespace;
  return name !== undefined && ns !== undefined && host.startsWith(`${name}.${ns}.`);
}

/**
 * Sums the samples of one service per destination version. When both the client's and the
 * server's proxy report a request, counting both would double it: per version, the server side
 * (reporter="destination") is used when present, else the client side.
 */
export function countsByVersion(samples: readonly Sample[], host: string): Map<string, VersionCounts> {
  const byReporter = new Map<string, Map<string, VersionCounts>>();
  for (const s of samples) {
    if (!forService(s.labels, host)) continue;
    const reporter = s.labels.reporter === 'destination' ? 'destination' : 'source';
    const version = s.labels.destination_version ?? 'unknown';
    let versions = byReporter.get(reporter);
    if (!versions) byReporter.set(reporter, (versions = new Map()));
    let c = versions.get(version);
    if (!c) versions.set(version, (c = emptyCounts()));
    if (s.name === 'istio_requests_total') {
      c.requests += s.value;
      if (/^5\d\d$/.test(s.labels.response_code ?? '')) c.errors += s.value;
    } else if (s.name === 'istio_request_duration_milliseconds_bucket') {
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      if (!Number.isNaN(le)) c.buckets.set(le, (c.buckets.get(le) ?? 0) + s.value);
    }
  }
  const out = new Map<string, VersionCounts>();
  const dest = byReporter.get('destination') ?? new Map<string, VersionCounts>();
  const src = byReporter.get('source') ?? new Map<string, VersionCounts>();
  for (const v of new Set([...dest.keys(), ...src.keys()])) out.set(v, dest.get(v) ?? src.get(v) ?? emptyCounts());
  return out;
}

/** Adds counts scraped from several proxies. */
export function addCounts(a: Map<string, VersionCounts>, b: Map<string, VersionCounts>): Map<string, VersionCounts> {
  const out = new Map<string, VersionCounts>();
  for (const [v, c] of [...a, ...b]) {
    const t = out.get(v) ?? emptyCounts();
    t.requests += c.requests;
    t.errors += c.errors;
    for (const [le, n] of c.buckets) t.buckets.set(le, (t.buckets.get(le) ?? 0) + n);
    out.set(v, t);
  }
  return out;
}

/**
 * What happened between two scrapes. A counter that went down means the proxy restarted; its
 * later value is then the whole count since the restart (Prometheus `increase` does the same).
 */
export function deltaCounts(later: Map<string, VersionCounts>, earlier: Map<string, VersionCounts>): Map<string, VersionCounts> {
  const out = new Map<string, VersionCounts>();
  for (const [v, l] of later) {
    const e = earlier.get(v) ?? emptyCounts();
    const reset = l.requests < e.requests;
    const buckets = new Map<number, number>();
    for (const [le, n] of l.buckets) buckets.set(le, reset ? n : Math.max(0, n - (e.buckets.get(le) ?? 0)));
    out.set(v, { requests: reset ? l.requests : l.requests - e.requests, errors: reset ? l.errors : Math.max(0, l.errors - e.errors), buckets });
  }
  return out;
}

/**
 * The q-quantile of a cumulative histogram, interpolated linearly inside the bucket as
 * Prometheus's histogram_quantile does; the +Inf bucket answers with the highest finite bound.
 */
export function histogramQuantile(q: number, buckets: Map<number, number>): number | undefined {
  const bs = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = bs[bs.length - 1]?.[1] ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of bs) {
    if (count >= rank) {
      if (le === Infinity) return prevLe;
      if (count === prevCount) return le;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / (count - prevCount);
    }
    prevLe = le === Infinity ? prevLe : le;
    prevCount = count;
  }
  return prevLe;
}

export interface VersionMetrics {
  version: string;
  requests: number;
  /** Requests per second over the window; undefined without a window (cumulative counts). */
  rps: number | undefined;
  /** Share of non-5xx responses, 0-1; undefined with no requests. */
  successRate: number | undefined;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
}

export function summarize(counts: Map<string, VersionCounts>, windowSeconds: number | undefined): Map<string, VersionMetrics> {
  const out = new Map<string, VersionMetrics>();
  for (const [version, c] of counts) {
    out.set(version, {
      version,
      requests: c.requests,
      rps: windowSeconds ? c.requests / windowSeconds : undefined,
      successRate: c.requests > 0 ? (c.requests - c.errors) / c.requests : undefined,
      p50Ms: histogramQuantile(0.5, c.buckets),
      p99Ms: histogramQuantile(0.99, c.buckets),
    });
  }
  return out;
}

/** Gates of a rollout step, checked on the canary's metrics for the step's window. */
export interface Gates {
  /** 0-1 */
  maxErrorRate?: number | undefined;
  maxP99Ms?: number | undefined;
  minRequests: number;
}

export type Verdict =
  | { result: 'pass'; detail: string }
  | { result: 'fail'; detail: string }
  | { result: 'inconclusive'; detail: string };

/** Judges one window of canary metrics. Too few requests is never a pass. */
export function judge(m: VersionMetrics | undefined, gates: Gates): Verdict {
  const requests = m?.requests ?? 0;
  if (requests < gates.minRequests) return { result: 'inconclusive', detail: `${requests} request(s), fewer than --min-requests ${gates.minRequests}` };
  const errorRate = 1 - (m?.successRate ?? 1);
  const facts = `${requests} requests, ${(errorRate * 100).toFixed(2)}% errors, p99 ${m?.p99Ms === undefined ? 'n/a' : `${Math.round(m.p99Ms)}ms`}`;
  if (gates.maxErrorRate !== undefined && errorRate > gates.maxErrorRate) {
    return { result: 'fail', detail: `${facts}: error rate above ${(gates.maxErrorRate * 100).toFixed(2)}%` };
  }
  if (gates.maxP99Ms !== undefined) {
    if (m?.p99Ms === undefined) return { result: 'inconclusive', detail: `${facts}: no latency histogram to check --max-p99` };
    if (m.p99Ms > gates.maxP99Ms) return { result: 'fail', detail: `${facts}: p99 above ${gates.maxP99Ms}ms` };
  }
  return { result: 'pass', detail: facts };
}
