/**
 * Istio's standard metrics (istio_requests_total, istio_request_duration_milliseconds,
 * istio_request_bytes, istio_response_bytes) kept as preallocated records. The label text of a
 * record is built once, when its label set is first seen; per request the proxy only looks up a
 * record by a number (status code and flag) on the destination it already holds and adds to arrays.
 */

/** Istio's default duration buckets, in milliseconds. */
export const DURATION_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];
/** Byte-size buckets: powers of ten, as Istio's exponential buckets for sizes. */
export const SIZE_BUCKETS = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000];

/** Envoy's response flags this proxy sets. Index = small integer used in record keys. */
export const FLAGS = ['-', 'UF', 'UO', 'URX', 'UT', 'FI', 'DI', 'DC', 'NR', 'UH', 'UC', 'UPE'] as const;
export type Flag = (typeof FLAGS)[number];
const FLAG_INDEX = new Map<string, number>(FLAGS.map((f, i) => [f, i]));

class Histogram {
  readonly counts: Float64Array;
  sum = 0;
  constructor(readonly bounds: number[]) {
    this.counts = new Float64Array(bounds.length);
  }
  observe(v: number): void {
    this.sum += v;
    const b = this.bounds;
    // Linear scan: 10-19 bounds and most observations land in the first few.
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }
}

export class Series {
  count = 0;
  readonly duration = new Histogram(DURATION_BUCKETS);
  readonly requestBytes = new Histogram(SIZE_BUCKETS);
  readonly responseBytes = new Histogram(SIZE_BUCKETS);
  constructor(readonly labels: string) {}
}

export interface DestinationLabels {
  destinationWorkload: string;
  destinationWorkloadNamespace: string;
  destinationService: string;
  destinationServiceName: string;
  destinationServiceNamespace: string;
  destinationVersion: string;
}

/**
 * Records for one (reporter, source, destination) combination. The proxy keeps one per cluster
 * endpoint identity, made when a snapshot loads and reused across snapshots with the same labels.
 */
export class DestinationStats {
  /** key = status * 16 + flag index: a number, so the lookup hashes no string. */
  readonly #series = new Map<number, Series>();
  constructor(readonly prefix: string) {}

  record(status: number, flag: Flag, ms: number, reqBytes: number, resBytes: number): void {
    const fi = FLAG_INDEX.get(flag) ?? 0;
    const key = status * 16 + fi;
    let s = this.#series.get(key);
    if (!s) {
      s = new Series(`${this.prefix},response_code="${status}",response_flags="${flag}"`);
      this.#series.set(key, s);
    }
    s.count++;
    s.duration.observe(ms);
    s.requestBytes.observe(reqBytes);
    s.responseBytes.observe(resBytes);
  }

  series(): IterableIterator<Series> {
    return this.#series.values();
  }
}

/** A workload as the metrics name it: what the caller's proxy sends in `x-meshctl-peer`. */
export interface PeerIdentity {
  workload: string;
  namespace: string;
  canonical: string;
  version: string;
}

export const UNKNOWN_PEER: PeerIdentity = { workload: 'unknown', namespace: 'unknown', canonical: 'unknown', version: 'unknown' };

export function canonicalOf(w: { workload: string; labels: Record<string, string> }): string {
  return w.labels['service.istio.io/canonical-name'] ?? w.labels.app ?? w.workload;
}

/**
 * Metadata exchange over a plain header, as Istio's sidecars do with x-envoy-peer-metadata when there
 * is no mTLS: the calling proxy says who it is, the called proxy labels its metrics with it. Like
 * Istio's plaintext exchange it is informational, not authentication.
 */
export const PEER_HEADER = 'x-meshctl-peer';

export function encodePeer(p: PeerIdentity): string {
  return [p.workload, p.namespace, p.canonical, p.version].map(encodeURIComponent).join(';');
}

export function decodePeer(v: string): PeerIdentity | undefined {
  const parts = v.split(';');
  if (parts.length !== 4) return undefined;
  try {
    const [workload, namespace, canonical, version] = parts.map(decodeURIComponent) as [string, string, string, string];
    return { workload, namespace, canonical, version };
  } catch {
    return undefined;
  }
}

export class Metrics {
  readonly #stats = new Map<string, DestinationStats>();

  constructor(readonly source: { workload: string; namespace: string; labels: Record<string, string> }) {}

  /** The record set for a destination; `peer` replaces this proxy as the source (inbound: the caller). */
  destination(reporter: 'source' | 'destination', d: DestinationLabels, security: string, peer?: PeerIdentity): DestinationStats {
    const src = peer ?? { workload: this.source.workload, namespace: this.source.namespace, canonical: canonicalOf(this.source), version: this.source.labels.version ?? 'unknown' };
    const canonical = src.canonical;
    const parts = [
      `reporter="${reporter}"`,
      `source_workload="${esc(src.workload)}"`,
      `source_workload_namespace="${esc(src.namespace)}"`,
      `source_canonical_service="${esc(canonical)}"`,
      `source_version="${esc(src.version)}"`,
      `destination_workload="${esc(d.destinationWorkload)}"`,
      `destination_workload_namespace="${esc(d.destinationWorkloadNamespace)}"`,
      `destination_service="${esc(d.destinationService)}"`,
      `destination_service_name="${esc(d.destinationServiceName)}"`,
      `destination_service_namespace="${esc(d.destinationServiceNamespace)}"`,
      `destination_version="${esc(d.destinationVersion)}"`,
      `request_protocol="http"`,
      `connection_security_policy="${security}"`,
    ];
    const prefix = parts.join(',');
    let s = this.#stats.get(prefix);
    if (!s) this.#stats.set(prefix, (s = new DestinationStats(prefix)));
    return s;
  }

  /** Prometheus text exposition format 0.0.4. */
  render(): string {
    const out: string[] = [];
    const all = [...this.#stats.values()].flatMap((d) => [...d.series()]);
    out.push('# TYPE istio_requests_total counter');
    for (const s of all) out.push(`istio_requests_total{${s.labels}} ${s.count}`);
    histogram(out, 'istio_request_duration_milliseconds', all, (s) => s.duration);
    histogram(out, 'istio_request_bytes', all, (s) => s.requestBytes);
    histogram(out, 'istio_response_bytes', all, (s) => s.responseBytes);
    return out.join('\n') + '\n';
  }

  /** Totals for /stats. */
  totals(): { requests: number; byFlag: Record<string, number> } {
    let requests = 0;
    const byFlag: Record<string, number> = {};
    for (const d of this.#stats.values()) {
      for (const s of d.series()) {
        requests += s.count;
        const flag = /response_flags="([^"]+)"/.exec(s.labels)?.[1] ?? '-';
        byFlag[flag] = (byFlag[flag] ?? 0) + s.count;
      }
    }
    return { requests, byFlag };
  }
}

function histogram(out: string[], name: string, all: Series[], pick: (s: Series) => Histogram): void {
  out.push(`# TYPE ${name} histogram`);
  for (const s of all) {
    const h = pick(s);
    let cum = 0;
    for (let i = 0; i < h.bounds.length; i++) {
      cum += h.counts[i]!;
      out.push(`${name}_bucket{${s.labels},le="${h.bounds[i]}"} ${cum}`);
    }
    out.push(`${name}_bucket{${s.labels},le="+Inf"} ${s.count}`);
    out.push(`${name}_sum{${s.labels}} ${h.sum}`);
    out.push(`${name}_count{${s.labels}} ${s.count}`);
  }
}

function esc(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : '\\' + c));
}
