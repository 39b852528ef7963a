import { describe, expect, it } from 'vitest';
import { cjs } from '../../src/core/module-interop.js';

describe('cjs', () => {
  it('returns a namespace with named exports as it is (Node, vitest)', async () => {
    const yaml = await import('yaml');
    expect(cjs(yaml)).toBe(yaml);
    expect(typeof cjs(yaml).parse).toBe('function');
  });

  it('unwraps a namespace that has only `default` (esbuild split chunks)', () => {
    const exportsObject = { parse: () => 1 };
    const ns = Object.freeze({ default: exportsObject }) as unknown as typeof exportsObject;
    expect(cjs(ns)).toBe(exportsObject);
  });

  it('keeps an ES module whose only export is a default', () => {
    const ns = { default: 1, other: 2 };
    expect(cjs(ns)).toBe(ns);
  });
});
