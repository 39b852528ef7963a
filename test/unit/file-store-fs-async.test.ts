import { execFile } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat as statP, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { acquireLock } from '../../src/store/file-lock.js';
import { FileStore } from '../../src/store/file-store.js';
import * as fsAsync from '../../src/store/fs-async.js';
import { close, openExclusive, stat, uniqueToken, writeAll } from '../../src/store/fs-async.js';

// Spies over the real functions, so one test can make a single write or fsync fail.
vi.mock('../../src/store/fs-async.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/store/fs-async.js')>();
  return { ...real, fsync: vi.fn(real.fsync), writeAll: vi.fn(real.writeAll), readFile: vi.fn(real.readFile) };
});

const root = fileURLToPath(new URL('../..', import.meta.url));
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshctl-fsa-'));
});
afterEach(async () => {
  vi.mocked(fsAsync.fsync).mockClear();
  vi.mocked(fsAsync.writeAll).mockClear();
  await rm(dir, { recursive: true, force: true });
});

describe('FileStore.watch and a rescan in flight', () => {
  const vs = (host: string): string => `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a, namespace: default}\nspec: {hosts: [${host}]}\n`;
  // Atomic, as editors and meshctl save: one rename event, the temp file (a dotfile) ignored.
  const save = async (host: string): Promise<void> => {
    await writeFile(join(dir, '.a.yaml.tmp'), vs(host));
    await promisify((await import('node:fs')).rename)(join(dir, '.a.yaml.tmp'), join(dir, 'a.yaml'));
  };

  it('a watch that starts while a rescan is reading is not handed that older index', async () => {
    await save('v1');
    const store = await FileStore.open(dir, { watchPollMs: 60_000 });
    const host = (e: { type: string; resource: { spec?: unknown } }) => `${e.type} ${(e.resource.spec as { hosts: string[] }).hosts[0]}`;
    const a: string[] = [];
    const b: string[] = [];
    const wa = await store.watch('VirtualService', undefined, (e) => a.push(host(e)));
    // The rescan that reads v2 holds it until released, as a slow disk would.
    let release = (): void => undefined;
    const gate = new Promise<void>((r) => (release = r));
    let reading = (): void => undefined;
    const started = new Promise<void>((r) => (reading = r));
    vi.mocked(fsAsync.readFile).mockImplementationOnce((async (path: string) => {
      const text = await readFile(path, 'utf8');
      reading();
      await gate;
      return text;
    }) as never);
    try {
      await save('v2');
      await started;
      await save('v3');
      const wb = await store.watch('VirtualService', undefined, (e) => b.push(host(e)));
      try {
        expect(b).toEqual(['ADDED v3']);
        release();
        for (let i = 0; i < 300 && !a.includes('MODIFIED v2'); i++) await new Promise((r) => setTimeout(r, 10));
        // The held scan reaches the watch that was there when it started...
        expect(a).toEqual(['ADDED v1', 'MODIFIED v2']);
        // ...and not B, which already has v3 (handed v2, it would have gone back a version).
        // The save of v3 during the held scan brings a scan of its own: A catches up, B has nothing new.
        for (let i = 0; i < 300 && !a.includes('MODIFIED v3'); i++) await new Promise((r) => setTimeout(r, 10));
        expect(a).toEqual(['ADDED v1', 'MODIFIED v2', 'MODIFIED v3']);
        expect(b).toEqual(['ADDED v3']);
      } finally {
        await wb.stop();
      }
    } finally {
      release();
      await wa.stop();
    }
  });
});

describe('fs-async', () => {
  it('openExclusive + writeAll write the text byte for byte, large and multi-byte alike', async () => {
    const big = 'héllo wörld ✓ 🚀\n'.repeat(300_000); // ~6.6 MB: more than one write for many kernels' pipes, and UTF-8 past ASCII
    const path = join(dir, 'big.txt');
    const fd = await openExclusive(path, 0o600);
    try {
      await writeAll(fd, big);
    } finally {
      await close(fd);
    }
    expect(await readFile(path, 'utf8')).toBe(big);
    expect((await statP(path)).mode & 0o777).toBe(0o600);
    // An error from the write itself reaches the caller: a descriptor opened read-only.
    const ro = openSync(path, 'r');
    try {
      await expect(writeAll(ro, 'x')).rejects.toMatchObject({ code: 'EBADF' });
    } finally {
      closeSync(ro);
    }
  });

  it('openExclusive refuses a file that exists and leaves it as it was', async () => {
    const path = join(dir, 'taken');
    await writeFile(path, 'mine');
    await expect(openExclusive(path)).rejects.toMatchObject({ code: 'EEXIST' });
    expect(await readFile(path, 'utf8')).toBe('mine');
  });

  it('stat gives bigint times with { bigint: true } and numbers without', async () => {
    const path = join(dir, 'f');
    await writeFile(path, 'x');
    const big = await stat(path, { bigint: true });
    expect(typeof big.mtimeNs).toBe('bigint');
    expect(big.size).toBe(1n);
    const plain = await stat(path);
    expect(typeof plain.mtimeMs).toBe('number');
    expect(plain.isFile()).toBe(true);
  });

  it('uniqueToken never repeats within a process and names the pid', () => {
    const tokens = new Set(Array.from({ length: 10_000 }, () => uniqueToken()));
    expect(tokens.size).toBe(10_000);
    for (const t of [...tokens].slice(0, 10)) expect(t).toMatch(new RegExp(`^${process.pid}-[0-9a-z]+-[0-9a-z]{8}$`));
  });
});

describe('cleanup when a write fails', () => {
  const VS = 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: reviews\nspec:\n  hosts: [reviews]\n';
  const ref = { kind: 'VirtualService', name: 'reviews' };

  it('a failed fsync leaves the file as it was, no temp file, and the error reaches the caller', async () => {
    await writeFile(join(dir, 'vs.yaml'), VS);
    await chmod(join(dir, 'vs.yaml'), 0o640);
    const store = await FileStore.open(dir);
    vi.mocked(fsAsync.fsync).mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
    await expect(store.modify(ref, (r) => ({ ...r!, spec: { hosts: ['x'] } }))).rejects.toThrow(/EIO/);
    expect(await readFile(join(dir, 'vs.yaml'), 'utf8')).toBe(VS);
    expect((await readdir(dir)).sort()).toEqual(['vs.yaml']); // no temp file, lock released
    // The next write goes through and keeps the file's mode.
    await store.modify(ref, (r) => ({ ...r!, spec: { hosts: ['x'] } }));
    expect(await readFile(join(dir, 'vs.yaml'), 'utf8')).toContain('hosts: [x]');
    expect((await statP(join(dir, 'vs.yaml'))).mode & 0o777).toBe(0o640);
    expect((await readdir(dir)).sort()).toEqual(['vs.yaml']);
  });

  it('a lock whose owner line cannot be written fails with the lock path named', async () => {
    vi.mocked(fsAsync.writeAll).mockRejectedValueOnce(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    const lock = join(dir, '.meshctl.lock');
    await expect(acquireLock(lock, { timeoutMs: 100 })).rejects.toThrow(new RegExp(`cannot create lock file ${lock}: ENOSPC`));
    // The half-made lock is gone: the next writer does not wait for it to go stale.
    expect(await readdir(dir)).toEqual([]);
    // The lock file records pid, host and a token on success.
    const release = await acquireLock(lock, { timeoutMs: 1000 });
    expect(await readFile(lock, 'utf8')).toMatch(new RegExp(`^${process.pid} \\S+ ${process.pid}-[0-9a-z]+-[0-9a-z]{8}\\n$`));
    await release();
    expect(await readdir(dir)).toEqual([]);
  });
});

// In a Node process of its own (vitest itself loads node:crypto): the store reads, writes, locks,
// watches and deletes, then reports which built-in modules it loaded. The sidecar that runs the store
// (`meshctl proxy --config DIR`) pays ~2.3 MB RSS for crypto and ~1.1 MB for fs/promises.
describe('the store in a process of its own', () => {
  it('never loads node:crypto, node:fs/promises or readline', { timeout: 30_000 }, async () => {
    // CommonJS, as the proxy runtime is: Node's ESM loader would load fs/promises itself.
    const script = `
const { FileStore } = require('./src/store/file-store.ts');
(async () => {
  const store = await FileStore.open(process.argv[2]);
  const ref = { kind: 'VirtualService', namespace: 'shop', name: 'reviews' };
  await store.apply({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'reviews', namespace: 'shop' }, spec: { hosts: ['reviews'] } });
  await store.modify(ref, (r) => ({ ...r, metadata: { ...r.metadata, labels: { a: 'b' } } }));
  const w = await store.watch('VirtualService', undefined, () => {});
  await store.list('VirtualService');
  await store.delete(ref);
  await w.stop();
  await store.close();
  process.stdout.write(JSON.stringify(process.moduleLoadList));
})();
`;
    const out = join(dir, 'probe.cjs');
    await build({ stdin: { contents: script, resolveDir: root, loader: 'js' }, outfile: out, bundle: true, platform: 'node', format: 'cjs', logLevel: 'error' });
    const mesh = join(dir, 'mesh');
    await mkdir(mesh);
    const { stdout } = await promisify(execFile)(process.execPath, [out, mesh], { timeout: 20_000 });
    const loaded = JSON.parse(stdout) as string[];
    // Sanity: the list is the real one, and the store did its file work through node:fs.
    expect(loaded).toContain('NativeModule fs');
    expect(loaded.filter((m) => /^NativeModule (crypto|fs\/promises|internal\/fs\/promises|readline)$/.test(m))).toEqual([]);
  });
});
