import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { get, portOf, serve, spawnMeshctl, type MeshctlProcess } from '../helpers/processes.js';

let dir: string;
let v1: Server, v2: Server;
let proxy: MeshctlProcess;

const mesh = (weightV2: number) => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews.local]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  workloadSelector: {labels: {app: reviews}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-v1, namespace: default}
spec: {address: 127.0.0.1, ports: {http: ${portOf(v1)}}, labels: {app: reviews, version: v1}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-v2, namespace: default}
spec: {address: 127.0.0.1, ports: {http: ${portOf(v2)}}, labels: {app: reviews, version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews.local
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews.local]
  http:
  - route:
    - {destination: {host: reviews.local, subset: v1}, weight: ${100 - weightV2}}
    - {destination: {host: reviews.local, subset: v2}, weight: ${weightV2}}
`;

beforeAll(async () => {
  [v1, v2] = await Promise.all([serve('v1'), serve('v2')]);
  dir = mkdtempSync(join(tmpdir(), 'meshctl-proxy-e2e-'));
  writeFileSync(join(dir, 'mesh.yaml'), mesh(0));
  proxy = spawnMeshctl(['proxy', '--config', dir, '--workload', 'e2e', '-n', 'default', '--outbound-port', '0', '--inbound-port', '0', '--admin-port', '0', '--stats-port', '0', '--health-port', '0', '--bind', '127.0.0.1']);
});

afterAll(() => {
  proxy.child.kill('SIGKILL');
  v1.close();
  v2.close();
  rmSync(dir, { recursive: true, force: true });
});

it('serves the mesh in --config DIR, reloads on edit, survives a broken edit, and drains on SIGTERM', async () => {
  const ready = JSON.parse(await proxy.waitFor((l) => l.includes('"event":"ready"'), 0, 10_000)) as { ports: { outbound: number; admin: number; health: number }; version: string };
  expect(ready.ports.outbound).toBeGreaterThan(0);
  // The CLI re-executed itself in place (same PID, so signals from a supervisor still reach it) with
  // the proxy's V8 heap flags.
  if (process.platform === 'linux') expect(readFileSync(`/proc/${proxy.child.pid}/cmdline`, 'utf8').split('\0')).toContain('--max-semi-space-size=2');
  expect((await get(ready.ports.outbound, 'reviews.local', '/r')).body).toBe('v1 /r');
  expect((await get(ready.ports.health, 'x', '/healthz/ready')).status).toBe(200);

  writeFileSync(join(dir, 'mesh.yaml'), mesh(100));
  const reload = JSON.parse(await proxy.waitFor((l) => l.includes('"event":"reload"'), 0, 10_000)) as { version: string };
  expect(reload.version).not.toBe(ready.version);
  expect((await get(ready.ports.outbound, 'reviews.local', '/r')).body).toBe('v2 /r');
  const dump = JSON.parse((await get(ready.ports.admin, 'admin', '/config_dump')).body) as { version: string };
  expect(dump.version).toBe(reload.version);

  // A half-saved, broken file keeps the last good config serving.
  const before = proxy.lines.length;
  writeFileSync(join(dir, 'mesh.yaml'), mesh(100) + '\n  - {destination: [unclosed\n');
  await proxy.waitFor((l) => proxy.lines.indexOf(l) >= before && l.includes('"level"'), 0, 10_000);
  expect((await get(ready.ports.outbound, 'reviews.local', '/r')).body).toBe('v2 /r');

  const exited = new Promise<number | null>((r) => proxy.child.once('exit', (code) => r(code)));
  proxy.child.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(proxy.lines.some((l) => l.includes('"event":"stopped"'))).toBe(true);
});
