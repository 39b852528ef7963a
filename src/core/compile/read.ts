/**
 * Narrowing helpers for spec fields. The compiler reads objects that came from YAML and may be
 * partial or wrong; every read checks the type and falls back, so one bad field skips one thing
 * (with a warning) instead of failing the whole snapshot.
 */
export type Obj = Record<string, unknown>;

export function obj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}

export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

export function strMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const o = obj(v);
  if (!o) return out;
  for (const [k, val] of Object.entries(o)) if (typeof val === 'string') out[k] = val;
  return out;
}

/** Protobuf Duration as YAML writes it: "1.5s", "100ms", "2m", "1h", "500us". Undefined when malformed. */
export function durationMs(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  let total = 0;
  let rest = v.trim();
  if (rest === '') return undefined;
  const unit = /^(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/;
  while (rest.length) {
    const m = unit.exec(rest);
    if (!m) return undefined;
    const n = Number(m[1]);
    const factor = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, µs: 0.001, ns: 0.000001 }[m[2] as 'h'];
    total += n * factor;
    rest = rest.slice(m[0].length);
  }
  return total;
}

/** Istio Percent: `{value: 12.5}`; absent means 100 where Istio documents "if unspecified, all requests". */
export function percent(v: unknown, legacy: unknown, dflt: number): number {
  const p = num(obj(v)?.value);
  if (p !== undefined) return Math.min(100, Math.max(0, p));
  const l = num(legacy);
  if (l !== undefined) return Math.min(100, Math.max(0, l));
  return dflt;
}
