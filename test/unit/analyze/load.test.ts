import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadSources } from '../../../src/core/analyze/load.js';
import type { FieldPath } from '../../../src/core/analyze/types.js';
import { InputError } from '../../../src/core/errors.js';

const dir = join(import.meta.dirname, '../../fixtures/analyze');
const corpus = [
  ...readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => ({ file: f, text: readFileSync(join(dir, f), 'utf8') })),
  ...['bookinfo.yaml', ...readdirSync('samples/bookinfo/networking').map((f) => `networking/${f}`)].map((f) => ({ file: f, text: readFileSync(join('samples/bookinfo', f), 'utf8') })),
];

/** Every path into an object, for comparing positions of both loaders field by field. */
function paths(v: unknown, prefix: (string | number)[] = [], out: FieldPath[] = []): FieldPath[] {
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...prefix, i], out));
  else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) paths(x, [...prefix, k], out);
  return out;
}

describe('loadSources', () => {
  test('the fast path (js-yaml + lazy positions) gives the same objects and positions as the exact path', () => {
    for (const src of corpus) {
      const fast = loadSources([src]);
      const exact = loadSources([src], { exact: true });
      expect(fast.map((r) => r.resource), src.file).toEqual(exact.map((r) => r.resource));
      fast.forEach((r, i) => {
        for (const p of paths(r.resource)) expect(r.locate?.(p), `${src.file} ${p.join('.')}`).toEqual(exact[i]?.locate?.(p));
      });
    }
  });

  test('positions point at the field key, 1-based, across documents and Lists', () => {
    const text = '# header\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: a}\n  spec:\n    ports: [{port: 80}]\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: b\n';
    for (const exact of [false, true]) {
      const [a, b] = loadSources([{ file: 'x.yaml', text }], { exact });
      expect(a?.locate?.(['spec', 'ports', 0, 'port'])).toEqual({ file: 'x.yaml', line: 10, column: 14 });
      expect(b?.locate?.(['metadata', 'name'])).toEqual({ file: 'x.yaml', line: 15, column: 3 });
      // A path that does not exist stops at the deepest field that does.
      expect(b?.locate?.(['metadata', 'labels', 'x'])).toEqual({ file: 'x.yaml', line: 14, column: 1 });
    }
  });

  test('CRLF line endings read the same, positions included', () => {
    const text = 'apiVersion: v1\r\nkind: Service\r\nmetadata:\r\n  name: a\r\n---\r\napiVersion: v1\r\nkind: Service\r\nmetadata:\r\n  name: b\r\n';
    const fast = loadSources([{ file: 'w.yaml', text }]);
    const exact = loadSources([{ file: 'w.yaml', text }], { exact: true });
    expect(fast.map((r) => r.resource.metadata.name)).toEqual(['a', 'b']);
    expect(fast.map((r) => r.locate?.(['metadata', 'name']))).toEqual(exact.map((r) => r.locate?.(['metadata', 'name'])));
    expect(fast[1]?.locate?.(['metadata', 'name'])).toEqual({ file: 'w.yaml', line: 9, column: 3 });
  });

  test('anchors, merge keys and directives go through the exact path', () => {
    const text = 'apiVersion: v1\nkind: Service\nmetadata: &m {name: a}\nspec:\n  x: *m\n';
    expect(loadSources([{ file: 'a.yaml', text }])[0]?.resource.spec).toEqual({ x: { name: 'a' } });
  });

  test('generateName stands in for a missing name', () => {
    const [r] = loadSources([{ file: 'job.yaml', text: 'apiVersion: v1\nkind: Pod\nmetadata: {generateName: smoke-}\nspec: {containers: []}\n' }]);
    expect(r?.resource.metadata.name).toBe('smoke-');
  });

  test('errors name file and line', () => {
    expect(() => loadSources([{ file: 'bad.yaml', text: 'apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  name: b\n' }])).toThrow(InputError);
    expect(() => loadSources([{ file: 'bad.yaml', text: 'a: 1\n---\nkind: Service\napiVersion: v1\n' }])).toThrow(/bad\.yaml:1: not a Kubernetes object/);
    expect(() => loadSources([{ file: 'bad.yaml', text: '---\n- 1\n' }])).toThrow(/bad\.yaml:2: not a Kubernetes object/);
  });
});
