import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FREE_PROXY_PORTS, get, portOf, processTracker, reviewsLocalMesh, serve } from '../helpers/processes.js';

let dir: string;
let v1: Server, v2: Server;
const { start, killAll } = processTracker();

/** Polls until the outbound listener routes reviews.local to `want`; returns how long it took. */
async function routesTo(port: number, want: string, ms = 10_000): Promise<number> {
  const t0 = Date.now();
  let last = '';
  while (Date.now() - t0 < ms) {
    last = (await get(port, 'reviews.local', '/r')).body;
    if (last === `${want} /r`) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`still routed to "${last}" after ${ms} ms`);
}

const mesh = (weightV2: number): string => reviewsLocalMesh(portOf(v1), portOf(v2), weightV2);

const controllerArgs = (discoveryPort: number) => ['--local', dir, 'controller', '--discovery-port', String(discoveryPort), '--monitoring-port', '0', '--address', '127.0.0.1', '--heartbeat-seconds', '1'];

beforeAll(async () => {
  [v1, v2] = await Promise.all([serve('v1'), serve('v2')]);
  dir = mkdtempSync(join(tmpdir(), 'meshctl-controller-e2e-'));
  writeFileSync(join(dir, 'mesh.yaml'), mesh(0));
});

afterAll(() => {
  killAll();
  v1.close();
  v2.close();
  rmSync(dir, { recursive: true, force: true });
});

it('controller streams config to proxy --discovery; edits route within a bounded wait; the proxy outlives a controller restart', async () => {
  const ctl = start(controllerArgs(0));
  const ctlReady = JSON.parse(await ctl.waitFor((l) => l.includes('"event":"ready"'))) as { ports: { discovery: number; monitoring: number } };
  const { discovery, monitoring } = ctlReady.ports;
  expect((await get(monitoring, 'x', '/ready')).status).toBe(200);

  const proxy = start(['proxy', '--discovery', `http://127.0.0.1:${discovery}`, '--workload', 'e2e', '-n', 'default', ...FREE_PROXY_PORTS]);
  const ready = JSON.parse(await proxy.waitFor((l) => l.includes('"event":"ready"'))) as { ports: { outbound: number; admin: number }; version: string };
  expect((await get(ready.ports.outbound, 'reviews.local', '/r')).body).toBe('v1 /r');
  const metrics = (await get(monitoring, 'x', '/metrics')).body;
  expect(metrics).toMatch(/^meshctl_controller_connected_proxies 1$/m);
  expect((await get(ready.ports.admin, 'admin', '/stats')).body).toContain('discovery.state: connected');

  // An edit to the directory reaches the proxy through the controller.
  writeFileSync(join(dir, 'mesh.yaml'), mesh(100));
  await routesTo(ready.ports.outbound, 'v2');
  const dump = JSON.parse((await get(ready.ports.admin, 'admin', '/config_dump')).body) as { version: string; listeners: { outbound: { port: number } } };
  expect(dump.version).not.toBe(ready.version);
  expect(dump.listeners.outbound.port).toBe(ready.ports.outbound);
  expect((await get(monitoring, 'x', '/metrics')).body).toMatch(/^meshctl_controller_pushes_total [2-9]/m);

  // The controller goes away: the proxy says so and keeps serving its last snapshot.
  const mark = proxy.lines.length;
  const exited = new Promise<number | null>((r) => ctl.child.once('exit', (code) => r(code)));
  ctl.child.kill('SIGTERM');
  expect(await exited).toBe(0);
  await proxy.waitFor((l) => l.includes('"state":"disconnected"'), mark);
  for (let i = 0; i < 5; i++) expect((await get(ready.ports.outbound, 'reviews.local', '/r')).body).toBe('v2 /r');
  expect((await get(ready.ports.admin, 'admin', '/stats')).body).toMatch(/discovery\.state: (disconnected|connecting)/);

  // A new controller on the same port: the proxy reconnects and follows edits again.
  writeFileSync(join(dir, 'mesh.yaml'), mesh(0));
  const ctl2 = start(controllerArgs(discovery));
  await ctl2.waitFor((l) => l.includes('"event":"ready"'));
  await proxy.waitFor((l) => l.includes('"state":"connected"'), mark);
  await routesTo(ready.ports.outbound, 'v1');

  const proxyExit = new Promise<number | null>((r) => proxy.child.once('exit', (code) => r(code)));
  proxy.child.kill('SIGTERM');
  expect(await proxyExit).toBe(0);
  const ctl2Exit = new Promise<number | null>((r) => ctl2.child.once('exit', (code) => r(code)));
  ctl2.child.kill('SIGTERM');
  expect(await ctl2Exit).toBe(0);
});

it('a fault with an expiry stops on time in the proxy even when the controller is gone', async () => {
  const expires = new Date(Date.now() + 6000).toISOString();
  writeFileSync(
    join(dir, 'mesh.yaml'),
    mesh(0).replace('metadata: {name: reviews, namespace: default}\nspec:\n  hosts: [reviews.local]\n  http:\n  - route:', `metadata: {name: reviews, namespace: default, annotations: {meshctl.io/fault-expires: '{"meshctl-fault-e2e":"${expires}"}'}}\nspec:\n  hosts: [reviews.local]\n  http:\n  - name: meshctl-fault-e2e\n    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}\n    route:`),
  );
  const ctl = start(controllerArgs(0));
  const { ports } = JSON.parse(await ctl.waitFor((l) => l.includes('"event":"ready"'))) as { ports: { discovery: number } };
  const proxy = start(['proxy', '--discovery', `http://127.0.0.1:${ports.discovery}`, '--workload', 'e2e', '-n', 'default', ...FREE_PROXY_PORTS]);
  const ready = JSON.parse(await proxy.waitFor((l) => l.includes('"event":"ready"'))) as { ports: { outbound: number } };
  expect((await get(ready.ports.outbound, 'reviews.local', '/r')).status).toBe(418);
  ctl.child.kill('SIGKILL'); // gone without a goodbye
  await proxy.waitFor((l) => l.includes('"state":"disconnected"'));
  expect(Date.now()).toBeLessThan(new Date(expires).getTime());
  expect((await get(ready.ports.outbound, 'reviews.local', '/r')).status).toBe(418);
  await proxy.waitFor((l) => l.includes('"source":"fault-expiry"'), 0, 15_000);
  expect(Date.now()).toBeGreaterThanOrEqual(new Date(expires).getTime());
  expect(await get(ready.ports.outbound, 'reviews.local', '/r')).toEqual({ status: 200, body: 'v1 /r' });
  proxy.child.kill('SIGTERM');
});

it('exits 64 on a bad --discovery address, without starting', async () => {
  const p = start(['proxy', '--discovery', 'ftp://x', '--outbound-port', '0']);
  const code = await new Promise<number | null>((r) => p.child.once('exit', (c) => r(c)));
  expect(code).toBe(64);
  expect(p.lines.join('\n')).toContain('--discovery ftp://x is not an http:// address');
});
