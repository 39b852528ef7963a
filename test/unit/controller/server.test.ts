import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Context } from '../../../src/context.js';
import { runController } from '../../../src/controller/run.js';
import { FileStore } from '../../../src/store/file-store.js';
import { meshctl } from '../../helpers/run-meshctl.js';

const vs = (subset: string) => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: default}
spec: {hosts: [reviews.local], ports: [{number: 80, name: http, protocol: HTTP}], resolution: STATIC, endpoints: [{address: 10.0.0.1, labels: {version: v1}}, {address: 10.0.0.2, labels: {version: v2}}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec: {host: reviews.local, subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec: {hosts: [reviews.local], http: [{route: [{destination: {host: reviews.local, subset: ${subset}}}]}]}
`;

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function fakeContext(d: string, out: string[]): Context {
  return {
    io: { stdout: { write: (s: string) => out.push(...s.trim().split('\n')) }, stderr: { write: () => true }, stdin: process.stdin, isTTY: false, color: false },
    globals: { allNamespaces: false, output: 'table', color: false, verbose: false, local: d },
    env: {},
    cwd: d,
    now: () => new Date(),
    store: () => FileStore.open(d),
    namespace: () => Promise.resolve('default'),
    info: () => undefined,
    debug: () => undefined,
  };
}

async function until<T>(f: () => T | undefined, ms = 5000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function fetchText(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    httpGet(url, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('controller discovery server', () => {
  it('streams a snapshot at once, another on change, heartbeats between; ends streams on stop', async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshctl-ctl-unit-'));
    writeFileSync(join(dir, 'mesh.yaml'), vs('v1'));
    const out: string[] = [];
    let stop: () => void = () => undefined;
    const running = runController(fakeContext(dir, out), { ports: { discovery: 0, monitoring: 0, webhook: 0 }, address: '127.0.0.1', heartbeatMs: 100, proxyImage: 'img', injectDiscoveryAddress: 'http://x:15010', stop: new Promise<void>((r) => (stop = r)) });
    const ready = JSON.parse(await until(() => out.find((l) => l.includes('"event":"ready"')))) as { ports: { discovery: number; monitoring: number } };
    const base = `http://127.0.0.1:${ready.ports.discovery}`;

    expect((await fetchText(`${base}/v1/snapshot?namespace=default`)).status).toBe(400);
    expect((await fetchText(`${base}/other`)).status).toBe(404);

    const lines: { type: string; snapshot?: { version: string; virtualHosts: { host: string; ports: { routes: { destinations?: { cluster: string }[] }[] }[] }[] } }[] = [];
    let ended = false;
    const res = await new Promise<IncomingMessage>((r) => httpGet(`${base}/v1/snapshot?workload=productpage&namespace=default`, r));
    expect(res.headers['content-type']).toBe('application/x-ndjson');
    let buf = '';
    res.on('data', (c: Buffer) => {
      buf += c.toString();
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      for (const p of parts) lines.push(JSON.parse(p) as (typeof lines)[number]);
    });
    res.on('end', () => (ended = true));
    const cluster = (i: number) => lines.filter((l) => l.type === 'snapshot')[i]?.snapshot?.virtualHosts.find((v) => v.host === 'reviews.local')?.ports[0]?.routes[0]?.destinations?.[0]?.cluster;
    await until(() => cluster(0));
    expect(cluster(0)).toBe('outbound|80|v1|reviews.local');
    await until(() => lines.find((l) => l.type === 'heartbeat'));

    writeFileSync(join(dir, 'mesh.yaml'), vs('v2'));
    expect(await until(() => cluster(1))).toBe('outbound|80|v2|reviews.local');

    const metrics = (await fetchText(`http://127.0.0.1:${ready.ports.monitoring}/metrics`)).body;
    expect(metrics).toMatch(/^meshctl_controller_connected_proxies 1$/m);
    expect(metrics).toMatch(/^meshctl_controller_compile_seconds_count 2$/m);
    expect((await fetchText(`http://127.0.0.1:${ready.ports.monitoring}/ready`)).status).toBe(200);

    stop();
    await running;
    await until(() => (ended ? true : undefined));
    expect(out.at(-1)).toContain('"event":"stopped"');
  });
});

describe('meshctl controller errors', () => {
  it('exits 69 when the store cannot be reached', async () => {
    const r = await meshctl(['--local', join(tmpdir(), 'meshctl-no-such-dir-xyz'), 'controller', '--discovery-port', '0', '--monitoring-port', '0', '--address', '127.0.0.1']);
    expect(r.exitCode).toBe(69);
    expect(r.stderr).toContain('does not exist');
  });
  it('exits 64 on a bad port', async () => {
    const r = await meshctl('controller --discovery-port 99999');
    expect(r.exitCode).toBe(64);
    expect(r.stderr).toContain('--discovery-port 99999 is not a port');
  });
});
