import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '../../src/api/resource.js';
import { FileStore } from '../../src/store/file-store.js';
import { parseYamlFile, renderEdited } from '../../src/store/yaml-docs.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const SAMPLES = [
  'samples/bookinfo/bookinfo.yaml',
  'samples/bookinfo/networking/virtual-service-all-v1.yaml',
  'samples/bookinfo/networking/destination-rule-all.yaml',
  'samples/bookinfo/networking/virtual-service-reviews-jason-v2-v3.yaml',
  'samples/bookinfo/networking/bookinfo-gateway.yaml',
  'samples/bookinfo/networking/egress-rule-google-apis.yaml',
];

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'meshctl-edit-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

type Mutation = { name: string; apply(r: Resource): Resource; dropsComments?: boolean };

const clone = <T>(v: T): T => structuredClone(v);
const MUTATIONS: Mutation[] = [
  {
    name: 'change a deep scalar',
    apply: (r) => {
      const c = clone(r);
      // The last string leaf found depth-first: somewhere inside spec for nearly every object.
      let holder: Record<string, unknown> | unknown[] | undefined;
      let key: string | number | undefined;
      const walk = (v: unknown): void => {
        const entries: [string | number, unknown][] = Array.isArray(v) ? v.map((x, i) => [i, x]) : v && typeof v === 'object' ? Object.entries(v) : [];
        for (const [k, x] of entries) {
          if (typeof x !== 'string') walk(x);
          else {
            holder = v as Record<string, unknown>;
            key = k;
          }
        }
      };
      walk(c.spec ?? c.metadata.labels);
      if (holder && key !== undefined) (holder as Record<string | number, unknown>)[key] = 'changed: yes, [1]';
      return c;
    },
  },
  { name: 'add an annotation', apply: (r) => ({ ...clone(r), metadata: { ...clone(r.metadata), annotations: { 'meshctl.io/count': '7', note: 'true' } } }) },
  {
    name: 'add a second weighted route or a new spec field',
    apply: (r) => {
      const c = clone(r) as Resource<Record<string, unknown>>;
      const http = (c.spec?.http as { route?: { destination: Record<string, unknown>; weight?: number }[] }[] | undefined)?.[0];
      const first = http?.route?.[0];
      if (http?.route && first) {
        first.weight = 80;
        http.route.push({ destination: { ...first.destination, subset: 'canary' }, weight: 20 });
      } else c.spec = { ...(c.spec ?? {}), addedByTest: [1, 'two', { three: 3 }] };
      return c;
    },
  },
  {
    name: 'remove a key',
    dropsComments: true,
    apply: (r) => {
      const c = clone(r) as Resource<Record<string, unknown>>;
      const keys = Object.keys(c.spec ?? {});
      if (c.spec && keys.length > 1) delete c.spec[keys[keys.length - 1] as string];
      else delete c.metadata.labels;
      return c;
    },
  },
];

function comments(text: string): string[] {
  return [...text.matchAll(/#.*$/gm)].map((m) => m[0].trim());
}

describe('in-place edits of real files (Istio Bookinfo)', () => {
  for (const sample of SAMPLES) {
    for (const m of MUTATIONS) {
      it(`${basename(sample)}: ${m.name} on every object`, async () => {
        const original = await readFile(join(root, sample), 'utf8');
        const objects = parseAllDocuments(original).flatMap((d) => {
          const v = d.toJS() as Resource | null;
          return v && v.kind ? [v] : [];
        });
        expect(objects.length).toBeGreaterThan(0);
        for (const [i, obj] of objects.entries()) {
          const dir = await mkdtemp(join(work, 'd-'));
          await cp(join(root, sample), join(dir, 'f.yaml'));
          const store = await FileStore.open(dir);
          const ref = { kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name };
          const before = (await store.get(ref))!;
          const desired = m.apply(before);
          await store.apply(desired);
          const text = await readFile(join(dir, 'f.yaml'), 'utf8');

          // Every object reads back as intended: the edited one as desired, the others unchanged.
          const fresh = await FileStore.open(dir);
          const got = await fresh.get(ref);
          const strip = (r: Resource | undefined): unknown => r && { ...r, metadata: { ...r.metadata, resourceVersion: undefined } };
          expect(strip(got), `object ${i} after "${m.name}":\n${text}`).toEqual(strip(desired));
          for (const other of objects) {
            if (other === obj) continue;
            const o = await fresh.get({ kind: other.kind, namespace: other.metadata.namespace, name: other.metadata.name });
            expect(o?.spec).toEqual(other.spec);
          }
          // Other documents are byte for byte the same, and no comment is lost.
          const oldDocs = original.split(/^---\s*$/m);
          const newDocs = text.split(/^---\s*$/m);
          expect(newDocs.length).toBe(oldDocs.length);
          const changedDocs = oldDocs.filter((d, j) => d !== newDocs[j]);
          expect(changedDocs.length).toBeLessThanOrEqual(1);
          if (!m.dropsComments) expect(comments(text)).toEqual(expect.arrayContaining(comments(original)));
          expect(text).not.toContain('resourceVersion');
        }
      });
    }
  }
});

describe('edit minimality', () => {
  it('a scalar change rewrites one line and nothing else', () => {
    const src = 'kind: VirtualService\nmetadata:\n  name: r\nspec:\n  http:\n  - route:\n    - destination: {host: r, subset: v1}   # stable\n      weight: 100 # all of it\n';
    const file = parseYamlFile('x.yaml', src);
    const value = file.docs[0]!.toJS() as { spec: { http: { route: { destination: { subset: string }; weight: number }[] }[] } };
    value.spec.http[0]!.route[0]!.weight = 90;
    value.spec.http[0]!.route[0]!.destination.subset = 'v-2';
    const out = renderEdited(file, [{ op: 'update', docIndex: 0, value }]);
    expect(out).toBe(src.replace('weight: 100', 'weight: 90').replace('subset: v1', 'subset: v-2'));
  });

  it('a new key re-renders only the map that gained it, in the file\'s sequence style', () => {
    const src = '# head\nkind: VirtualService   # kind!\nmetadata:\n  name: r\nspec:\n  hosts: [ r ]    # flow, spaced\n  http:\n  - route:\n    - destination:\n        host: r\n';
    const file = parseYamlFile('x.yaml', src);
    const value = file.docs[0]!.toJS() as Record<string, Record<string, unknown>>;
    value.metadata!.labels = { app: 'r' };
    (value.spec!.hosts as string[]).push('r.shop.svc');
    const out = renderEdited(file, [{ op: 'update', docIndex: 0, value }]);
    expect(out).toBe(
      '# head\nkind: VirtualService   # kind!\nmetadata:\n  name: r\n  labels:\n    app: r\nspec:\n  hosts: [ r, r.shop.svc ]    # flow, spaced\n  http:\n  - route:\n    - destination:\n        host: r\n',
    );
  });

  it('quotes new scalars that would otherwise change meaning', () => {
    const src = 'kind: ConfigMap\nmetadata: {name: c}\ndata: {a: x, b: y, c: z}\n';
    const file = parseYamlFile('x.yaml', src);
    const value = { kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: 'true', b: 'x, y: z', c: '12' } };
    const out = renderEdited(file, [{ op: 'update', docIndex: 0, value }]);
    expect(parseAllDocuments(out)[0]?.toJS()).toEqual(value);
    expect(out).toBe('kind: ConfigMap\nmetadata: {name: c}\ndata: {a: "true", b: "x, y: z", c: "12"}\n');
  });
});
