/**
 * `canary status` and `canary rollout` through the command tree on --local, reading metrics from a
 * stand-in proxy endpoint on 127.0.0.1:0 whose counters grow on every scrape as the test says.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { Resource } from '../../../src/api/resource.js';
import { FileStore } from '../../../src/store/file-store.js';
import { meshctl } from '../../helpers/run-meshctl.js';

const ROOT = join(import.meta.dirname, '../../..');
const HOST = 'reviews.default.svc.cluster.local';
const cleanup: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function mesh(): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-rollout-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(ROOT, 'samples/bookinfo/bookinfo.yaml'), join(dir, 'bookinfo.yaml'));
  for (const n of ['destination-rule-all', 'virtual-service-all-v1']) copyFileSync(join(ROOT, `samples/bookinfo/networking/${n}.yaml`), join(dir, `${n}.yaml`));
  return dir;
}

interface Traffic {
  /** Requests per scrape and the share of them that fail with 503. */
  perScrape: Record<string, { requests: number; errorShare: number; latencyMs: number }>;
  /** Answer HTTP 500 from this scrape on (1-based): a proxy that goes away mid-rollout. */
  failFrom?: number;
}

/** A proxy's /stats/prometheus whose counters grow by `traffic.perScrape` on every scrape. */
async function fakeProxy(traffic: Traffic): Promise<{ url: string; scrapes: () => number }> {
  const totals = new Map<string, { ok: number; err: number; fast: number; slow: number }>();
  let scrapes = 0;
  const server: Server = createServer((req, res) => {
    scrapes++;
    if (traffic.failFrom !== undefined && scrapes >= traffic.failFrom) {
      res.statusCode = 500;
      res.end();
      return;
    }
    for (const [v, t] of Object.entries(traffic.perScrape)) {
      const c = totals.get(v) ?? { ok: 0, err: 0, fast: 0, slow: 0 };
      const err = Math.round(t.requests * t.errorShare);
      c.ok += t.requests - err;
      c.err += err;
      if (t.latencyMs <= 25) c.fast += t.requests;
      else c.slow += t.requests;
      totals.set(v, c);
    }
    const lines = ['# TYPE istio_requests_total counter'];
    for (const [v, c] of totals) {
      const l = `reporter="source",destination_service="${HOST}",destination_version="${v}"`;
      lines.push(`istio_requests_total{${l},response_code="200"} ${c.ok}`, `istio_requests_total{${l},response_code="503"} ${c.err}`);
      lines.push(`istio_request_duration_milliseconds_bucket{${l},le="25"} ${c.fast}`, `istio_request_duration_milliseconds_bucket{${l},le="1000"} ${c.fast + c.slow}`, `istio_request_duration_milliseconds_bucket{${l},le="+Inf"} ${c.fast + c.slow}`);
    }
    res.end(req.url === '/stats/prometheus' ? lines.join('\n') + '\n' : '');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, scrapes: () => scrapes };
}

async function reviews(dir: string): Promise<Resource> {
  const store = await FileStore.open(dir);
  try {
    return (await store.get({ kind: 'VirtualService', namespace: 'default', name: 'reviews' })) as Resource;
  } finally {
    await store.close();
  }
}
const defaultRoute = (vs: Resource) => {
  const http = (vs.spec as { http: { route: { destination: { subset: string }; weight?: number }[] }[] }).http;
  return http[http.length - 1]?.route.map((d) => [d.destination.subset, d.weight]);
};
const rolloutState = (vs: Resource) => (JSON.parse(vs.metadata.annotations?.['meshctl.io/rollout'] ?? '{}') as Record<string, Record<string, unknown>>)[HOST];

const GATES = ['--interval', '30ms', '--max-error-rate', '1%', '--max-p99', '500ms', '--min-requests', '10'];

describe('canary rollout', () => {
  test('a healthy canary goes through every step and is promoted', async () => {
    const dir = mesh();
    const proxy = await fakeProxy({ perScrape: { v1: { requests: 50, errorShare: 0, latencyMs: 10 }, v2: { requests: 20, errorShare: 0, latencyMs: 10 } } });
    const r = await meshctl(['canary', 'rollout', 'reviews', '--to', 'v2', '--steps', '10,50,100', ...GATES, '--metrics', proxy.url, '--local', dir]);
    expect(r.stderr).toContain('step 1/3 (v2 10%): pass: 20 requests, 0.00% errors');
    expect(r.stdout).toContain('reviews: rollout succeeded: v2 100% (promoted; v2 is now stable)');
    expect(r.exitCode).toBe(0);
    const vs = await reviews(dir);
    expect(defaultRoute(vs)).toEqual([['v2', undefined]]);
    expect(rolloutState(vs)).toMatchObject({ phase: 'succeeded', step: 2, steps: [10, 50, 100] });
    expect(proxy.scrapes()).toBe(7); // one before the first write, then two per window, one window per step
  });

  test('a failing gate rolls back at once and exits 80 (rollout failed), not 1 (internal error)', async () => {
    const dir = mesh();
    const proxy = await fakeProxy({ perScrape: { v2: { requests: 100, errorShare: 0.05, latencyMs: 10 } } });
    const r = await meshctl(['canary', 'rollout', 'reviews', '--to', 'v2', '--steps', '10,50,100', ...GATES, '--metrics', proxy.url, '--local', dir, '-o', 'json']);
    expect(r.exitCode).toBe(80);
    expect(JSON.parse(r.stdout)).toMatchObject({ result: 'failed', reason: expect.stringContaining('5.00% errors') });
    const vs = await reviews(dir);
    expect(defaultRoute(vs)).toEqual([['v1', undefined]]);
    expect(rolloutState(vs)).toMatchObject({ phase: 'failed', step: 0 });
  });

  test('slow canary: p99 gate fails', async () => {
    const dir = mesh();
    const proxy = await fakeProxy({ perScrape: { v2: { requests: 100, errorShare: 0, latencyMs: 900 } } });
    const r = await meshctl(['canary', 'rollout', 'reviews', '--to', 'v2', '--steps', '50,100', ...GATES, '--metrics', proxy.url, '--local', dir]);
    expect(r.exitCode).toBe(80);
    expect(r.stdout).toMatch(/rollout failed at step 1\/2 \(v2 50%\): .*p99 above 500ms; all traffic back on v1/);
  });

  test('too few requests is inconclusive: looked at again, then failed — never a silent pass', async () => {
    const dir = mesh();
    const proxy = await fakeProxy({ perScrape: { v2: { requests: 2, errorShare: 0, latencyMs: 10 } } });
    const r = await meshctl(['canary', 'rollout', 'reviews', '--to', 'v2', '--steps', '10,100', ...GATES, '--max-inconclusive', '2', '--metrics', proxy.url, '--local', dir]);
    expect(r.exitCode).toBe(80);
    expect(r.stderr).toContain('inconclusive: 2 request(s), fewer than --min-requests 10 -> looking again (1/2)');
    expect(r.stdout).toContain('inconclusive 3 times in a row');
    expect(defaultRoute(await reviews(dir))).toEqual([['v1', undefined]]);
  });

  test('a second rollout is refused; --resume continues from the saved step', async () => {
    const dir = mesh();
    const proxy = await fakeProxy({ perScrape: { v2: { requests: 20, errorShare: 0, latencyMs: 10 } } });
    // An interrupted rollout: state says step 2 of 3 (50%).
    const store = await FileStore.open(dir);
    await store.modify({ kind: 'VirtualService', namespace: 'default', name: 'reviews' }, (vs) => {
      const out = structuredClone(vs) as Resource;
      const state = { stable: 'v1', canary: 'v2', steps: [10, 50, 100], step: 1, phase: 'progressing', startedAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:01:00.000Z', inconclusive: 0 };
      out.metadata.annotations = { 'meshctl.io/rollout': JSON.stringify({ [HOST]: state }) };
      return out;
    });
    await store.close();

    const second = await meshctl(['canary', 'rollout', 'reviews', '--to', 'v2', ...GATES, '--metrics', proxy.url, '--local', dir]);
    expect(second.exitCode).toBe(64);
    expect(second.stderr).toMatch(/^Error: a rollout of reviews is already in progress \(rollout progressing: v1 -> v2, step 2\/3 \(v2 50%\)/);

    const status = await meshctl(['canary', 'status', 'reviews', '--local', dir]);
    expect(status.stdout).toContain('rollout progressing: v1 -> v2, step 2/3 (v2 50%)');

    const resumed = await meshctl(['canary', 'rollout', 'reviews', '--resume', ...GATES, '--metrics', proxy.url, '--local', dir]);
    expect(resumed.exitCode).toBe(0);
    expect(resumed.stderr).not.toContain('step 1/3');
    expect(resumed.stderr).toContain('step 2/3 (v2 50%): pass');
    expect(rolloutState(await reviews(dir))).toMatchObject({ phase: 'succeeded', startedAt: '2026-01-01T00:00:00.000Z' });
  });

  test('--resume judges with the interval and gates the rollout was started with', async () => {
    const dir = mesh();
    // 3% errors: fails the saved 1% gate (a default gate would not exist: the command would refuse).
    const proxy = await fakeProxy({ perScrape: { v2: { requests: 100, errorShare: 0.03, latencyMs: 10 } } });
    const store = await FileStore.open(dir);
    await store.modify({ kind: 'VirtualService', namespace: 'default', name: 'reviews' }, (vs) => {
      const out = structuredClone(vs) as Resource;
      const settings = { intervalMs: 30, maxErrorRate: 0.01, minRequests: 10, maxInconclusive: 3 };
      const state = { stable: 'v1', canary: 'v2', steps: [10, 50, 100], step: 1, phase: 'progressing', startedAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:01:00.000Z', inconclusive: 0, settings };
      out.metadata.annotations = { 'meshctl.io/rollout': JSON.stringify({ [HOST]: state }) };
      return out;
    });
    await store.close();
    const started = Date.now();
    const r = await meshctl(['canary', 'rollout', 'reviews', '--resume', '--metrics', proxy.url, '--local', dir]);
    expect(Date.now() - started).toBeLessThan(20_000); // the saved 30ms interval, not the 1m default
    expect(r.exitCode, r.stderr).toBe(80);
    expect(r.stdout).toContain('rollout failed at step 2/3 (v2 50%): 100 requests, 3.00% errors, p99 25ms: error rate above 1.00%');
    expect(rolloutState(await reviews(dir))).toMatchObject({ phase: 'failed', settings: { intervalMs: 30, maxErrorRate: 0.01 } });
    const status = await meshctl(['canary', 'status', 'reviews', '--local', dir]);
    expect(status.stdout).toMatch(/rollout failed: v1 -> v2, step 2\/3 \(v2 50%\), started 2026-01-01T00:00:00.000Z, updated \S+; gates: errors <= 1%, >= 10 requests per 0.03s; last check: fail: /);
  });

  test('a new rollout saves its settings; --resume of a rollout saved without gates needs them again', async () => {
    const dir = mesh();
    const proxy = await fakeProxy({ perScrape: { v2: { requests: 20, errorShare: 0, latencyMs: 10 } } });
    const ok = await meshctl(['canary', 'rollout', 'reviews', '--to', 'v2', '--steps', '100', ...GATES, '--metrics', proxy.url, '--local', dir]);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(rolloutState(await reviews(dir))).toMatchObject({ settings: { intervalMs: 30, maxErrorRate: 0.01, maxP99Ms: 500, minRequests: 10, maxInconclusive: 3 } });

    const store = await FileStore.open(dir);
    await store.modify({ kind: 'VirtualService', namespace: 'default', name: 'reviews' }, (vs) => {
      const out = structuredClone(vs) as Resource;
      const state = { stable: 'v2', canary: 'v3', steps: [10, 100], step: 0, phase: 'progressing', startedAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', inconclusive: 0 };
      out.metadata.annotations = { 'meshctl.io/rollout': JSON.stringify({ [HOST]: state }) };
      return out;
    });
    await store.close();
    const r = await meshctl(['canary', 'rollout', 'reviews', '--resume', '--metrics', proxy.url, '--local', dir]);
    expect(r.exitCode).toBe(64);
    expect(r.stderr).toContain('canary rollout needs a gate');
  });

  test('canary rollback during a rollout aborts it; the rollout stops instead of overwriting', async () => {
    const dir = mesh();
    const proxy = await fakeProxy({ perScrape: { v2: { requests: 20, errorShare: 0, latencyMs: 10 } } });
    const running = meshctl(['canary', 'rollout', 'reviews', '--to', 'v2', '--steps', '10,100', '--interval', '400ms', '--max-error-rate', '1%', '--min-requests', '10', '--metrics', proxy.url, '--local', dir]);
    // Wait (bounded) for the first step to be written, then roll back by hand.
    for (let i = 0; i < 100 && !rolloutState(await reviews(dir)); i++) await new Promise((r) => setTimeout(r, 20));
    const rb = await meshctl(['canary', 'rollback', 'reviews', '--local', dir]);
    expect(rb.exitCode).toBe(0);
    const r = await running;
    expect(r.exitCode).toBe(69);
    expect(r.stderr).toContain('the rollout of reviews was changed by someone else');
    const vs = await reviews(dir);
    expect(defaultRoute(vs)).toEqual([['v1', undefined]]);
    expect(rolloutState(vs)).toMatchObject({ phase: 'aborted' });
  });

  test('metrics that cannot be read at the start: exit 69 and nothing written', async () => {
    const dir = mesh();
    const before = await reviews(dir);
    const proxy = await fakeProxy({ perScrape: {}, failFrom: 1 });
    const r = await meshctl(['canary', 'rollout', 'reviews', '--to', 'v2', ...GATES, '--metrics', proxy.url, '--local', dir]);
    expect(r.exitCode).toBe(69);
    expect(r.stderr).toMatch(/^Error: cannot read metrics from http:\/\/127\.0\.0\.1:\d+\/stats\/prometheus: HTTP 500/m);
    expect(await reviews(dir)).toEqual(before);
  });

  test('metrics that stop answering mid-rollout are inconclusive, then roll back (exit 80), never leave the canary half-way', async () => {
    const dir = mesh();
    // Scrape 1 is the check before the first write, 2-3 the first window; from 4 on: HTTP 500.
    const proxy = await fakeProxy({ perScrape: { v2: { requests: 20, errorShare: 0, latencyMs: 10 } }, failFrom: 4 });
    const r = await meshctl(['canary', 'rollout', 'reviews', '--to', 'v2', '--steps', '10,50,100', ...GATES, '--max-inconclusive', '1', '--metrics', proxy.url, '--local', dir]);
    expect(r.exitCode).toBe(80);
    expect(r.stderr).toContain('step 1/3 (v2 10%): pass');
    expect(r.stderr).toMatch(/step 2\/3 \(v2 50%\): inconclusive: metrics unreadable: .*HTTP 500 -> looking again \(1\/1\)/);
    expect(r.stdout).toContain('inconclusive 2 times in a row');
    const vs = await reviews(dir);
    expect(defaultRoute(vs)).toEqual([['v1', undefined]]);
    expect(rolloutState(vs)).toMatchObject({ phase: 'failed', step: 1 });
  });

  test('flags are checked before anything is written', async () => {
    const dir = mesh();
    for (const [args, text] of [
      [['--steps', '50,10', '--max-error-rate', '1%', '--metrics', 'http://127.0.0.1:1'], 'steps must increase'],
      [['--max-error-rate', '1%'], 'needs metrics'],
      [['--metrics', 'http://127.0.0.1:1'], 'needs a gate'],
      [['--max-error-rate', '1%', '--metrics', 'ftp://x'], 'invalid --metrics'],
    ] as const) {
      const r = await meshctl(['canary', 'rollout', 'reviews', '--to', 'v2', ...args, '--local', dir]);
      expect(r.exitCode, args.join(' ')).toBe(64);
      expect(r.stderr).toContain(text);
    }
    expect(rolloutState(await reviews(dir))).toBeUndefined();
  });
});

describe('canary status', () => {
  test('weights, roles and per-version metrics from proxies', async () => {
    const dir = mesh();
    await meshctl(['canary', 'shift', 'reviews', '20', '--to', 'v2', '--local', dir]);
    const proxy = await fakeProxy({ perScrape: { v1: { requests: 80, errorShare: 0, latencyMs: 10 }, v2: { requests: 20, errorShare: 0.1, latencyMs: 900 }, v3: { requests: 5, errorShare: 0, latencyMs: 10 } } });
    const r = await meshctl(['canary', 'status', 'reviews', '--metrics', proxy.url, '--window', '200ms', '--local', dir]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('default route: v1 80% / v2 20%');
    expect(r.stdout).toMatch(/^v1 +stable +v1 +80% +80 +400\.0 +100\.00% +13ms +25ms$/m);
    expect(r.stdout).toMatch(/^v2 +canary +v2 +20% +20 +100\.0 +90\.00% +/m);
    expect(r.stdout).toMatch(/^- +- +v3 +0% +5 /m);
    const json = JSON.parse((await meshctl(['canary', 'status', 'reviews', '--metrics', proxy.url, '--window', '0', '--local', dir, '-o', 'json'])).stdout);
    expect(json).toMatchObject({ stable: 'v1', canary: 'v2', subsets: [{ subset: 'v1', weight: 80 }, { subset: 'v2', weight: 20 }, { version: 'v3' }] });
  });

  test('per-version metrics from a Prometheus server', async () => {
    const dir = mesh();
    await meshctl(['canary', 'shift', 'reviews', '10', '--to', 'v2', '--local', dir]);
    const queries: string[] = [];
    const server = createServer((req, res) => {
      const q = new URL(req.url ?? '/', 'http://x').searchParams.get('query') ?? '';
      queries.push(q);
      const value = (v1: number, v2: number) => [
        { metric: { destination_version: 'v1' }, value: [0, String(v1)] },
        { metric: { destination_version: 'v2' }, value: [0, String(v2)] },
      ];
      const result = q.includes('histogram_quantile(0.5') ? value(5, 7) : q.includes('histogram_quantile(0.99') ? value(40, 'NaN' as unknown as number) : q.includes('5..') ? value(0, 3) : value(900, 100);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const r = await meshctl(['canary', 'status', 'reviews', '--prometheus', url, '--window', '10ms', '--local', dir, '-o', 'json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const subsets = (JSON.parse(r.stdout) as { subsets: Record<string, unknown>[] }).subsets;
    expect(subsets[0]).toMatchObject({ subset: 'v1', requests: 900, rps: 900, successRate: 1, p50Ms: 5, p99Ms: 40 });
    expect(subsets[1]).toMatchObject({ subset: 'v2', requests: 100, successRate: 0.97, p50Ms: 7 });
    expect(subsets[1]?.p99Ms).toBeUndefined(); // NaN from Prometheus: no data, not a number to judge
    expect(queries).toContain(`sum by (destination_version) (increase(istio_requests_total{destination_service="${HOST}",reporter="destination"}[1s]))`);
  });

  test('an unreachable metrics endpoint is exit 69 naming it', async () => {
    const dir = mesh();
    const r = await meshctl(['canary', 'status', 'reviews', '--metrics', 'http://127.0.0.1:9/stats/prometheus', '--local', dir]);
    expect(r.exitCode).toBe(69);
    expect(r.stderr).toContain('cannot read metrics from http://127.0.0.1:9/stats/prometheus');
  });
});
