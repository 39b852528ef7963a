import type { Resource } from '../../api/resource.js';
import { isObject } from './load.js';

/**
 * Narrowing helpers for untrusted specs. Analyzers read whatever the user wrote (the schema family
 * reports wrong types), so every access tolerates a missing or mistyped field instead of throwing.
 */
export function obj(v: unknown): Record<string, unknown> | undefined {
  return isObject(v) ? v : undefined;
}

export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** Array items that are objects, with their original index (for field paths). */
export function objs(v: unknown): [Record<string, unknown>, number][] {
  const out: [Record<string, unknown>, number][] = [];
  arr(v).forEach((x, i) => {
    if (isObject(x)) out.push([x, i]);
  });
  return out;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function strings(v: unknown): string[] {
  return arr(v).filter((x): x is string => typeof x === 'string');
}

export function specOf(r: Resource): Record<string, unknown> {
  return obj(r.spec) ?? {};
}

/** Labels as strings (YAML may give numbers or booleans for `version: 1`). */
export function stringMap(v: unknown): Record<string, string> {
  const o = obj(v);
  if (!o) return {};
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(o)) if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') out[k] = String(x);
  return out;
}

/** Kubernetes equality selector: every selector label present with the same value. Empty selects all. */
export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

export function formatLabels(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** Istio/Go duration ("1.5s", "100ms", "1h30m") in milliseconds, or an error text. */
export function parseDuration(v: unknown): { ms: number } | { error: string } {
  if (typeof v !== 'string') return { error: 'must be a string such as "1s"' };
  const s = v.trim();
  if (s === '') return { error: 'empty' };
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let ms = 0;
  let i = 0;
  while (i < s.length) {
    re.lastIndex = i;
    const m = re.exec(s);
    if (!m) return { error: /^\d+(\.\d+)?$/.test(s) ? 'missing unit (use s, ms, m or h)' : 'not a duration (use e.g. 1.5s, 100ms, 2m)' };
    ms += Number(m[1]) * (unit[m[2] ?? 's'] ?? 1);
    i = re.lastIndex;
  }
  return { ms };
}

export function pathString(path: readonly (string | number)[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${p}` : p;
  return s;
}
