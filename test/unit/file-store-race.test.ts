import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '../../src/api/resource.js';
import { FileStore } from '../../src/store/file-store.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

// Each racer is a separate Node process (its own module instance, its own cache, no shared memory),
// as two `meshctl canary shift --local DIR` runs would be. The store is bundled for it with esbuild
// because plain node cannot import the TypeScript sources.
const RACER = `
import { FileStore } from './src/store/file-store.ts';
const [dir, times, startAt] = process.argv.slice(2);
const store = await FileStore.open(dir);
// A start line shared by all racers, so that process start-up times do not serialise them.
await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt ?? 0) - Date.now())));
let retries = 0;
const started = performance.now();
for (let i = 0; i < Number(times); i++) {
  const res = await store.modify({ kind: 'VirtualService', namespace: 'shop', name: 'reviews' }, (cur) => {
    const n = Number(cur.metadata.annotations?.count ?? '0');
    return { ...cur, metadata: { ...cur.metadata, annotations: { ...cur.metadata.annotations, count: String(n + 1) } } };
  });
  retries += res.retries;
}
process.stdout.write(JSON.stringify({ retries, ms: performance.now() - started }));
`;

let work: string;
let racer: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'meshctl-race-'));
  racer = join(work, 'racer.mjs');
  await build({
    stdin: { contents: RACER, resolveDir: root, loader: 'ts', sourcefile: 'racer.ts' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    outfile: racer,
    logLevel: 'warning',
    // CommonJS dependencies call require() for Node built-ins; ESM output has no require of its own.
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  });
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const VS = `# the counter below is bumped by racing processes
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: shop
spec:
  hosts: [reviews]   # keep me
`;

describe('FileStore across processes', () => {
  it('loses no write when processes race on one object', async () => {
    const dir = await mkdtemp(join(work, 'mesh-'));
    await writeFile(join(dir, 'vs.yaml'), VS);
    const racers = 2;
    const times = 20;
    const startAt = Date.now() + 1_000;
    const results = await Promise.all(Array.from({ length: racers }, () => run(process.execPath, [racer, dir, String(times), String(startAt)], { timeout: 60_000 })));
    const stats = results.map((r) => JSON.parse(r.stdout) as { retries: number; ms: number });
    const store = await FileStore.open(dir);
    const final = await store.get({ kind: 'VirtualService', namespace: 'shop', name: 'reviews' });
    expect(final?.metadata.annotations?.count).toBe(String(racers * times));
    const text = await readFile(join(dir, 'vs.yaml'), 'utf8');
    expect(text).toContain('# the counter below is bumped by racing processes');
    expect(text).toContain('hosts: [reviews]   # keep me');
    // No temp files and no lock left behind.
    expect(await readdir(dir)).toEqual(['vs.yaml']);
    console.log(`race: ${racers}x${times} modify: retries ${stats.map((s) => s.retries).join('+')}, ${stats.map((s) => s.ms.toFixed(0)).join('/')} ms`);
  }, 60_000);

  it('loses no write when several stores in one process race', async () => {
    const dir = await mkdtemp(join(work, 'mesh-'));
    await writeFile(join(dir, 'vs.yaml'), VS);
    const stores = await Promise.all(Array.from({ length: 4 }, () => FileStore.open(dir)));
    const ref = { kind: 'VirtualService', namespace: 'shop', name: 'reviews' };
    const bump = (cur: Resource | undefined): Resource => ({
      ...cur!,
      metadata: { ...cur!.metadata, annotations: { count: String(Number(cur!.metadata.annotations?.count ?? 0) + 1) } },
    });
    // Each store runs 10 increments, and the four stores (and two calls on each) interleave.
    await Promise.all(stores.flatMap((s) => [0, 1].map(async () => {
      for (let i = 0; i < 5; i++) await s.modify(ref, bump);
    })));
    expect((await stores[0]!.get(ref))?.metadata.annotations?.count).toBe('40');
  });

  it('breaks a lock left by a process that died', async () => {
    const dir = await mkdtemp(join(work, 'mesh-'));
    await writeFile(join(dir, 'vs.yaml'), VS);
    // A pid that has exited: a finished child's.
    const dead = await run(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    const { hostname } = await import('node:os');
    await writeFile(join(dir, '.meshctl.lock'), `${dead.stdout} ${hostname()} abc\n`);
    const res = await run(process.execPath, [racer, dir, '1'], { timeout: 30_000 });
    expect(JSON.parse(res.stdout).retries).toBe(0);
    const store = await FileStore.open(dir);
    expect((await store.get({ kind: 'VirtualService', namespace: 'shop', name: 'reviews' }))?.metadata.annotations?.count).toBe('1');
    expect(await readdir(dir)).toEqual(['vs.yaml']);
  }, 30_000);

  it('waits for a live lock holder and times out with the fix', async () => {
    const dir = await mkdtemp(join(work, 'mesh-'));
    await writeFile(join(dir, 'vs.yaml'), VS);
    const { hostname } = await import('node:os');
    // Held by this (live) test process, as another writer would hold it.
    await writeFile(join(dir, '.meshctl.lock'), `${process.pid} ${hostname()} abc\n`);
    const store = await FileStore.open(dir, { lockTimeoutMs: 200 });
    const err = await store.delete({ kind: 'VirtualService', namespace: 'shop', name: 'reviews' }).catch((e: unknown) => e);
    expect(String(err)).toContain('timed out');
    expect((err as { hint?: string }).hint).toContain(join(dir, '.meshctl.lock'));
    expect(await readFile(join(dir, 'vs.yaml'), 'utf8')).toBe(VS);
  });
});
