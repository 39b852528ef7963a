import { renameSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WatchEvent, Watcher } from '../../src/store/config-store.js';
import { FileStore } from '../../src/store/file-store.js';
import { meshctl } from '../helpers/run-meshctl.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshctl-fsw-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const vs = (name: string, ns: string, host: string): string =>
  `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: ${name}\n  namespace: ${ns}\nspec:\n  hosts: [${host}]\n`;

/** Waits (bounded) until `pred` holds, polling; fails with what was seen instead of hanging. */
async function until(pred: () => boolean, what: () => unknown, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out; saw ${JSON.stringify(what())}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('FileStore.watch', () => {
  it('sees add, modify and delete made by another writer, including new sub-directories and renames', async () => {
    await writeFile(join(dir, 'a.yaml'), vs('a', 'default', 'a'));
    // A long poll interval: these events must come from fs.watch, not from the safety-net poll.
    const store = await FileStore.open(dir, { watchPollMs: 60_000 });
    const writer = await FileStore.open(dir);
    const events: WatchEvent[] = [];
    const errors: Error[] = [];
    const seen = (): string[] => events.map((e) => `${e.type} ${e.resource.metadata.namespace}/${e.resource.metadata.name}`);
    const w: Watcher = await store.watch('VirtualService', undefined, (e) => events.push(e), (e) => errors.push(e));
    try {
      expect(seen()).toEqual(['ADDED default/a']);

      // Atomic write (temp file + rename) by another store, into a namespace directory that does not exist yet.
      await writer.apply({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'b', namespace: 'shop' }, spec: { hosts: ['b'] } });
      await until(() => seen().includes('ADDED shop/b'), seen);

      // A plain in-place rewrite, as an editor does.
      await writeFile(join(dir, 'a.yaml'), vs('a', 'default', 'a2'));
      await until(() => seen().includes('MODIFIED default/a'), seen);
      const mod = events.find((e) => e.type === 'MODIFIED');
      expect(mod?.resource.spec).toEqual({ hosts: ['a2'] });

      await writer.delete({ kind: 'VirtualService', namespace: 'shop', name: 'b' });
      await until(() => seen().includes('DELETED shop/b'), seen);

      // Other kinds do not show up.
      await writer.apply({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'x' }, spec: { host: 'x' } });
      // Invalid YAML is reported and the last good state kept; fixing it resumes events.
      await writeFile(join(dir, 'bad.yaml'), 'kind: [\n');
      await until(() => errors.length > 0, () => errors.map(String));
      expect(errors[0]?.message).toContain('bad.yaml');
      await rm(join(dir, 'bad.yaml'));
      await writeFile(join(dir, 'c.yaml'), vs('c', 'default', 'c'));
      await until(() => seen().includes('ADDED default/c'), seen);
      expect(seen()).toEqual(['ADDED default/a', 'ADDED shop/b', 'MODIFIED default/a', 'DELETED shop/b', 'ADDED default/c']);
    } finally {
      await w.stop();
    }
    // After stop, nothing more arrives.
    const count = events.length;
    await writeFile(join(dir, 'd.yaml'), vs('d', 'default', 'd'));
    await new Promise((r) => setTimeout(r, 150));
    expect(events.length).toBe(count);
  });

  it('watches of several kinds share one directory watcher: each still gets its own events, the last stop closes it', async () => {
    await mkdir(join(dir, 'shop'));
    await writeFile(join(dir, 'a.yaml'), vs('a', 'default', 'a'));
    const fsWatchers = () => process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap').length;
    const before = fsWatchers();
    const store = await FileStore.open(dir, { watchPollMs: 60_000 });
    const seen: string[] = [];
    const kinds = ['VirtualService', 'DestinationRule', 'ServiceEntry', 'WorkloadEntry', 'Service', 'Pod', 'EndpointSlice', 'ConfigMap'];
    const watchers: Watcher[] = [];
    watchers.push(await store.watch(kinds[0]!, undefined, (e) => seen.push(`${e.type} ${e.resource.kind}/${e.resource.metadata.name}`)));
    const one = fsWatchers() - before;
    expect(one).toBeGreaterThan(0);
    for (const k of kinds.slice(1)) watchers.push(await store.watch(k, undefined, (e) => seen.push(`${e.type} ${e.resource.kind}/${e.resource.metadata.name}`)));
    expect(fsWatchers() - before).toBe(one);
    try {
      await writeFile(join(dir, 'shop', 'dr.yaml'), 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d, namespace: shop}\nspec: {host: d}\n');
      await until(() => seen.includes('ADDED DestinationRule/d'), () => seen);
      // Stopping the VirtualService watch leaves the others running on the same watcher.
      await watchers[0]!.stop();
      await writeFile(join(dir, 'b.yaml'), `${vs('b', 'default', 'b')}---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: s}\nspec: {hosts: [s.local]}\n`);
      await until(() => seen.includes('ADDED ServiceEntry/s'), () => seen);
      await new Promise((r) => setTimeout(r, 100));
      expect(seen).toEqual(['ADDED VirtualService/a', 'ADDED DestinationRule/d', 'ADDED ServiceEntry/s']);
    } finally {
      for (const w of watchers) await w.stop();
    }
    // Handles close on the next turn of the event loop.
    await until(() => fsWatchers() === before, fsWatchers);
  });

  it('sees every atomic save of the same file through fs.watch, not only the first', async () => {
    // Temp file + rename over the target, as editors and meshctl itself save. Node's recursive
    // watcher names the second and later such saves only by the temp file's name.
    const save = async (host: string): Promise<void> => {
      await writeFile(join(dir, '.a.yaml.tmp'), vs('a', 'default', host));
      await rename(join(dir, '.a.yaml.tmp'), join(dir, 'a.yaml'));
    };
    await save('v1');
    const store = await FileStore.open(dir, { watchPollMs: 60_000 });
    const seen: string[] = [];
    const w = await store.watch('VirtualService', undefined, (e) => seen.push(`${e.type} ${(e.resource.spec as { hosts: string[] }).hosts[0]}`));
    try {
      for (const v of ['v2', 'v3', 'v4']) {
        await save(v);
        await until(() => seen.includes(`MODIFIED ${v}`), () => seen);
      }
      expect(seen).toEqual(['ADDED v1', 'MODIFIED v2', 'MODIFIED v3', 'MODIFIED v4']);
    } finally {
      await w.stop();
    }
  });

  it('sees atomic saves made after the watch started, at the top and in a namespace directory', async () => {
    // The sequence `meshctl controller --local` met: watch first, then saves through one temp name,
    // written and renamed synchronously (as a script or a fast editor does). Node's recursive
    // watcher reported the first save only; the later ones waited for the poll (2 s).
    await mkdir(join(dir, 'shop'));
    await writeFile(join(dir, 'a.yaml'), vs('a', 'default', 'v0'));
    await writeFile(join(dir, 'shop', 'b.yaml'), vs('b', 'shop', 'v0'));
    const store = await FileStore.open(dir, { watchPollMs: 60_000 });
    const seen: string[] = [];
    const w = await store.watch('VirtualService', undefined, (e) => seen.push(`${e.type} ${e.resource.metadata.name} ${(e.resource.spec as { hosts: string[] }).hosts[0]}`));
    try {
      for (const v of ['v1', 'v2', 'v3']) {
        for (const [sub, name, ns] of [['', 'a', 'default'], ['shop', 'b', 'shop']] as const) {
          writeFileSync(join(dir, sub, '.t'), vs(name, ns, v));
          renameSync(join(dir, sub, '.t'), join(dir, sub, `${name}.yaml`));
          await until(() => seen.includes(`MODIFIED ${name} ${v}`), () => seen);
        }
      }
    } finally {
      await w.stop();
    }
  });

  it('a namespace directory removed and made again is watched anew (the filesystem may even reuse its inode)', async () => {
    await mkdir(join(dir, 'shop'));
    await writeFile(join(dir, 'shop', 'b.yaml'), vs('b', 'shop', 'v0'));
    const store = await FileStore.open(dir, { watchPollMs: 60_000 });
    const seen: string[] = [];
    const w = await store.watch('VirtualService', undefined, (e) => seen.push(`${e.type} ${(e.resource.spec as { hosts: string[] }).hosts[0]}`));
    try {
      await rm(join(dir, 'shop'), { recursive: true });
      await mkdir(join(dir, 'shop'));
      await writeFile(join(dir, 'shop', 'b.yaml'), vs('b', 'shop', 'v1'));
      await until(() => seen.includes('MODIFIED v1'), () => seen);
      await writeFile(join(dir, 'shop', 'b.yaml'), vs('b', 'shop', 'v2'));
      await until(() => seen.includes('MODIFIED v2'), () => seen);
    } finally {
      await w.stop();
    }
  });

  it("one watch's failing callback is its own error: the other watches still get the change", async () => {
    const store = await FileStore.open(dir, { watchPollMs: 60_000 });
    const seen: string[] = [];
    const errors: string[] = [];
    const throwing = await store.watch(
      'VirtualService',
      undefined,
      () => {
        throw new Error('bug in a callback');
      },
      (e) => errors.push(`first: ${e.message}`),
    );
    const other = await store.watch(
      'VirtualService',
      undefined,
      (e) => seen.push(`${e.type} ${e.resource.metadata.name}`),
      (e) => errors.push(`second: ${e.message}`),
    );
    try {
      await writeFile(join(dir, 'x.yaml'), vs('x', 'default', 'x'));
      await until(() => seen.includes('ADDED x'), () => ({ seen, errors }));
      await writeFile(join(dir, 'y.yaml'), vs('y', 'default', 'y'));
      await until(() => seen.includes('ADDED y'), () => ({ seen, errors }));
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.every((e) => e === 'first: bug in a callback')).toBe(true);
    } finally {
      await throwing.stop();
      await other.stop();
    }
  });

  it('filters by namespace, and close() stops every watch', async () => {
    await mkdir(join(dir, 'shop'));
    await writeFile(join(dir, 'shop', 'a.yaml'), vs('a', 'shop', 'a'));
    await writeFile(join(dir, 'b.yaml'), vs('b', 'default', 'b'));
    const store = await FileStore.open(dir, { watchPollMs: 50 });
    const events: WatchEvent[] = [];
    await store.watch('VirtualService', 'shop', (e) => events.push(e));
    expect(events.map((e) => e.resource.metadata.name)).toEqual(['a']);
    await writeFile(join(dir, 'shop', 'c.yaml'), vs('c', 'shop', 'c'));
    await writeFile(join(dir, 'd.yaml'), vs('d', 'default', 'd'));
    await until(() => events.length >= 2, () => events.map((e) => e.resource.metadata.name));
    await new Promise((r) => setTimeout(r, 120));
    expect(events.map((e) => `${e.type} ${e.resource.metadata.name}`)).toEqual(['ADDED a', 'ADDED c']);
    await store.close();
    await writeFile(join(dir, 'shop', 'e.yaml'), vs('e', 'shop', 'e'));
    await new Promise((r) => setTimeout(r, 150));
    expect(events).toHaveLength(2);
  });
});

describe('meshctl --local DIR', () => {
  it('version shows the control plane of the local mesh', async () => {
    await mkdir(join(dir, 'meshctl-system'));
    await writeFile(
      join(dir, 'meshctl-system', 'controller.yaml'),
      'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: meshctl-controller\n  namespace: meshctl-system\n  labels:\n    app.kubernetes.io/version: 9.8.7\nspec: {}\n',
    );
    const res = await meshctl(['--local', dir, 'version']);
    expect(res.stderr).toBe('');
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toContain(`control plane: 9.8.7 (${dir})`);
    // MESHCTL_LOCAL does the same, relative to the working directory.
    const viaEnv = await meshctl('version -o json', { env: { MESHCTL_LOCAL: '.' }, cwd: dir });
    expect(JSON.parse(viaEnv.stdout).controlPlane).toEqual({ version: '9.8.7', source: dir });
  });

  it('says when the directory has no control plane, and when it does not exist', async () => {
    const empty = await meshctl(['--local', dir, 'version']);
    expect(empty.stdout).toContain(`control plane: unreachable: no meshctl-controller in ${dir}`);
    const missing = await meshctl(['--local', join(dir, 'missing'), 'version']);
    expect(missing.stdout).toContain('does not exist');
  });
});
