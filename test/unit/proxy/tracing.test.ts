import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeshProxy } from '../../../src/proxy/proxy.js';
import { Tracer } from '../../../src/proxy/tracing.js';
import { logs, se, send, sleep, startProxy, upstream, we, type Upstream } from './harness.js';

interface OtlpAttr {
  key: string;
  value: { stringValue?: string; intValue?: string };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpAttr[];
  status: { code?: number; message?: string };
}
interface Received {
  service: string;
  span: OtlpSpan;
}

/** A stand-in OTLP/HTTP collector on port 0: records every span with its resource's service.name. */
async function collector(): Promise<{ server: Server; url: string; spans: Received[]; posts: { path: string; type: string }[]; close(): Promise<void> }> {
  const spans: Received[] = [];
  const posts: { path: string; type: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      posts.push({ path: req.url ?? '', type: req.headers['content-type'] ?? '' });
      const doc = JSON.parse(body) as { resourceSpans: { resource: { attributes: OtlpAttr[] }; scopeSpans: { spans: OtlpSpan[] }[] }[] };
      for (const rs of doc.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
        for (const ss of rs.scopeSpans) for (const span of ss.spans) spans.push({ service, span });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    posts,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const attr = (s: OtlpSpan, key: string) => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v?.stringValue ?? (v?.intValue !== undefined ? Number(v.intValue) : undefined);
};

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  for (const end = Date.now() + ms; !cond() && Date.now() < end; ) await sleep(20);
}

// Two sidecars in a chain: app "frontend" -> its outbound listener -> reviews' inbound listener -> the app.
let app: Upstream;
let col: Awaited<ReturnType<typeof collector>>;
let front: MeshProxy, back: MeshProxy;

beforeAll(async () => {
  [app, col] = await Promise.all([
    upstream('reviews', (req, res) => {
      const status = req.url === '/fail' ? 503 : 200;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ headers: req.headers }));
    }),
    collector(),
  ]);
  back = await startProxy([], { workload: 'reviews-v1', labels: { app: 'reviews', version: 'v1' }, appPort: app.port, otlpEndpoint: col.url, accessLog: true });
  front = await startProxy([se('reviews.local', 'reviews'), we('reviews-v1', 'reviews', back.ports.inbound)], { workload: 'frontend-v1', labels: { app: 'frontend' }, otlpEndpoint: col.url, accessLog: true });
});

afterAll(async () => {
  await Promise.all([front.shutdown(100), back.shutdown(100)]);
  await Promise.all([app.close(), col.close()]);
});

describe('x-request-id', () => {
  it('is generated when missing, reaches the app, and both access logs carry the same one', async () => {
    logs.length = 0;
    const r = await send(front.ports.outbound, 'reviews.local', '/rid');
    const seen = JSON.parse(r.body) as { headers: Record<string, string> };
    const id = seen.headers['x-request-id']!;
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const lines = logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.path === '/rid');
    expect(lines.map((l) => l.reporter).sort()).toEqual(['destination', 'source']);
    for (const l of lines) expect(l.request_id).toBe(id);
  });

  it('the inbound listener generates one for a caller without a sidecar, and keeps a caller\'s', async () => {
    const a = JSON.parse((await send(back.ports.inbound, 'reviews.local', '/direct')).body) as { headers: Record<string, string> };
    expect(a.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const b = JSON.parse((await send(back.ports.inbound, 'reviews.local', '/direct', { headers: { 'x-request-id': 'mine' } })).body) as { headers: Record<string, string> };
    expect(b.headers['x-request-id']).toBe('mine');
  });

  it('an empty x-request-id is replaced, not sent twice', async () => {
    const r = JSON.parse((await send(front.ports.outbound, 'reviews.local', '/empty', { headers: { 'x-request-id': '' } })).body) as { headers: Record<string, string> };
    expect(r.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('tracing', () => {
  it('starts a trace when the request has none; spans of both sidecars reach the collector linked', async () => {
    col.spans.length = 0;
    const r = await send(front.ports.outbound, 'reviews.local', '/trace?x=1');
    const h = (JSON.parse(r.body) as { headers: Record<string, string> }).headers;
    const tp = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(h.traceparent ?? '');
    expect(tp).not.toBeNull();
    const [, traceId, appParent] = tp!;
    expect(h['x-b3-traceid']).toBe(traceId);
    expect(h['x-b3-spanid']).toBe(appParent);
    expect(h['x-b3-sampled']).toBe('1');
    await Promise.all([front.flushTraces(), back.flushTraces()]);
    await until(() => col.spans.filter((s) => s.span.traceId === traceId).length >= 2);
    const spans = col.spans.filter((s) => s.span.traceId === traceId);
    expect(spans).toHaveLength(2);
    const client = spans.find((s) => s.span.kind === 3)!;
    const server = spans.find((s) => s.span.kind === 2)!;
    expect(client.service).toBe('frontend.default');
    expect(server.service).toBe('reviews.default');
    expect(client.span.parentSpanId).toBeUndefined(); // the root: the request had no context
    expect(server.span.parentSpanId).toBe(client.span.spanId);
    expect(server.span.spanId).toBe(appParent); // the app's parent is the inbound sidecar's span
    expect(h['x-b3-parentspanid']).toBe(client.span.spanId);
    expect(client.span.name).toBe('reviews.local/*');
    for (const s of [client.span, server.span]) {
      expect(attr(s, 'http.request.method')).toBe('GET');
      expect(attr(s, 'url.path')).toBe('/trace?x=1');
      expect(attr(s, 'http.response.status_code')).toBe(200);
      expect(attr(s, 'guid:x-request-id')).toBe(h['x-request-id']);
      expect(s.status.code ?? 0).toBe(0); // UNSET
      expect(attr(s, 'server.address')).toBe('reviews.local');
      expect(BigInt(s.endTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(s.startTimeUnixNano));
      expect(Math.abs(Number(BigInt(s.startTimeUnixNano) / 1_000_000n) - Date.now())).toBeLessThan(60_000);
    }
    expect(attr(client.span, 'upstream_cluster')).toMatch(/reviews\.local/);
    expect(attr(server.span, 'upstream_cluster')).toMatch(/^inbound/);
    expect(col.posts.every((p) => p.path === '/v1/traces' && p.type === 'application/json')).toBe(true);
  });

  it('continues a W3C traceparent: same trace id, the caller\'s span is the parent', async () => {
    col.spans.length = 0;
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const r = await send(front.ports.outbound, 'reviews.local', '/w3c', { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, tracestate: 'vendor=1' } });
    const h = (JSON.parse(r.body) as { headers: Record<string, string> }).headers;
    expect(h.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(h.tracestate).toBe('vendor=1');
    await Promise.all([front.flushTraces(), back.flushTraces()]);
    await until(() => col.spans.length >= 2);
    const client = col.spans.find((s) => s.span.kind === 3)!.span;
    expect(client.traceId).toBe(traceId);
    expect(client.parentSpanId).toBe('00f067aa0ba902b7');
  });

  it('continues B3 (64-bit trace id padded to 128), and a 5xx is an error span', async () => {
    col.spans.length = 0;
    const r = await send(front.ports.outbound, 'reviews.local', '/fail', { headers: { 'x-b3-traceid': '463ac35c9f6413ad', 'x-b3-spanid': 'a2fb4a1d1a96d312', 'x-b3-sampled': '1' } });
    expect(r.status).toBe(503);
    await Promise.all([front.flushTraces(), back.flushTraces()]);
    await until(() => col.spans.length >= 4);
    const client = col.spans.find((s) => s.span.kind === 3)!.span;
    expect(client.traceId).toBe('0000000000000000463ac35c9f6413ad');
    expect(client.parentSpanId).toBe('a2fb4a1d1a96d312');
    expect(attr(client, 'http.response.status_code')).toBe(503);
    expect(client.status.code).toBe(2);
    expect(client.status.message).toBe('URX'); // Istio's default retry policy retried the 503s
    const servers = col.spans.filter((s) => s.span.kind === 2).map((s) => s.span);
    expect(servers).toHaveLength(3); // each attempt is a server span under the one client span
    for (const s of servers) expect(s.parentSpanId).toBe(client.spanId);
    expect(servers[0]!.status.message).toBe('HTTP 503');
  });

  it('a caller\'s "not sampled" is kept: propagated with flag 00, no span exported', async () => {
    col.spans.length = 0;
    const r = await send(front.ports.outbound, 'reviews.local', '/unsampled', { headers: { b3: '0' } });
    const h = (JSON.parse(r.body) as { headers: Record<string, string> }).headers;
    expect(h.traceparent).toMatch(/-00$/);
    expect(h['x-b3-sampled']).toBe('0');
    expect(h.b3).toBeUndefined();
    await Promise.all([front.flushTraces(), back.flushTraces()]);
    await sleep(50);
    expect(col.spans).toHaveLength(0);
  });
});

describe('span export when the collector is down', () => {
  it('never slows or fails a request: spans are dropped and counted, the buffer stays bounded', async () => {
    const dead = await collector();
    const deadUrl = dead.url;
    await dead.close(); // nothing listens there now: every post is refused
    const a = await upstream('a');
    const p = await startProxy([se('a.local', 'a'), we('a-1', 'a', a.port)], { otlpEndpoint: deadUrl });
    try {
      for (let i = 0; i < 30; i++) expect((await send(p.ports.outbound, 'a.local', '/')).status).toBe(200);
      await p.flushTraces();
      expect(p.tracing).toMatchObject({ exported: 0, dropped: 30, buffered: 0 });
    } finally {
      await p.shutdown(100);
      await a.close();
    }
  });

  it('a full buffer drops new spans instead of growing', () => {
    const t = new Tracer({ endpoint: 'http://127.0.0.1:9', serviceName: 's', namespace: 'n', canonicalService: 's', samplingPercent: 100, maxBuffer: 3, batchSize: 100, flushMs: 60_000 });
    const req = { start: performance.now(), reporter: 'source' as const, authority: 'x', req: { method: 'GET', url: '/' }, traceId: '', spanId: '', parentSpanId: '', sampled: false, status: 200, flag: '-', requestId: 'r', requestBytes: 0, responseBytes: 0, cluster: undefined, endpoint: undefined };
    for (let i = 0; i < 5; i++) {
      t.inject([], req);
      t.finished(req, performance.now());
    }
    expect(t.buffered).toBe(3);
    expect(t.dropped).toBe(2);
    void t.close(0);
  });
});
