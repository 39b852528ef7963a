import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FREE_PROXY_PORTS, get, portOf, reviewsLocalMesh, serve, spawnMeshctl, type MeshctlProcess } from '../helpers/processes.js';

let dir: string;
let v1: Server, v2: Server;
let proxy: MeshctlProcess;

const mesh = (weightV2: number): string => reviewsLocalMesh(portOf(v1), portOf(v2), weightV2);

beforeAll(async () => {
  [v1, v2] = await Promise.all([serve('v1'), serve('v2')]);
  dir = mkdtempSync(join(tmpdir(), 'meshctl-proxy-e2e-'));
  writeFileSync(join(dir, 'mesh.yaml'), mesh(0));
  proxy = spawnMeshctl(['proxy', '--config', dir, '--workload', 'e2e', '-n', 'default', ...FREE_PROXY_PORTS]);
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
  if (process.platform === 'linux') expect(readFileSync(`/proc/${proxy.child.pid}/cmdline`, 'utf8').split('\0')).toContain('--max-semi-space-size=4');
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
