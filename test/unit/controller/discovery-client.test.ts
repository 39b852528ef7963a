import { createServer, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { backoffDelay, DiscoveryClient, LineSplitter, parseLine, streamUrl, type SnapshotMessage } from '../../../src/proxy/discovery.js';

const line = (version: string, generation = 1) => JSON.stringify({ type: 'snapshot', generation, snapshot: { version }, upcoming: [] }) + '\n';

async function until(pred: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('stream protocol pieces', () => {
  it('splits lines across chunks and keeps a partial line for later', () => {
    const s = new LineSplitter();
    expect(s.push('{"a":1}\n{"b"')).toEqual(['{"a":1}']);
    expect(s.push(':2}\n\n')).toEqual(['{"b":2}']);
    expect(() => new LineSplitter(4).push('123456')).toThrow(/longer than 4 bytes/);
  });
  it('accepts snapshots and heartbeats, rejects anything else', () => {
    expect(parseLine(line('abc')).type).toBe('snapshot');
    expect(parseLine('{"type":"heartbeat","generation":3}')).toEqual({ type: 'heartbeat', generation: 3 });
    expect(() => parseLine('{"type":"snapshot"}')).toThrow(/unexpected discovery line/);
    expect(() => parseLine('nope')).toThrow();
  });
  it('bounds the jittered backoff', () => {
    expect(backoffDelay(0, 250, 10_000, () => 0)).toBe(125);
    expect(backoffDelay(0, 250, 10_000, () => 0.999)).toBeLessThanOrEqual(250);
    expect(backoffDelay(50, 250, 10_000, () => 0.999)).toBeLessThanOrEqual(10_000);
    expect(backoffDelay(50, 250, 10_000, () => 0)).toBe(5000);
  });
  it('builds the stream URL from the proxy identity', () => {
    const u = streamUrl('http://127.0.0.1:15010', { workload: 'w', namespace: 'n', labels: { version: 'v2', app: 'x' }, appPort: 9080 });
    expect(u.pathname).toBe('/v1/snapshot');
    expect(u.searchParams.getAll('label')).toEqual(['app=x', 'version=v2']);
    expect(u.searchParams.get('appPort')).toBe('9080');
    expect(() => streamUrl('https://x:1', { workload: 'w', namespace: 'n' })).toThrow(/only http/);
  });
});

describe('DiscoveryClient', () => {
  let server: Server | undefined;
  let client: DiscoveryClient | undefined;
  afterEach(async () => {
    client?.stop();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r) ?? r(undefined));
  });

  it('applies each snapshot, reconnects after the stream ends, and reports its state', async () => {
    const streams: ServerResponse[] = [];
    let requests = 0;
    server = createServer((req, res) => {
      requests++;
      expect(req.url).toContain('workload=w');
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(line(`v${requests}`));
      streams.push(res);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const got: SnapshotMessage[] = [];
    const states: string[] = [];
    client = new DiscoveryClient({
      address: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      key: { workload: 'w', namespace: 'n' },
      onSnapshot: (m) => got.push(m),
      log: (f) => states.push(String(f.state)),
      backoff: { initialMs: 20, maxMs: 100 },
    });
    client.start();
    await until(() => got.length === 1);
    expect(client.state).toBe('connected');
    streams[0]!.write(line('v1b', 2));
    await until(() => got.length === 2);
    expect(got[1]!.snapshot.version).toBe('v1b');

    streams[0]!.end(); // the controller went away (or restarted)
    await until(() => got.length === 3);
    expect(got[2]!.snapshot.version).toBe('v2');
    expect(states).toEqual(['connected', 'disconnected', 'connecting', 'connected']);
    expect(client.connects).toBe(2);
    expect(client.stats()).toContain('discovery.state: connected');
  });

  it('counts a silent stream as dead after the idle timeout and reconnects', async () => {
    let requests = 0;
    server = createServer((_req, res) => {
      requests++;
      res.writeHead(200);
      if (requests === 1) res.write(line('first')); // then silence: no heartbeats
      else res.write(line('second'));
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const got: string[] = [];
    const errors: unknown[] = [];
    client = new DiscoveryClient({
      address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
      key: { workload: 'w', namespace: 'n' },
      onSnapshot: (m) => got.push(m.snapshot.version),
      log: (f) => f.error && errors.push(f.error),
      idleTimeoutMs: 150,
      backoff: { initialMs: 10, maxMs: 20 },
    });
    client.start();
    await until(() => got.length === 2);
    expect(got).toEqual(['first', 'second']);
    expect(String(errors[0])).toMatch(/no line from the controller for 150 ms/);
  });

  it('backs off on refused connections and on HTTP errors, naming the reason', async () => {
    server = createServer((_req, res) => res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"workload is required"}'));
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const errors: string[] = [];
    client = new DiscoveryClient({
      address: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      key: { workload: 'w', namespace: 'n' },
      onSnapshot: () => undefined,
      log: (f) => void (f.error && errors.push(String(f.error))),
      backoff: { initialMs: 10, maxMs: 20 },
    });
    client.start();
    await until(() => errors.length >= 1);
    expect(errors[0]).toMatch(/HTTP 400: {"error":"workload is required"}/);
    expect(client.state).not.toBe('connected');
  });
});
