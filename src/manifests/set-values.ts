import { UsageError } from '../core/errors.js';

/**
 * Helm's `--set` syntax, so flags people already type for Helm charts work here:
 *   a.b=c            nested keys              a.b=c,d=e       several pairs in one flag
 *   list[0]=x        list index               list[1].name=y  object inside a list
 *   a={x,y}          a list value             a\.b=c          a key containing a dot
 *   a=null           removes the key          a=              the empty string
 * Values are typed as Helm types them (true/false, null, integers without a leading zero);
 * `--set-string` keeps every value a string. Anything else (1.5, 1.20) stays a string here and is
 * converted by schema validation when the schema asks for a number, so an image tag "1.20" is
 * never turned into the number 1.2.
 */

export type PathSegment = string | number;
export interface SetPair {
  path: PathSegment[];
  value: unknown;
}

/** Helm caps list growth the same way: a typo like `a[99999999]` must not allocate a huge array. */
const MAX_INDEX = 65_535;

export function parseSetArgument(expr: string, opts: { asString?: boolean; flag?: string } = {}): SetPair[] {
  const flag = opts.flag ?? (opts.asString ? '--set-string' : '--set');
  const fail = (why: string): never => {
    throw new UsageError(`${flag} "${expr}": ${why}`, 'use key.path=value, e.g. --set controller.replicas=2');
  };
  const pairs: SetPair[] = [];
  let i = 0;

  const parseKey = (): PathSegment[] => {
    const path: PathSegment[] = [];
    let seg = '';
    let segStarted = false;
    let afterIndex = false;
    while (i < expr.length) {
      const c = expr[i] as string;
      if (c === '\\') {
        if (i + 1 >= expr.length) fail('a "\\" at the end has nothing to escape');
        seg += expr[i + 1];
        segStarted = true;
        i += 2;
        continue;
      }
      if (c === '=') {
        if (segStarted) path.push(seg);
        else if (!afterIndex) fail(path.length === 0 ? 'a key is missing before "="' : 'the key ends with "."');
        i++;
        return path;
      }
      if (c === ',') fail(`key "${seg || path.join('.')}" has no value (add =VALUE)`);
      if (c === '.') {
        if (segStarted) path.push(seg);
        else if (!afterIndex) fail('empty key segment (two dots, or a leading dot)');
        seg = '';
        segStarted = false;
        afterIndex = false;
        i++;
        continue;
      }
      if (c === '[') {
        if (segStarted) path.push(seg);
        else if (path.length === 0) fail('a list index needs a key before it, e.g. list[0]=x');
        seg = '';
        segStarted = false;
        const close = expr.indexOf(']', i);
        if (close < 0) fail('"[" without a closing "]"');
        const digits = expr.slice(i + 1, close);
        if (!/^\d+$/.test(digits)) fail(`list index "[${digits}]" is not a non-negative integer`);
        const n = Number(digits);
        if (n > MAX_INDEX) fail(`list index ${n} is larger than ${MAX_INDEX}`);
        path.push(n);
        i = close + 1;
        afterIndex = true;
        const next = expr[i];
        if (next !== undefined && next !== '.' && next !== '[' && next !== '=') fail(`unexpected "${next}" after "[${digits}]"`);
        continue;
      }
      if (afterIndex) fail(`unexpected "${c}" after a list index`);
      seg += c;
      segStarted = true;
      i++;
    }
    return fail(`key "${[...path, seg].join('.')}" has no value (add =VALUE)`);
  };

  /** Reads up to an unescaped stop character; returns the unescaped text. */
  const readUntil = (stops: string): string => {
    let out = '';
    while (i < expr.length) {
      const c = expr[i] as string;
      if (c === '\\' && i + 1 < expr.length) {
        out += expr[i + 1];
        i += 2;
        continue;
      }
      if (stops.includes(c)) break;
      out += c;
      i++;
    }
    return out;
  };

  const typed = (raw: string): unknown => (opts.asString ? raw : typedValue(raw));

  while (i < expr.length) {
    const path = parseKey();
    let value: unknown;
    if (expr[i] === '{') {
      i++;
      const items: unknown[] = [];
      if (expr[i] === '}') i++;
      else {
        for (;;) {
          items.push(typed(readUntil(',}')));
          if (i >= expr.length) fail('"{" without a closing "}"');
          if (expr[i] === '}') {
            i++;
            break;
          }
          i++; // the comma between items
        }
      }
      if (i < expr.length && expr[i] !== ',') fail(`unexpected "${expr[i] ?? ''}" after "}"`);
      value = items;
    } else {
      value = typed(readUntil(','));
    }
    pairs.push({ path, value });
    if (expr[i] === ',') i++;
  }
  if (pairs.length === 0) fail('nothing to set');
  return pairs;
}

/** Helm's typedVal: booleans and null case-insensitively, integers unless they have a leading zero. */
export function typedValue(raw: string): unknown {
  const lower = raw.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  if (lower === 'null') return null;
  if (raw === '0') return 0;
  if (/^[-+]?[1-9]\d*$/.test(raw)) {
    const n = Number(raw);
    if (Number.isSafeInteger(n)) return n;
  }
  return raw;
}

type Container = Record<string, unknown> | unknown[];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Writes one pair into `target` (mutated; callers pass their own copy). A null value removes the
 * key, as in Helm, so `--set meshConfig.tracing=null` falls back to nothing rather than to "null".
 */
export function applySetPair(target: Record<string, unknown>, pair: SetPair): void {
  let node: Container = target;
  for (let k = 0; k < pair.path.length; k++) {
    const seg = pair.path[k] as PathSegment;
    const last = k === pair.path.length - 1;
    const nextSeg = pair.path[k + 1];
    if (typeof seg === 'number') {
      if (!Array.isArray(node)) throw new UsageError(`--set ${pathString(pair.path)}: ${pathString(pair.path.slice(0, k))} is not a list`);
      while (node.length <= seg) node.push(null);
      if (last) {
        node[seg] = pair.value;
        return;
      }
      node = descend(node, seg, typeof nextSeg === 'number');
    } else {
      if (!isRecord(node)) throw new UsageError(`--set ${pathString(pair.path)}: ${pathString(pair.path.slice(0, k))} is not a map`);
      if (last) {
        if (pair.value === null) delete node[seg];
        else node[seg] = pair.value;
        return;
      }
      node = descend(node, seg, typeof nextSeg === 'number');
    }
  }
}

function descend(node: Container, seg: PathSegment, wantList: boolean): Container {
  const current = (node as Record<string | number, unknown>)[seg];
  if (wantList ? Array.isArray(current) : isRecord(current)) return current as Container;
  // A scalar (or the wrong container) in the way is replaced, as Helm does for --set a.b=1 over a=1.
  const fresh: Container = wantList ? [] : {};
  (node as Record<string | number, unknown>)[seg] = fresh;
  return fresh;
}

export function pathString(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += (out ? '.' : '') + seg.replace(/\./g, '\\.');
  }
  return out;
}

/** Applies every --set then every --set-string expression, in that order, to a copy of `values`. */
export function applySetArguments(values: Record<string, unknown>, sets: readonly string[], setStrings: readonly string[] = []): Record<string, unknown> {
  const out = structuredClone(values);
  for (const expr of sets) for (const pair of parseSetArgument(expr)) applySetPair(out, pair);
  for (const expr of setStrings) for (const pair of parseSetArgument(expr, { asString: true })) applySetPair(out, pair);
  return out;
}
