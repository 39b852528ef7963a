import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { applySetArguments, parseSetArgument, pathString, typedValue } from '../../src/manifests/set-values.js';

const set = (...exprs: string[]) => applySetArguments({}, exprs);

describe('--set parser (Helm syntax)', () => {
  it('sets nested keys with dots', () => {
    expect(set('a.b.c=x')).toEqual({ a: { b: { c: 'x' } } });
  });

  it('takes several comma-separated pairs in one flag', () => {
    expect(set('a=1,b.c=two')).toEqual({ a: 1, b: { c: 'two' } });
  });

  it('types values as Helm does', () => {
    expect(set('t=true,f=FALSE,n=42,neg=-7,z=0,lead=007,fl=1.20,s=abc')).toEqual({ t: true, f: false, n: 42, neg: -7, z: 0, lead: '007', fl: '1.20', s: 'abc' });
    expect(typedValue('99999999999999999999')).toBe('99999999999999999999');
  });

  it('keeps every value a string with --set-string', () => {
    expect(applySetArguments({}, [], ['a=true,b=42,c=null'])).toEqual({ a: 'true', b: '42', c: 'null' });
  });

  it('sets list elements by index, padding with null', () => {
    expect(set('l[0]=a')).toEqual({ l: ['a'] });
    expect(set('l[2]=c')).toEqual({ l: [null, null, 'c'] });
    expect(set('l[1].name=x,l[1].port=80')).toEqual({ l: [null, { name: 'x', port: 80 }] });
    expect(set('m[0][1]=z')).toEqual({ m: [[null, 'z']] });
  });

  it('reads a {x,y} list value', () => {
    expect(set('a={x,2,true}')).toEqual({ a: ['x', 2, true] });
    expect(set('a={},b=1')).toEqual({ a: [], b: 1 });
    expect(set('a={x\\,y,z}')).toEqual({ a: ['x,y', 'z'] });
  });

  it('treats escaped dots, commas and equals signs literally', () => {
    expect(set('labels.app\\.kubernetes\\.io/name=x')).toEqual({ labels: { 'app.kubernetes.io/name': 'x' } });
    expect(set('a=x\\,y,b=z')).toEqual({ a: 'x,y', b: 'z' });
    expect(set('a=x=y')).toEqual({ a: 'x=y' });
    expect(set('k\\=ey=v')).toEqual({ 'k=ey': 'v' });
  });

  it('sets the empty string for a=, and removes a key for a=null', () => {
    expect(set('a=')).toEqual({ a: '' });
    expect(applySetArguments({ a: { b: 1, c: 2 } }, ['a.b=null'])).toEqual({ a: { c: 2 } });
  });

  it('overlays existing values without touching siblings, and does not mutate its input', () => {
    const base = { a: { b: 1, c: 2 } };
    expect(applySetArguments(base, ['a.b=3'])).toEqual({ a: { b: 3, c: 2 } });
    expect(base).toEqual({ a: { b: 1, c: 2 } });
  });

  it('replaces a scalar in the way, as Helm does', () => {
    expect(applySetArguments({ a: 1 }, ['a.b=2'])).toEqual({ a: { b: 2 } });
  });

  it('applies later flags over earlier ones and --set-string last', () => {
    expect(applySetArguments({}, ['a=1', 'a=2'], ['a=3'])).toEqual({ a: '3' });
  });

  it.each([
    ['a', /has no value/],
    ['a,b=1', /has no value/],
    ['=x', /key is missing/],
    ['a..b=x', /empty key segment/],
    ['.a=x', /empty key segment/],
    ['a.=x', /ends with/],
    ['a[x]=1', /not a non-negative integer/],
    ['a[-1]=1', /not a non-negative integer/],
    ['a[1=1', /closing/],
    ['a[0]b=1', /unexpected "b"/],
    ['[0]=1', /needs a key/],
    ['a[99999999]=1', /larger than/],
    ['a={x,y', /closing "}"/],
    ['a={x}y', /after "}"/],
    ['', /nothing to set/],
  ])('rejects %j with a usage error', (expr, message) => {
    let err: unknown;
    try {
      parseSetArgument(expr);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain('--set');
  });

  it('keeps a trailing backslash in a value literally', () => {
    expect(set('a=b\\')).toEqual({ a: 'b\\' });
  });

  it('prints paths back in --set form', () => {
    expect(pathString(['a', 0, 'b.c', 2])).toBe('a[0].b\\.c[2]');
  });
});
