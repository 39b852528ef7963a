/**
 * Reading canary metrics, the I/O half of src/core/traffic/metrics.ts: scraping proxies'
 * /stats/prometheus endpoints (--metrics URL...) or querying a Prometheus server (--prometheus URL).
 */
import { ClusterError, UsageError } from '../core/errors.js';
import type { VersionCounts, VersionMetrics } from '../core/traffic/metrics.js';

export interface MetricsSource {
  /** Where the numbers come from, for people. */
  readonly description: string;
  /**
   * Metrics per destination version over a window that ends now: waits `windowMs` (via `sleep`)
   * and reports what happened meanwhile. windowMs 0 reports cumulative counts (proxies only).
   */
  measure(windowMs: number, sleep: (ms: number) => Promise<void>): Promise<Map<string, VersionMetrics>>;
}

const FETCH_TIMEOUT_MS = 5000;

async function getText(url: string, what: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (err) {
    throw new ClusterError(`cannot read ${what} from ${url}: ${(err as Error).message}`, 'check the URL and that the endpoint is reachable', err, 'E_METRICS_UNREACHABLE');
  }
  if (!res.ok) throw new ClusterError(`cannot read ${what} from ${url}: HTTP ${res.status}`, 'check the URL', undefined, 'E_METRICS_UNREACHABLE');
  return res.text();
}

function checkUrl(raw: string, flag: string): URL {
  try {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http');
    return u;
  } catch {
    throw new UsageError(`invalid ${flag} "${raw}"`, 'use an http(s) URL, e.g. http://127.0.0.1:15090/stats/prometheus');
  }
}

/** Proxies' Prometheus endpoints; a URL without a path gets /stats/prometheus. */
export function proxySource(urls: readonly string[], host: string): MetricsSource {
  const targets = urls.flatMap((u) => u.split(',')).filter(Boolean).map((raw) => {
    const u = checkUrl(raw, '--metrics');
    if (u.pathname === '/' || u.pathname === '') u.pathname = '/stats/prometheus';
    return u.toString();
  });
  const scrape = async (): Promise<Map<string, VersionCounts>> => {
    const m = await import('../core/traffic/metrics.js');
    const texts = await Promise.all(targets.map((t) => getText(t, 'metrics')));
    return texts.reduce((acc, text) => m.addCounts(acc, m.countsByVersion(m.parsePrometheusText(text), host)), new Map<string, VersionCounts>());
  };
  return {
    description: `${targets.length} proxy metrics endpoint(s)`,
    async measure(windowMs, sleep) {
      const m = await import('../core/traffic/metrics.js');
      if (windowMs <= 0) return m.summarize(await scrape(), undefined);
      const t0 = await scrape();
      await sleep(windowMs);
      return m.summarize(m.deltaCounts(await scrape(), t0), windowMs / 1000);
    },
  };
}

interface PromVector {
  status?: string;
  data?: { result?: { metric?: Record<string, string>; value?: [number, string] }[] };
}

/** A Prometheus server that scrapes the proxies: asks it for rates over the window. */
export function prometheusSource(url: string, host: string): MetricsSource {
  const base = checkUrl(url, '--prometheus');
  const query = async (q: string): Promise<Map<string, number>> => {
    const u = new URL('api/v1/query', base.toString().endsWith('/') ? base : new URL(base.toString() + '/'));
    u.searchParams.set('query', q);
    const body = JSON.parse(await getText(u.toString(), 'Prometheus query results')) as PromVector;
    if (body.status !== 'success') throw new ClusterError(`Prometheus at ${url} did not answer the query ${q}`, undefined, undefined, 'E_METRICS_UNREACHABLE');
    const out = new Map<string, number>();
    for (const r of body.data?.result ?? []) {
      const v = Number(r.value?.[1]);
      if (!Number.isNaN(v)) out.set(r.metric?.destination_version ?? 'unknown', v);
    }
    return out;
  };
  const sel = `destination_service="${host}",reporter="destination"`;
  return {
    description: `Prometheus at ${url}`,
    async measure(windowMs, sleep) {
      if (windowMs > 0) await sleep(windowMs);
      const w = `${Math.max(1, Math.round(windowMs / 1000)) || 60}s`;
      const windowS = Math.max(1, Math.round(windowMs / 1000)) || 60;
      const [total, errors, p50, p99] = await Promise.all([
        query(`sum by (destination_version) (increase(istio_requests_total{${sel}}[${w}]))`),
        query(`sum by (destination_version) (increase(istio_requests_total{${sel},response_code=~"5.."}[${w}]))`),
        query(`histogram_quantile(0.5, sum by (destination_version, le) (rate(istio_request_duration_milliseconds_bucket{${sel}}[${w}])))`),
        query(`histogram_quantile(0.99, sum by (destination_version, le) (rate(istio_request_duration_milliseconds_bucket{${sel}}[${w}])))`),
      ]);
      const out = new Map<string, VersionMetrics>();
      for (const [version, requests] of total) {
        const errs = errors.get(version) ?? 0;
        out.set(version, {
          version,
          requests,
          rps: requests / windowS,
          successRate: requests > 0 ? (requests - errs) / requests : undefined,
          p50Ms: finite(p50.get(version)),
          p99Ms: finite(p99.get(version)),
        });
      }
      return out;
    },
  };
}

function finite(n: number | undefined): number | undefined {
  return n === undefined || !Number.isFinite(n) ? undefined : n;
}

/** The source the flags ask for, or undefined when none is given. */
export function metricsSource(opts: Record<string, unknown>, host: string): MetricsSource | undefined {
  const metrics = opts.metrics;
  const prometheus = typeof opts.prometheus === 'string' ? opts.prometheus : undefined;
  const urls = Array.isArray(metrics) ? metrics.filter((m): m is string => typeof m === 'string') : typeof metrics === 'string' ? [metrics] : [];
  if (urls.length && prometheus) throw new UsageError('use either --metrics or --prometheus, not both');
  if (prometheus) return prometheusSource(prometheus, host);
  if (urls.length) return proxySource(urls, host);
  return undefined;
}
