/**
 * Command-line values of the traffic commands, checked before anything is read or written. Each
 * error names the value and the form that works (exit 64).
 */
import { UsageError } from '../errors.js';

/** Route weights: whole numbers 0-100, with or without `%` (Istio weights are integers). */
export function parseWeight(value: string, what = 'weight'): number {
  const m = /^(\d{1,3})%?$/.exec(value.trim());
  if (!m) {
    const hint = /^\d+\.\d+%?$/.test(value.trim()) ? 'weights are whole numbers' : 'use a whole number 0-100, e.g. 10 or 10%';
    throw new UsageError(`invalid ${what} "${value}"`, hint);
  }
  const n = Number(m[1]);
  if (n > 100) throw new UsageError(`invalid ${what} "${value}": more than 100%`, 'use a whole number 0-100');
  return n;
}

/** Percentages of requests (faults, mirroring): 0-100, decimals allowed, as Istio's `Percent`. */
export function parsePercent(value: string, flag: string): number {
  const m = /^(\d{1,3}(?:\.\d+)?)%?$/.exec(value.trim());
  const n = m ? Number(m[1]) : NaN;
  if (!m || !(n >= 0 && n <= 100)) throw new UsageError(`invalid ${flag} "${value}"`, 'use a percentage 0-100, e.g. 10 or 2.5');
  return n;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Durations as Istio writes them (`500ms`, `5s`, `1m`, `1h`); returns milliseconds. */
export function parseDurationMs(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value.trim());
  if (!m) throw new UsageError(`invalid ${flag} "${value}"`, 'use a duration such as 500ms, 5s, 10m or 1h');
  const ms = Number(m[1]) * (UNIT_MS[m[2] ?? 's'] ?? 1000);
  if (ms < 1) throw new UsageError(`invalid ${flag} "${value}": must be at least 1ms`);
  return ms;
}

/** A duration normalised for the Istio API: whole seconds as `5s`, else milliseconds as `0.25s`. */
export function durationString(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))}s`;
}

/** `key=value` pairs, comma-separated or repeated (`--source-labels app=a,version=v1`). */
export function parseLabels(values: string | string[] | undefined, flag: string): Record<string, string> | undefined {
  if (values === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const part of (Array.isArray(values) ? values : [values]).flatMap((v) => v.split(','))) {
    const m = /^([A-Za-z0-9][-A-Za-z0-9_./]*)=([-A-Za-z0-9_.]*)$/.exec(part.trim());
    if (!m) throw new UsageError(`invalid ${flag} "${part}"`, 'use key=value, e.g. app=productpage');
    out[m[1] ?? ''] = m[2] ?? '';
  }
  return out;
}

/** `--match header:end-user=jason` -> header name and exact value. */
export function parseHeaderMatch(value: string): { name: string; value: string } {
  const m = /^header:([A-Za-z0-9][-A-Za-z0-9_]*)=(.*)$/.exec(value.trim());
  if (!m) throw new UsageError(`invalid --match "${value}"`, 'use header:NAME=VALUE, e.g. header:end-user=jason');
  return { name: (m[1] ?? '').toLowerCase(), value: m[2] ?? '' };
}

/** `--header end-user=jason` -> header name and exact value. */
export function parseHeader(value: string, flag: string): { name: string; value: string } {
  const m = /^([A-Za-z0-9][-A-Za-z0-9_]*)=(.*)$/.exec(value.trim());
  if (!m || m[2] === '') throw new UsageError(`invalid ${flag} "${value}"`, 'use NAME=VALUE, e.g. end-user=jason');
  return { name: (m[1] ?? '').toLowerCase(), value: m[2] ?? '' };
}

export function parseHttpStatus(value: string): number {
  const n = /^\d{3}$/.test(value.trim()) ? Number(value) : NaN;
  if (!(n >= 200 && n <= 599)) throw new UsageError(`invalid --abort "${value}"`, 'use an HTTP status 200-599, e.g. 503');
  return n;
}

export function parseCount(value: string, flag: string, min = 0): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!(n >= min) || !Number.isSafeInteger(n)) throw new UsageError(`invalid ${flag} "${value}"`, `use a whole number ≥ ${min}`);
  return n;
}
