import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ClusterError } from '../../../src/core/errors.js';
import { compileDir } from '../../../src/proxy/config-compile.js';
import { ConfigDirSource, type DirCompiler } from '../../../src/proxy/config-source.js';
import type { MeshProxy } from '../../../src/proxy/proxy.js';
import { runProxy } from '../../../src/proxy/run.js';
import { runAt, SnapshotFeed, type CompiledConfig } from '../../../src/proxy/snapshot-feed.js';
import { startProxy, TEST_PROXY_OPTIONS, upstream } from './harness.js';

/**
 * `meshctl proxy --config DIR`'s change detection and compile step, in-process (the child-process
 * transport is tested against the built bundle in test/e2e/proxy-compile.test.ts). Real files,
 * real directory watches; every wait is bounded.
 */

let dir: string;
const key = { workload: 'client', namespace: 'default', labels: { app: 'client' } };
const sources: ConfigDirSource[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'meshctl-config-source-'));
});
afterEach(() => {
  for (const s of sources.splice(0)) s.stop();
  rmSync(dir, { recursive: true, force: true });
});

const service = (name: string, ns = 'default', timeout = '5s') => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${name}.local]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  workloadSelector: {labels: {app: ${name}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${name}.local]
  http: [{route: [{destination: {host: ${name}.local}}], timeout: ${timeout}}]
`;

/** An editor's atomic save: a temp file beside the target, renamed over it. */
function save(path: string, text: string): void {
  const tmp = join(dirname(path), `.tmp-${Math.random().toString(36).slice(2)}`);
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !cond(); ) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const hosts = (c: CompiledConfig) => c.snapshot.virtualHosts.map((v) => v.host).sort();

function open(opts: { compile?: DirCompiler; pollMs?: number; watch?: boolean } = {}) {
  const log: string[] = [];
  const configs: CompiledConfig[] = [];
  // The poll is off (a minute) unless a test asks for it, so the watches alone must see the changes.
  const source = new ConfigDirSource({ dir, key, compile: opts.compile ?? ((req) => compileDir(req)), log: (l) => void log.push(l), pollMs: 60_000, ...opts });
  sources.push(source);
  return { source, log, configs, follow: () => source.follow((c) => configs.push(c)) };
}

describe('ConfigDirSource', () => {
  it('compiles at start and again on an atomic save, an in-place write and a new file', async () => {
    save(join(dir, 'a.yaml'), service('a'));
    const s = open();
    const first = await s.source.first();
    expect(first.snapshot.virtualHosts.some((v) => v.host.startsWith('a.local'))).toBe(true);
    s.follow();

    save(join(dir, 'a.yaml'), service('a', 'default', '7s'));
    await until('the saved edit', () => s.configs.length === 1);
    expect(s.configs[0]!.snapshot.version).not.toBe(first.snapshot.version);

    writeFileSync(join(dir, 'b.yaml'), service('b'));
    await until('the new file', () => s.configs.some((c) => hosts(c).some((h) => h.startsWith('b.local'))));
    expect(s.log).toEqual([]);
  });

  it('an edit made between the first compile and follow() (the proxy binding its ports) is not lost', async () => {
    save(join(dir, 'a.yaml'), service('a'));
    const s = open();
    const first = await s.source.first();
    save(join(dir, 'a.yaml'), service('a', 'default', '7s'));
    await new Promise((r) => setTimeout(r, 100));
    s.follow();
    await until('the edit', () => s.configs.length === 1);
    expect(s.configs[0]!.snapshot.version).not.toBe(first.snapshot.version);
  });

  it('files the store does not read come and go without a compile', async () => {
    save(join(dir, 'a.yaml'), service('a'));
    const s = open();
    await s.source.first();
    s.follow();
    writeFileSync(join(dir, '.a.yaml.swp'), 'x');
    writeFileSync(join(dir, 'notes.txt'), 'x');
    writeFileSync(join(dir, 'notes.txt'), 'xy');
    rmSync(join(dir, '.a.yaml.swp'));
    await new Promise((r) => setTimeout(r, 200));
    expect(s.source.compiles).toBe(1);
    writeFileSync(join(dir, 'b.yml'), service('b'));
    await until('the new YAML file', () => s.configs.length === 1);
    expect(s.source.compiles).toBe(2);
  });

  it('follows a ConfigMap volume: YAML symlinks through a ..data link that is swapped', async () => {
    mkdirSync(join(dir, '..v1'));
    writeFileSync(join(dir, '..v1', 'mesh.yaml'), service('a'));
    symlinkSync('..v1', join(dir, '..data'));
    symlinkSync('..data/mesh.yaml', join(dir, 'mesh.yaml'));
    const s = open();
    const first = await s.source.first();
    expect(hosts(first)).toContain('a.local');
    s.follow();
    // What the kubelet does: write the new version aside, point a temp link at it, rename it over ..data.
    mkdirSync(join(dir, '..v2'));
    writeFileSync(join(dir, '..v2', 'mesh.yaml'), service('b'));
    symlinkSync('..v2', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    await until('the swapped config', () => s.configs.some((c) => hosts(c).includes('b.local')));
  });

  it('a save that changes nothing compiles but hands nothing out', async () => {
    save(join(dir, 'a.yaml'), service('a'));
    const s = open();
    await s.source.first();
    s.follow();
    save(join(dir, 'a.yaml'), service('a') + '# a comment\n');
    await until('the compile', () => s.source.compiles === 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(s.configs).toEqual([]);
  });

  it('a broken edit keeps the last good config and says why; the fix is picked up', async () => {
    save(join(dir, 'a.yaml'), service('a'));
    const s = open();
    const first = await s.source.first();
    s.follow();
    save(join(dir, 'a.yaml'), 'kind: VirtualService\nmetadata: {name: [\n');
    await until('the error line', () => s.log.length > 0);
    expect(JSON.parse(s.log[0]!)).toMatchObject({ level: 'error', msg: expect.stringMatching(new RegExp(`^config not applied, keeping version ${first.snapshot.version}: .*a\\.yaml`)) });
    expect(s.configs).toEqual([]);
    expect(s.source.failures).toBe(1);
    save(join(dir, 'a.yaml'), service('a', 'default', '9s'));
    await until('the fixed config', () => s.configs.length === 1);
  });

  it('watches a namespace directory made after start, and edits inside it', async () => {
    save(join(dir, 'a.yaml'), service('a'));
    const s = open();
    await s.source.first();
    s.follow();
    mkdirSync(join(dir, 'team'));
    writeFileSync(join(dir, 'team', 'c.yaml'), service('c', 'team'));
    await until('the file in the new directory', () => s.configs.some((c) => hosts(c).some((h) => h.startsWith('c.local'))));
    const n = s.configs.length;
    save(join(dir, 'team', 'c.yaml'), service('c', 'team', '3s'));
    await until('the save inside it', () => s.configs.length > n);
    writeFileSync(join(dir, 'team', 'c.yaml'), service('c', 'team', '4s'));
    await until('the in-place write inside it', () => s.configs.length > n + 1);
  });

  it('a namespace directory removed and made again is watched anew', async () => {
    mkdirSync(join(dir, 'team'));
    writeFileSync(join(dir, 'team', 'c.yaml'), service('c', 'team'));
    const s = open();
    await s.source.first();
    s.follow();
    rmSync(join(dir, 'team'), { recursive: true });
    mkdirSync(join(dir, 'team'));
    writeFileSync(join(dir, 'team', 'c.yaml'), service('c', 'team', '3s'));
    await until('the new directory', () => s.configs.length === 1);
    writeFileSync(join(dir, 'team', 'c.yaml'), service('c', 'team', '4s'));
    await until('an edit in the new directory (its own watch)', () => s.configs.length === 2);
  });

  it('a compiler that fails (no result) is retried on the next change, not on every poll', async () => {
    save(join(dir, 'a.yaml'), service('a'));
    let calls = 0;
    const s = open({
      pollMs: 20,
      compile: (req) => (++calls === 2 ? Promise.reject(new Error('the config compiler was killed by SIGKILL')) : compileDir(req)),
    });
    await s.source.first();
    s.follow();
    save(join(dir, 'a.yaml'), service('a', 'default', '2s'));
    await until('the failure', () => s.log.length === 1);
    expect(JSON.parse(s.log[0]!).msg).toMatch(/keeping version [0-9a-f]+: the config compiler was killed by SIGKILL$/);
    await new Promise((r) => setTimeout(r, 300));
    expect(calls).toBe(2);
    save(join(dir, 'a.yaml'), service('a', 'default', '3s'));
    await until('the next change', () => s.configs.length === 1);
    expect(calls).toBe(3);
  });

  it('without directory watches the poll of the stamps still sees a change', async () => {
    save(join(dir, 'a.yaml'), service('a'));
    const s = open({ watch: false, pollMs: 50 });
    await s.source.first();
    s.follow();
    writeFileSync(join(dir, 'a.yaml'), service('a', 'default', '8s'));
    await until('the polled change', () => s.configs.length === 1);
  });

  it('a missing directory fails the first compile with the store error (exit 69)', async () => {
    const s = new ConfigDirSource({ dir: join(dir, 'nope'), key, compile: (req) => compileDir(req), log: () => undefined });
    sources.push(s);
    const err = await s.first().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterError);
    expect((err as ClusterError).message).toBe(`local mesh directory ${join(dir, 'nope')} does not exist`);
  });

  it('runs one compile at a time: a burst of changes during a slow compile makes one more, not one each', async () => {
    save(join(dir, 'a.yaml'), service('a'));
    let running = 0;
    let most = 0;
    const slow: DirCompiler = async (req) => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 150));
      try {
        return await compileDir(req);
      } finally {
        running--;
      }
    };
    const s = open({ compile: slow });
    await s.source.first();
    s.follow();
    save(join(dir, 'a.yaml'), service('a', 'default', '1s'));
    await until('the compile to start', () => running === 1);
    for (let i = 2; i <= 6; i++) {
      save(join(dir, 'a.yaml'), service('a', 'default', `${i}s`));
      await new Promise((r) => setTimeout(r, 10));
    }
    await until('the last edit', () => s.configs.at(-1)?.snapshot.virtualHosts[0]?.ports[0]?.routes[0]?.timeoutMs === 6000);
    expect(most).toBe(1);
    expect(s.source.compiles).toBeLessThanOrEqual(4);
  });

  it('stop() aborts a compile in flight and hands nothing out afterwards', async () => {
    save(join(dir, 'a.yaml'), service('a'));
    let aborted = false;
    let started = 0;
    const s = open({
      compile: (req, signal) => {
        started++;
        if (started === 1) return compileDir(req);
        return new Promise((_, reject) => signal.addEventListener('abort', () => ((aborted = true), reject(new Error('stopped')))));
      },
    });
    await s.source.first();
    s.follow();
    save(join(dir, 'a.yaml'), service('a', 'default', '2s'));
    await until('the second compile', () => started === 2);
    s.source.stop();
    expect(aborted).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(s.configs).toEqual([]);
    expect(s.log).toEqual([]);
  });
});

describe('SnapshotFeed', () => {
  it('a first config the proxy cannot apply throws when strict (the start fails); later ones keep the last good', async () => {
    const p = await startProxy([]);
    try {
      save(join(dir, 'a.yaml'), service('a'));
      const good = await compileDir({ dir, key });
      if (!('config' in good)) throw new Error('no config');
      // A snapshot the compiler would not make: a rewrite pattern the router cannot compile.
      const bad = structuredClone(good.config);
      bad.snapshot.version = 'bad';
      bad.snapshot.virtualHosts[0]!.ports[0]!.routes[0]!.rewrite = { regex: { match: 'a)(b', rewrite: '/x' } };
      const lines: string[] = [];
      expect(() => new SnapshotFeed(p, TEST_PROXY_OPTIONS, (l) => void lines.push(l)).push(bad, 'config', { strict: true })).toThrow(/Invalid regular expression/);
      const feed = new SnapshotFeed(p, TEST_PROXY_OPTIONS, (l) => void lines.push(l));
      feed.push(good.config, 'config', { strict: true });
      feed.push(bad, 'config');
      expect(p.snapshot!.version).toBe(good.config.snapshot.version);
      expect(JSON.parse(lines.at(-1)!)).toMatchObject({ level: 'error', msg: expect.stringMatching(/^snapshot bad not applied, keeping version /) });
      expect(p.reloads).toBe(0);
    } finally {
      await p.shutdown(0);
    }
  });
});

describe('runAt', () => {
  it('waits out a delay past setTimeout\'s 24.8-day limit instead of firing early', () => {
    vi.useFakeTimers();
    try {
      let fired = 0;
      runAt(Date.now() + 30 * 86_400_000, () => fired++);
      vi.advanceTimersByTime(25 * 86_400_000);
      expect(fired).toBe(0);
      vi.advanceTimersByTime(5 * 86_400_000 + 10);
      expect(fired).toBe(1);
      const t = runAt(Date.now() + 1000, () => fired++);
      t.cancel();
      vi.advanceTimersByTime(2000);
      expect(fired).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });
});

/** runProxy on `dir` with the in-process compile step, as the CLI's fallback runs it. */
function startRunProxy() {
  let stop: () => void = () => undefined;
  let readyOf: (p: MeshProxy) => void = () => undefined;
  const ready = new Promise<MeshProxy>((r) => (readyOf = r));
  const lines: string[] = [];
  const done = runProxy(
    { io: { stdout: { write: (s: string) => lines.push(s) > 0 } as unknown as NodeJS.WritableStream } },
    {
      dir,
      compile: (req) => compileDir(req),
      ...TEST_PROXY_OPTIONS,
      metrics: false,
      drainMs: 100,
      stop: new Promise<void>((r) => (stop = r)),
      onReady: (p) => readyOf(p),
    },
  );
  return { done, lines, stop: () => stop(), ready };
}

describe('runProxy (--config DIR)', () => {
  it('a rewrite regex that does not compile skips its route with a warning; the proxy starts', async () => {
    save(join(dir, 'a.yaml'), service('a').replace('http: [{route:', "http: [{rewrite: {uriRegexRewrite: {match: 'a)(b', rewrite: '/x'}}, route:"));
    const r = startRunProxy();
    try {
      const p = await r.ready;
      expect(p.snapshot!.warnings.join('\n')).toMatch(/regex "a\)\(b" does not compile; route skipped/);
    } finally {
      r.stop();
      await r.done;
    }
  });

  it('drops a fault at its expiry and compiles afresh once the precompiled expiries are used up', async () => {
    const u = await upstream('u');
    const expires = new Date(Date.now() + 400).toISOString();
    writeFileSync(
      join(dir, 'mesh.yaml'),
      `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: svc, namespace: default}
spec: {hosts: [svc.local], ports: [{number: 80, name: http, protocol: HTTP}], resolution: STATIC, workloadSelector: {labels: {app: svc}}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: s1, namespace: default}
spec: {address: 127.0.0.1, ports: {http: ${u.port}}, labels: {app: svc}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: svc
  namespace: default
  annotations: {meshctl.io/fault-expires: '{"meshctl-fault-1": "${expires}"}'}
spec:
  hosts: [svc.local]
  http: [{name: meshctl-fault-1, fault: {abort: {httpStatus: 500, percentage: {value: 100}}}, route: [{destination: {host: svc.local}}]}]
`,
    );
    const { done, lines, stop, ready } = startRunProxy();
    let proxy: MeshProxy | undefined;
    void ready.then((p) => (proxy = p));
    try {
      await until('ready', () => proxy !== undefined);
      const route = () => proxy!.snapshot!.virtualHosts[0]!.ports[0]!.routes[0]!;
      expect(route().fault).toBeDefined();
      await until('the fault to expire', () => route().fault === undefined, 3000);
      expect(lines.join('')).toMatch(/"event":"reload","version":"[0-9a-f]+","source":"fault-expiry"/);
      // The only precompiled expiry was used: the source compiled again for what comes after it.
      await until('the compile after the last expiry', () => proxy!.extraStats!().includes('config.compiles: 2'));
    } finally {
      stop();
      await done;
      await u.close();
    }
  });
});
