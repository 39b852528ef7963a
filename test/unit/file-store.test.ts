import { writeFileSync } from 'node:fs';
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Resource } from '../../src/api/resource.js';
import { ClusterError, ConflictError, InputError } from '../../src/core/errors.js';
import { StoreConflict } from '../../src/store/config-store.js';
import { FileStore } from '../../src/store/file-store.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshctl-fs-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const VS_FILE = `# Routes for reviews — keep v1 as the stable subset
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews   # the service name
  namespace: shop
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 100
---
# second document: ratings
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
spec:
  hosts:
  - ratings     # only this host
  http:
  - route:
    - destination:
        host: ratings
`;

const LIST_FILE = `apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1
  kind: DestinationRule
  metadata: {name: reviews, namespace: shop}
  spec: {host: reviews}
- apiVersion: v1
  kind: Namespace
  metadata: {name: shop}
`;

async function files(d: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(d, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(join(e.parentPath, e.name).slice(d.length + 1));
  return out.sort();
}

describe('FileStore reading', () => {
  it('lists and gets objects across files, Lists and namespaces', async () => {
    await writeFile(join(dir, 'vs.yaml'), VS_FILE);
    await mkdir(join(dir, 'shop'));
    await writeFile(join(dir, 'shop', 'list.yml'), LIST_FILE);
    await writeFile(join(dir, 'notes.txt'), 'kind: VirtualService\nmetadata: {name: ignored}\n');
    await mkdir(join(dir, '.hidden'));
    await writeFile(join(dir, '.hidden', 'x.yaml'), 'kind: VirtualService\nmetadata: {name: hidden}\n');
    const store = await FileStore.open(dir);
    expect(store.backend).toBe('file');
    expect(store.location).toBe(dir);
    expect(store.defaultNamespace).toBe('default');

    const all = await store.list('VirtualService');
    expect(all.map((r) => `${r.metadata.namespace}/${r.metadata.name}`)).toEqual(['default/ratings', 'shop/reviews']);
    expect(await store.list('virtualservices', 'shop')).toHaveLength(1);
    const dr = await store.get({ kind: 'DestinationRule', namespace: 'shop', name: 'reviews' });
    expect(dr?.spec).toEqual({ host: 'reviews' });
    // Cluster-scoped: no namespace, whatever the ref says.
    const ns = await store.get({ kind: 'Namespace', name: 'shop' });
    expect(ns?.metadata.namespace).toBeUndefined();
    // No namespace in the file means the default namespace.
    expect(await store.get({ kind: 'VirtualService', name: 'ratings' })).toBeDefined();
    expect(await store.get({ kind: 'VirtualService', namespace: 'default', name: 'ratings' })).toBeDefined();
    expect(await store.get({ kind: 'VirtualService', namespace: 'other', name: 'ratings' })).toBeUndefined();
    // The 64-bit content hash (src/core/compile/content-hash.ts) as 16 hex digits.
    expect(dr?.metadata.resourceVersion).toMatch(/^[0-9a-f]{16}$/);
    expect(await store.sourceOf({ kind: 'VirtualService', name: 'ratings' })).toEqual({ file: join(dir, 'vs.yaml'), line: 15 });
  });

  it('returns copies: mutating a result does not change the store', async () => {
    await writeFile(join(dir, 'vs.yaml'), VS_FILE);
    const store = await FileStore.open(dir);
    const a = await store.get({ kind: 'VirtualService', namespace: 'shop', name: 'reviews' });
    a!.metadata.name = 'changed';
    expect((await store.get({ kind: 'VirtualService', namespace: 'shop', name: 'reviews' }))?.metadata.name).toBe('reviews');
  });

  it('names both files for a duplicate object', async () => {
    await writeFile(join(dir, 'a.yaml'), VS_FILE);
    await writeFile(join(dir, 'b.yaml'), 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: ratings\n  namespace: default\n');
    const store = await FileStore.open(dir);
    const err = await store.list('VirtualService').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toContain('a.yaml:15');
    expect((err as Error).message).toContain('b.yaml:1');
    expect((err as Error).message).toContain('VirtualService default/ratings');
  });

  it('names file, line and column for invalid YAML', async () => {
    await writeFile(join(dir, 'good.yaml'), VS_FILE);
    await writeFile(join(dir, 'bad.yaml'), 'kind: VirtualService\nmetadata:\n  name: x\n  labels: {a: 1\nspec: {}\n');
    const store = await FileStore.open(dir);
    const err = await store.list('VirtualService').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(new RegExp(`^${join(dir, 'bad.yaml')}:\\d+:\\d+: invalid YAML: `));
    expect((err as Error).message).not.toContain('\n');
  });

  it('refuses a directory that does not exist, with the fix', async () => {
    const err = await FileStore.open(join(dir, 'nope')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterError);
    expect((err as ClusterError).exitCode).toBe(69);
    expect((err as ClusterError).message).toContain(join(dir, 'nope'));
    expect((err as ClusterError).hint).toContain('meshctl install --local DIR');
  });

  it('parses each file once while it is unchanged', async () => {
    await writeFile(join(dir, 'vs.yaml'), VS_FILE);
    await mkdir(join(dir, 'shop'));
    await writeFile(join(dir, 'shop', 'list.yaml'), LIST_FILE);
    const store = await FileStore.open(dir);
    await store.list('VirtualService');
    expect(store.parseCount).toBe(2);
    for (let i = 0; i < 5; i++) await store.list('DestinationRule');
    await store.get({ kind: 'Namespace', name: 'shop' });
    expect(store.parseCount).toBe(2);
    await writeFile(join(dir, 'shop', 'list.yaml'), LIST_FILE.replace('host: reviews', 'host: reviews2'));
    expect((await store.get({ kind: 'DestinationRule', namespace: 'shop', name: 'reviews' }))?.spec).toEqual({ host: 'reviews2' });
    expect(store.parseCount).toBe(3);
  });

  it('does not re-parse unchanged files, and sees a same-size rewrite at once', async () => {
    await writeFile(join(dir, 'vs.yaml'), VS_FILE);
    const store = await FileStore.open(dir);
    const a = await store.list('VirtualService');
    const b = await store.list('VirtualService');
    expect(b).toEqual(a);
    // Same length, same coarse mtime tick: the racy-clean check must still notice.
    await writeFile(join(dir, 'vs.yaml'), VS_FILE.replace('weight: 100', 'weight: 099'));
    const c = await store.get({ kind: 'VirtualService', namespace: 'shop', name: 'reviews' });
    expect(JSON.stringify(c?.spec)).toContain('"weight":99');
  });
});

describe('FileStore resourceVersion', () => {
  const ref = { kind: 'VirtualService', namespace: 'shop', name: 'reviews' };
  const versionAfter = async (text: string): Promise<string | undefined> => {
    await writeFile(join(dir, 'vs.yaml'), text);
    // A fresh store each time: the version must come from the content, not from a cache.
    return (await (await FileStore.open(dir)).get(ref))?.metadata.resourceVersion;
  };

  it('stays the same while the object does, whatever the formatting, comments or key order', async () => {
    const base = await versionAfter(VS_FILE);
    expect(base).toMatch(/^[0-9a-f]{16}$/);
    expect(await versionAfter(VS_FILE)).toBe(base);
    // Comments, flow vs block style, quoting and key order are not part of the object.
    const reformatted = VS_FILE.replace('# Routes for reviews — keep v1 as the stable subset\n', '')
      .replace('  name: reviews   # the service name\n  namespace: shop\n', '  namespace: "shop"\n  name: reviews\n')
      .replace('    - destination: {host: reviews, subset: v1}\n', '    - destination:\n        subset: v1\n        host: reviews\n');
    expect(reformatted).not.toBe(VS_FILE);
    expect(await versionAfter(reformatted)).toBe(base);
    // A write of an equal object changes nothing, version included.
    const store = await FileStore.open(dir);
    const cur = await store.get(ref);
    const res = await store.modify(ref, (r) => structuredClone(r));
    expect(res.changed).toBe(false);
    expect((await store.get(ref))?.metadata.resourceVersion).toBe(cur!.metadata.resourceVersion);
  });

  it('changes when any field changes', async () => {
    const base = await versionAfter(VS_FILE);
    const edits: [string, string][] = [
      ['apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: reviews', 'apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata:\n  name: reviews'],
      ['  namespace: shop\n', '  namespace: shop\n  labels: {app: reviews}\n'],
      ['  namespace: shop\n', '  namespace: shop\n  annotations: {note: x}\n'],
      ['hosts: [reviews]', 'hosts: [reviews, reviews.shop]'],
      ['subset: v1}', 'subset: v2}'],
      ['weight: 100', 'weight: 99'],
      // The same digits as a string are a different value.
      ['weight: 100', 'weight: "100"'],
    ];
    const seen = new Set([base]);
    for (const [from, to] of edits) {
      expect(VS_FILE).toContain(from);
      const v = await versionAfter(VS_FILE.replace(from, to));
      expect(v, `${from} -> ${to}`).toMatch(/^[0-9a-f]{16}$/);
      expect(seen.has(v), `${from} -> ${to}`).toBe(false);
      seen.add(v);
    }
    // Through the store's own writes too: every applied change gets a new version.
    const store = await FileStore.open(dir);
    let cur = (await store.get(ref))!;
    for (const labels of [{ a: '1' }, { a: '2' }, { a: '2', b: '' }, {}] as Record<string, string>[]) {
      const next = await store.apply({ ...cur, metadata: { ...cur.metadata, labels } });
      expect(seen.has(next.metadata.resourceVersion)).toBe(false);
      seen.add(next.metadata.resourceVersion);
      expect((await store.get(ref))?.metadata.resourceVersion).toBe(next.metadata.resourceVersion);
      cur = next;
    }
  });
});

describe('FileStore writing', () => {
  it('updates in place, keeping comments and layout of the rest of the file', async () => {
    await writeFile(join(dir, 'vs.yaml'), VS_FILE);
    const store = await FileStore.open(dir);
    const before = await store.get({ kind: 'VirtualService', name: 'ratings' });
    const spec = before!.spec as { http: { route: { destination: { host: string; subset?: string } }[] }[] };
    spec.http[0]!.route[0]!.destination.subset = 'v2';
    const after = await store.apply(before!);
    expect(after.metadata.resourceVersion).not.toBe(before!.metadata.resourceVersion);

    const text = await readFile(join(dir, 'vs.yaml'), 'utf8');
    // The untouched first document is byte for byte the same.
    const firstDoc = VS_FILE.slice(0, VS_FILE.indexOf('---'));
    expect(text.startsWith(firstDoc)).toBe(true);
    // The edited document keeps its comments and key order, gains the field, and no resourceVersion
    // or implied namespace is written.
    expect(text).toContain('# second document: ratings');
    expect(text).toContain('# only this host');
    expect(text).toContain('subset: v2');
    expect(text).not.toContain('resourceVersion');
    const second = text.slice(text.indexOf('---'));
    expect(second).not.toContain('namespace');
    expect(second.indexOf('apiVersion')).toBeLessThan(second.indexOf('kind'));
    expect(second.indexOf('metadata')).toBeLessThan(second.indexOf('spec'));

    const reread = await (await FileStore.open(dir)).get({ kind: 'VirtualService', name: 'ratings' });
    expect(reread).toEqual(after);
  });

  it('updates one item of a List and keeps the other', async () => {
    await writeFile(join(dir, 'list.yaml'), LIST_FILE);
    const store = await FileStore.open(dir);
    const dr = await store.get({ kind: 'DestinationRule', namespace: 'shop', name: 'reviews' });
    await store.apply({ ...dr!, spec: { host: 'reviews', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } } });
    const text = await readFile(join(dir, 'list.yaml'), 'utf8');
    expect(text).toContain('ISTIO_MUTUAL');
    expect(text).toContain('kind: List');
    expect(await store.get({ kind: 'Namespace', name: 'shop' })).toBeDefined();
    expect((await store.get({ kind: 'DestinationRule', namespace: 'shop', name: 'reviews' }))?.spec).toEqual({
      host: 'reviews',
      trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } },
    });
  });

  it('creates new objects at <dir>/<namespace>/<kind>-<name>.yaml and cluster-scoped ones at the top', async () => {
    const store = await FileStore.open(dir);
    const vs: Resource = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'reviews', namespace: 'shop' }, spec: { hosts: ['reviews'] } };
    const created = await store.apply(vs);
    expect(created.metadata.resourceVersion).toBeTruthy();
    await store.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
    await store.apply({ apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw' } });
    // Unknown kinds are taken as namespaced.
    await store.apply({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } });
    expect(await files(dir)).toEqual(['default/gateway-gw.yaml', 'default/widget-w.yaml', 'namespace-shop.yaml', 'shop/virtualservice-reviews.yaml']);
    expect((await store.list('Widget', 'default')).map((w) => w.metadata.name)).toEqual(['w']);
    expect(await readFile(join(dir, 'shop/virtualservice-reviews.yaml'), 'utf8')).toBe(
      'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: reviews\n  namespace: shop\nspec:\n  hosts:\n    - reviews\n',
    );
    expect(await store.get({ kind: 'VirtualService', namespace: 'shop', name: 'reviews' })).toEqual(created);
  });

  it('keeps Windows line ends', async () => {
    await writeFile(join(dir, 'vs.yaml'), VS_FILE.replace(/\n/g, '\r\n'));
    const store = await FileStore.open(dir);
    await store.modify({ kind: 'VirtualService', name: 'ratings' }, (r) => ({ ...r!, metadata: { ...r!.metadata, labels: { a: 'b' } } }));
    const text = await readFile(join(dir, 'vs.yaml'), 'utf8');
    expect(text).toContain('labels:\r\n    a: b\r\n');
    expect(text.replace(/\r\n/g, '')).not.toContain('\n');
  });

  it('refuses names that cannot be file names', async () => {
    const store = await FileStore.open(dir);
    for (const name of ['../etc', '.hidden', 'a/b', '']) {
      await expect(store.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name } })).rejects.toBeInstanceOf(InputError);
    }
    await expect(store.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: '../up' } })).rejects.toThrow(/invalid metadata.namespace/);
    await expect(store.apply({ apiVersion: 'v1', kind: 'List', metadata: { name: 'x' } })).rejects.toThrow(/kind "List"/);
    expect(await files(dir)).toEqual([]);
  });

  it('dryRun computes the result and writes nothing', async () => {
    await writeFile(join(dir, 'vs.yaml'), VS_FILE);
    const store = await FileStore.open(dir);
    const cur = await store.get({ kind: 'VirtualService', name: 'ratings' });
    const res = await store.apply({ ...cur!, spec: { hosts: ['x'] } }, { dryRun: true });
    expect(res.spec).toEqual({ hosts: ['x'] });
    expect(res.metadata.resourceVersion).not.toBe(cur!.metadata.resourceVersion);
    await store.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n' } }, { dryRun: true });
    expect(await readFile(join(dir, 'vs.yaml'), 'utf8')).toBe(VS_FILE);
    expect(await files(dir)).toEqual(['vs.yaml']);
  });

  it('leaves no temp or lock files behind', async () => {
    await writeFile(join(dir, 'vs.yaml'), VS_FILE);
    const store = await FileStore.open(dir);
    for (let i = 0; i < 5; i++) {
      await store.modify({ kind: 'VirtualService', name: 'ratings' }, (r) => ({ ...r!, metadata: { ...r!.metadata, labels: { n: String(i) } } }));
    }
    const all = await readdir(dir, { recursive: true });
    expect(all).toEqual(['vs.yaml']);
  });

  it('rejects a stale resourceVersion with StoreConflict', async () => {
    await writeFile(join(dir, 'vs.yaml'), VS_FILE);
    const store = await FileStore.open(dir);
    const old = await store.get({ kind: 'VirtualService', name: 'ratings' });
    await store.apply({ ...old!, metadata: { ...old!.metadata, labels: { a: 'b' } } });
    await expect(store.apply({ ...old!, spec: { hosts: ['lost'] } })).rejects.toBeInstanceOf(StoreConflict);
    await expect(store.apply({ ...old!, spec: { hosts: ['lost'] } }, { dryRun: true })).rejects.toBeInstanceOf(StoreConflict);
    expect(await readFile(join(dir, 'vs.yaml'), 'utf8')).not.toContain('lost');
    // Without a resourceVersion the caller owns the object: the write goes through.
    const { resourceVersion: _rv, ...meta } = old!.metadata;
    await store.apply({ ...old!, metadata: meta, spec: { hosts: ['mine'] } });
    expect((await store.get({ kind: 'VirtualService', name: 'ratings' }))?.spec).toEqual({ hosts: ['mine'] });
  });

  it('deletes a document, and the file when it is left empty', async () => {
    await writeFile(join(dir, 'vs.yaml'), VS_FILE);
    await writeFile(join(dir, 'list.yaml'), LIST_FILE);
    const store = await FileStore.open(dir);
    expect(await store.delete({ kind: 'VirtualService', namespace: 'shop', name: 'reviews' })).toBe(true);
    expect(await store.delete({ kind: 'VirtualService', namespace: 'shop', name: 'reviews' })).toBe(false);
    const text = await readFile(join(dir, 'vs.yaml'), 'utf8');
    expect(text).not.toContain('name: reviews');
    expect(text).toContain('# only this host');
    expect(await store.list('VirtualService')).toHaveLength(1);
    expect(await store.delete({ kind: 'VirtualService', name: 'ratings' }, { dryRun: true })).toBe(true);
    expect(await store.list('VirtualService')).toHaveLength(1);
    expect(await store.delete({ kind: 'VirtualService', name: 'ratings' })).toBe(true);
    expect(await files(dir)).toEqual(['list.yaml']);
    expect(await store.delete({ kind: 'Namespace', name: 'shop' })).toBe(true);
    expect(await store.get({ kind: 'DestinationRule', namespace: 'shop', name: 'reviews' })).toBeDefined();
    expect(await store.delete({ kind: 'DestinationRule', namespace: 'shop', name: 'reviews' })).toBe(true);
    expect(await files(dir)).toEqual([]);
  });
});

describe('FileStore.modify', () => {
  it('reports unchanged when mutate returns undefined or an equal object', async () => {
    await writeFile(join(dir, 'vs.yaml'), VS_FILE);
    const store = await FileStore.open(dir);
    const ref = { kind: 'VirtualService', name: 'ratings' };
    const r1 = await store.modify(ref, () => undefined);
    expect(r1).toMatchObject({ changed: false, retries: 0 });
    const r2 = await store.modify(ref, (cur) => ({ ...cur!, metadata: { ...cur!.metadata, resourceVersion: 'whatever' } }));
    expect(r2.changed).toBe(false);
    expect(await readFile(join(dir, 'vs.yaml'), 'utf8')).toBe(VS_FILE);
    const r3 = await store.modify({ kind: 'VirtualService', name: 'new' }, (cur) => (cur ? undefined : { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'new' } }));
    expect(r3).toMatchObject({ changed: true, before: undefined });
    expect(r3.after?.metadata.namespace).toBe('default');
  });

  it('re-runs mutate on fresh data after losing a race', async () => {
    await writeFile(join(dir, 'vs.yaml'), VS_FILE);
    const store = await FileStore.open(dir);
    const ref = { kind: 'VirtualService', name: 'ratings' };
    const seen: (Record<string, string> | undefined)[] = [];
    const res = await store.modify(ref, (cur) => {
      seen.push(cur!.metadata.labels);
      if (seen.length === 1) {
        // Another writer gets in between our read and our write (synchronously, so it surely lands first).
        writeFileSync(join(dir, 'vs.yaml'), VS_FILE.replace('  name: ratings\n', '  name: ratings\n  labels: {other: "yes"}\n'));
      }
      return { ...cur!, metadata: { ...cur!.metadata, labels: { ...cur!.metadata.labels, mine: 'yes' } } };
    });
    expect(seen).toEqual([undefined, { other: 'yes' }]);
    expect(res.retries).toBe(1);
    expect(res.before?.metadata.labels).toEqual({ other: 'yes' });
    expect((await store.get(ref))?.metadata.labels).toEqual({ other: 'yes', mine: 'yes' });
    expect(await readFile(join(dir, 'vs.yaml'), 'utf8')).toContain('labels: { other: "yes", mine: yes }');
  });

  it('gives up with ConflictError when the object never stops changing', async () => {
    await writeFile(join(dir, 'vs.yaml'), VS_FILE);
    const store = await FileStore.open(dir);
    const ref = { kind: 'VirtualService', name: 'ratings' };
    let n = 0;
    // A writer that ignores the lock (like an editor saving) and changes the file on every try.
    const err = await store
      .modify(ref, (cur) => {
        n++;
        const text = VS_FILE.replace('- ratings     # only this host', `- ratings-${n}`);
        // Synchronous write: it lands before the store's check under the lock.
        writeFileSync(join(dir, 'vs.yaml'), text);
        return { ...cur!, metadata: { ...cur!.metadata, labels: { n: String(n) } } };
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(n).toBe(11);
  });
});
