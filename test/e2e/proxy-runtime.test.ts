import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FREE_PROXY_PORTS, get, portOf, processTracker, reviewsLocalMesh, serve, type MeshctlProcess } from '../helpers/processes.js';
import { meshctl } from '../helpers/run-meshctl.js';

/**
 * `meshctl proxy` (the built binary) validates its flags, then execs in place into
 * dist/proxy-config.cjs or dist/proxy-discovery.cjs, CommonJS bundles of the proxy alone. These
 * tests check that the process really is the runtime (same PID, V8 flag, original args still in
 * argv for ps/pgrep), that it serves, that it leaves out the Node modules it has no use for (each
 * costs a sidecar's idle RSS), and that its errors and exit codes are the ones the in-process
 * command gives.
 */

let dir: string;
let v1: Server, v2: Server;
const { start, killAll } = processTracker();

function exitOf(p: MeshctlProcess): Promise<number | null> {
  if (p.child.exitCode !== null) return Promise.resolve(p.child.exitCode);
  return new Promise((resolve) => p.child.once('exit', (code) => resolve(code)));
}

/** argv of a live process, as `ps` and `pgrep -f` see it. */
function argvOf(pid: number | undefined): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
}

beforeAll(async () => {
  [v1, v2] = await Promise.all([serve('v1'), serve('v2')]);
  dir = mkdtempSync(join(tmpdir(), 'meshctl-proxy-runtime-e2e-'));
  writeFileSync(join(dir, 'mesh.yaml'), reviewsLocalMesh(portOf(v1), portOf(v2), 0));
});

afterAll(() => {
  killAll();
  v1.close();
  v2.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * NODE_OPTIONS survives the exec, so this preload sees the runtime: it writes the built-in modules
 * the process loaded to `file` when the proxy exits.
 */
function moduleListPreload(): { env: Record<string, string>; loaded: () => string[] } {
  const file = join(dir, `modules-${Math.random().toString(36).slice(2)}.txt`);
  const preload = join(dir, 'module-list.cjs');
  writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(file)}, process.moduleLoadList.join('\\n')));\n`);
  return { env: { NODE_OPTIONS: `--require ${preload}` }, loaded: () => readFileSync(file, 'utf8').split('\n') };
}

/**
 * Built-in modules a sidecar has no use for: node:http is not its HTTP stack, crypto and fs/promises
 * are the CLI's. (The YAML parser and the file store are kept out of both runtime bundles by
 * scripts/build.mjs, which fails the build if either is bundled.)
 */
const UNNEEDED = ['NativeModule http', 'NativeModule _http_server', 'NativeModule crypto', 'NativeModule fs/promises', 'NativeModule tls'];

it.runIf(process.platform === 'linux')('--config DIR runs from dist/proxy-config.cjs in the same PID, keeps the original args in argv, serves and drains', async () => {
  const modules = moduleListPreload();
  const proxy = start(['proxy', '--config', dir, '--workload', 'e2e', '-n', 'default', ...FREE_PROXY_PORTS], modules.env);
  const ready = JSON.parse(await proxy.waitFor((l) => l.includes('"event":"ready"'), 0, 10_000)) as { ports: { outbound: number }; workload: string; namespace: string };
  expect(ready).toMatchObject({ workload: 'e2e', namespace: 'default' });

  const argv = argvOf(proxy.child.pid);
  const script = argv.findIndex((a) => a.endsWith('/dist/proxy-config.cjs'));
  expect(script).toBeGreaterThan(0);
  expect(argv.slice(1, script)).toContain('--max-semi-space-size=4');
  // The CLI's own args follow the runtime, so `pgrep -f "meshctl proxy"` still finds the sidecar.
  expect(argv.slice(script + 1).join(' ')).toMatch(/meshctl proxy --config /);

  expect((await get(ready.ports.outbound, 'reviews.local', '/r')).body).toBe('v1 /r');
  // The directory was compiled by dist/proxy-compile.cjs in a child process, which has exited.
  const pid = proxy.child.pid!;
  expect(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim()).toBe('');

  const exited = exitOf(proxy);
  proxy.child.kill('SIGTERM');
  expect(await exited).toBe(0);
  const events = proxy.lines.map((l) => (JSON.parse(l) as { event?: string }).event);
  expect(events).toEqual(['ready', 'draining', 'stopped']);
  expect(modules.loaded()).toContain('NativeModule net');
  expect(modules.loaded().filter((m) => UNNEEDED.includes(m))).toEqual([]);
});

it('a missing --config dir: the same stderr line and exit code (69) as the in-process command; -v shows the runtime raised it', async () => {
  const missing = join(dir, 'no-such-dir');
  const inProcess = await meshctl(['proxy', '--config', missing, ...FREE_PROXY_PORTS]);
  expect(inProcess.exitCode).toBe(69);

  const p = start(['proxy', '--config', missing, ...FREE_PROXY_PORTS]);
  expect(await exitOf(p)).toBe(69);
  expect(p.lines.filter(Boolean)).toEqual(inProcess.stderr.trim().split('\n'));
  expect(p.lines[0]).toBe(`Error: local mesh directory ${missing} does not exist (create it with \`meshctl install --local DIR\`, or pass an existing directory)`);

  const verbose = start(['proxy', '-v', '--config', missing, ...FREE_PROXY_PORTS]);
  expect(await exitOf(verbose)).toBe(69);
  expect(verbose.lines[0]).toBe(p.lines[0]);
  expect(verbose.lines.join('\n')).toMatch(/^\[E_CLUSTER_UNREACHABLE\] ClusterError: .*\n(.*\n)*.*proxy-config\.cjs/m);
});

it('a port already in use: exit 69 with the one-line error the in-process command prints', async () => {
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const port = String(portOf(taken));
  const args = ['proxy', '--config', dir, ...FREE_PROXY_PORTS.map((a, i) => (FREE_PROXY_PORTS[i - 1] === '--outbound-port' ? port : a))];
  try {
    const inProcess = await meshctl(args);
    const p = start(args);
    expect(await exitOf(p)).toBe(69);
    expect(inProcess.exitCode).toBe(69);
    expect(p.lines.filter(Boolean)).toEqual(inProcess.stderr.trim().split('\n'));
    expect(p.lines[0]).toBe(`Error: port 127.0.0.1:${port} is already in use (pick another port (0 picks a free one))`);
  } finally {
    taken.close();
  }
});

it('a flag error is still reported by the CLI before any exec (exit 64)', async () => {
  const p = start(['proxy', '--config', dir, '--outbound-port', '99999']);
  expect(await exitOf(p)).toBe(64);
  expect(p.lines.filter(Boolean)).toEqual(['Error: --outbound-port 99999 is not a port (use a number from 0 (any free port) to 65535)']);
});

it.runIf(process.platform === 'linux')('--discovery runs from dist/proxy-discovery.cjs (no YAML parser, no file store) and serves what the controller streams', async () => {
  const ctl = start(['--local', dir, 'controller', '--discovery-port', '0', '--monitoring-port', '0', '--address', '127.0.0.1', '--heartbeat-seconds', '1']);
  const { ports } = JSON.parse(await ctl.waitFor((l) => l.includes('"event":"ready"'))) as { ports: { discovery: number } };
  const modules = moduleListPreload();
  const proxy = start(['proxy', '--discovery', `http://127.0.0.1:${ports.discovery}`, '--workload', 'e2e', '-n', 'default', ...FREE_PROXY_PORTS], modules.env);
  const ready = JSON.parse(await proxy.waitFor((l) => l.includes('"event":"ready"'))) as { ports: { outbound: number } };
  expect(argvOf(proxy.child.pid).some((a) => a.endsWith('/dist/proxy-discovery.cjs'))).toBe(true);
  expect((await get(ready.ports.outbound, 'reviews.local', '/r')).body).toBe('v1 /r');
  const exited = exitOf(proxy);
  proxy.child.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(modules.loaded().filter((m) => UNNEEDED.includes(m))).toEqual([]);
  ctl.child.kill('SIGTERM');
  await exitOf(ctl);
});
