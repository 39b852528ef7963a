import { displayRef } from '../../api/resource.js';
import { UsageError } from '../errors.js';
import type { InputResource, Level, Message } from './types.js';
import { LEVELS, levelRank } from './types.js';

/** The annotation istioctl reads for per-resource suppression: a comma-separated list of codes, or `*`. */
export const SUPPRESS_ANNOTATION = 'galley.istio.io/analyze-suppress';

export interface Suppression {
  code: RegExp;
  resource: RegExp;
  source: string;
}

/** Parses `CODE=Kind name.namespace`; `*` is a wildcard in both halves (istioctl's --suppress). */
export function parseSuppression(value: string): Suppression {
  const eq = value.indexOf('=');
  if (eq <= 0 || eq === value.length - 1) {
    throw new UsageError(`invalid --suppress "${value}"`, 'use CODE=Kind name.namespace, e.g. "IST0118=Service metrics.default" or "IST0101=VirtualService *.prod"');
  }
  return { code: glob(value.slice(0, eq).trim()), resource: glob(value.slice(eq + 1).trim()), source: value };
}

function glob(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`, 'i');
}

export function parseLevel(value: unknown, flag: string): Level | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const found = LEVELS.find((l) => l.toLowerCase() === String(value).toLowerCase());
  if (!found) throw new UsageError(`invalid ${flag} "${String(value)}"`, `use one of ${LEVELS.join(', ')}`);
  return found;
}

export interface FilterOptions {
  suppressions: readonly Suppression[];
  /** Resources by `Kind/namespace/name`, to read the suppression annotation. */
  resources: readonly InputResource[];
  defaultNamespace: string;
}

/** Drops messages suppressed by flag, repo config or annotation. */
export function applySuppressions(messages: readonly Message[], opts: FilterOptions): Message[] {
  const annotated = new Map<string, string[]>();
  for (const { resource: r } of opts.resources) {
    const a = r.metadata.annotations?.[SUPPRESS_ANNOTATION];
    if (typeof a !== 'string') continue;
    const ns = r.metadata.namespace || (r.kind === 'Namespace' ? '' : opts.defaultNamespace);
    annotated.set(`${r.kind}/${ns}/${r.metadata.name}`, a.split(',').map((c) => c.trim().toUpperCase()));
  }
  return messages.filter((m) => {
    const codes = annotated.get(`${m.resource.kind}/${m.resource.namespace ?? ''}/${m.resource.name}`);
    if (codes && (codes.includes('*') || codes.includes(m.code))) return false;
    const ref = displayRef(m.resource);
    return !opts.suppressions.some((s) => s.code.test(m.code) && s.resource.test(ref));
  });
}

export function atOrAbove(messages: readonly Message[], level: Level): Message[] {
  const min = levelRank(level);
  return messages.filter((m) => levelRank(m.level) >= min);
}

/**
 * A finding's identity for baselines: code, resource, field and text, not the line (lines move
 * when unrelated YAML is edited, and the finding is still the old one).
 */
export function findingKey(m: Pick<Message, 'code' | 'resource' | 'field' | 'text'>): string {
  return `${m.code}|${m.resource.kind}|${m.resource.namespace ?? ''}|${m.resource.name}|${m.field ?? ''}|${m.text}`;
}

/** Messages not in the baseline; each baseline entry absorbs one equal finding (a multiset). */
export function newSince(messages: readonly Message[], baseline: readonly Pick<Message, 'code' | 'resource' | 'field' | 'text'>[]): Message[] {
  const counts = new Map<string, number>();
  for (const b of baseline) counts.set(findingKey(b), (counts.get(findingKey(b)) ?? 0) + 1);
  return messages.filter((m) => {
    const k = findingKey(m);
    const n = counts.get(k) ?? 0;
    if (n > 0) {
      counts.set(k, n - 1);
      return false;
    }
    return true;
  });
}
