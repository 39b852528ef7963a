import { describe, expect, test } from 'vitest';
import { addCounts, countsByVersion, deltaCounts, histogramQuantile, judge, parsePrometheusText, summarize } from '../../../src/core/traffic/metrics.js';
import { decide, parseSteps, type RolloutState } from '../../../src/core/traffic/rollout.js';

const HOST = 'reviews.default.svc.cluster.local';
const L = (reporter: string, version: string, code = '200') =>
  `reporter="${reporter}",destination_service="${HOST}",destination_service_name="reviews",destination_service_namespace="default",destination_version="${version}",response_code="${code}"`;

const TEXT = `# HELP istio_requests_total Total requests.
# TYPE istio_requests_total counter
istio_requests_total{${L('source', 'v1')}} 90
istio_requests_total{${L('source', 'v2')}} 8
istio_requests_total{${L('source', 'v2', '503')}} 2
istio_requests_total{${L('destination', 'v2')}} 7
istio_requests_total{${L('destination', 'v2', '503')}} 3
istio_requests_total{reporter="source",destination_service="ratings.default.svc.cluster.local",destination_version="v1",response_code="500"} 1000
istio_requests_total{reporter="source",destination_service="x",weird="a \\"quoted\\" \\\\ value"} 1
# TYPE istio_request_duration_milliseconds histogram
istio_request_duration_milliseconds_bucket{${L('source', 'v1')},le="10"} 50
istio_request_duration_milliseconds_bucket{${L('source', 'v1')},le="100"} 90
istio_request_duration_milliseconds_bucket{${L('source', 'v1')},le="+Inf"} 90
not a metric line
`;

describe('Prometheus text', () => {
  test('parses names, labels (with escapes) and values; skips comments and junk', () => {
    const samples = parsePrometheusText(TEXT);
    expect(samples).toHaveLength(10);
    expect(samples.find((s) => s.labels.weird)?.labels.weird).toBe('a "quoted" \\ value');
    expect(samples.find((s) => s.labels.le === '+Inf')?.value).toBe(90);
  });

  test('counts per version for one service, server side preferred over client side', () => {
    const counts = countsByVersion(parsePrometheusText(TEXT), HOST);
    expect(counts.get('v1')).toMatchObject({ requests: 90, errors: 0 });
    // v2 is reported by both proxies: only the destination side counts.
    expect(counts.get('v2')).toMatchObject({ requests: 10, errors: 3 });
    expect([...counts.keys()].sort()).toEqual(['v1', 'v2']);
  });

  test('histogram quantiles interpolate like Prometheus histogram_quantile', () => {
    const b = new Map([[10, 50], [100, 90], [Infinity, 90]]);
    expect(histogramQuantile(0.5, b)).toBe(9); // rank 45 of 90 in (0,10]: 10 * 45/50
    expect(histogramQuantile(0.99, b)).toBeCloseTo(97.975, 6); // rank 89.1 in (10,100]: 10 + 90 * 39.1/40
    // Past the last finite bound: the highest finite bound, as Prometheus answers.
    expect(histogramQuantile(0.99, new Map([[10, 5], [Infinity, 100]]))).toBe(10);
    expect(histogramQuantile(0.5, new Map())).toBeUndefined();
  });

  test('deltas between scrapes, with a counter reset counted from zero', () => {
    const a = countsByVersion(parsePrometheusText(TEXT), HOST);
    const later = parsePrometheusText(TEXT.replace(`${L('source', 'v1')}} 90`, `${L('source', 'v1')}} 150`).replace(`${L('destination', 'v2')}} 7`, `${L('destination', 'v2')}} 2`));
    const d = deltaCounts(countsByVersion(later, HOST), a);
    expect(d.get('v1')?.requests).toBe(60);
    expect(d.get('v2')).toMatchObject({ requests: 5, errors: 3 }); // 10 -> 5 went down: restarted
    const m = summarize(addCounts(d, d), 2);
    expect(m.get('v1')).toMatchObject({ requests: 120, rps: 60, successRate: 1 });
  });
});

describe('gates and rollout decisions', () => {
  const gates = { maxErrorRate: 0.01, maxP99Ms: 500, minRequests: 50 };
  const m = (requests: number, successRate: number, p99Ms: number | undefined) => ({ version: 'v2', requests, rps: undefined, successRate, p50Ms: 1, p99Ms });

  test('judge: too few requests is inconclusive, never a pass', () => {
    expect(judge(undefined, gates).result).toBe('inconclusive');
    expect(judge(m(49, 1, 10), gates).result).toBe('inconclusive');
    expect(judge(m(50, 1, 10), gates)).toEqual({ result: 'pass', detail: '50 requests, 0.00% errors, p99 10ms' });
    expect(judge(m(100, 0.98, 10), gates)).toMatchObject({ result: 'fail', detail: expect.stringContaining('error rate above 1.00%') });
    expect(judge(m(100, 1, 501), gates)).toMatchObject({ result: 'fail', detail: expect.stringContaining('p99 above 500ms') });
    expect(judge(m(100, 1, undefined), gates).result).toBe('inconclusive');
  });

  const state: RolloutState = { stable: 'v1', canary: 'v2', steps: [10, 50, 100], step: 0, phase: 'progressing', startedAt: 't0', updatedAt: 't0', inconclusive: 0 };
  const now = new Date('2026-01-01T00:00:00Z');

  test('decide: pass advances, the last pass succeeds, fail rolls back', () => {
    expect(decide(state, { result: 'pass', detail: 'ok' }, 3, now)).toMatchObject({ action: 'advance', state: { step: 1, phase: 'progressing' } });
    expect(decide({ ...state, step: 2 }, { result: 'pass', detail: 'ok' }, 3, now)).toMatchObject({ action: 'succeed', state: { phase: 'succeeded' } });
    expect(decide(state, { result: 'fail', detail: 'bad' }, 3, now)).toMatchObject({ action: 'rollback', reason: 'bad', state: { phase: 'failed' } });
  });

  test('decide: inconclusive waits, then fails after the limit', () => {
    let s = state;
    for (let i = 1; i <= 2; i++) {
      const d = decide(s, { result: 'inconclusive', detail: 'few' }, 2, now);
      expect(d).toMatchObject({ action: 'wait', state: { inconclusive: i, step: 0 } });
      s = d.state;
    }
    expect(decide(s, { result: 'inconclusive', detail: 'few' }, 2, now)).toMatchObject({ action: 'rollback', state: { phase: 'failed' } });
  });

  test('steps must be increasing whole percentages', () => {
    expect(parseSteps('5,10,25,50,100')).toEqual([5, 10, 25, 50, 100]);
    expect(parseSteps('10%,100%')).toEqual([10, 100]);
    for (const bad of ['', '10,5', '0,10', '10,101', '10,10.5', 'a']) expect(() => parseSteps(bad), bad).toThrow(/invalid --steps/);
  });
});
