import type { Analyzer } from '../types.js';
import { arr, obj, objs, specOf } from '../util.js';

/**
 * istioctl's VirtualService conditions analyzer: a rule after a catch-all (a rule without match, or
 * with an empty match) is never used (IST0130); a match identical to an earlier one is dead (IST0131).
 * Beyond istioctl, for HTTP: `uri: {prefix: /}` (or regex `.*`) is a catch-all too, and a match an
 * earlier one covers (every request it takes, the earlier one takes first: /v1 before /v1 + GET)
 * is dead as well. Covering is decided conservatively: anything not understood is "not covered".
 */
export const virtualServiceUnreachableRules: Analyzer = {
  name: 'virtualservice.unreachable-rules',
  codes: ['IST0130', 'IST0131'],
  description: 'No VirtualService rule is hidden by an earlier catch-all or duplicate match',
  inputs: ['VirtualService'],
  analyze(ctx, report) {
    for (const vs of ctx.of('VirtualService')) {
      const spec = specOf(vs.resource);
      for (const section of ['http', 'tcp', 'tls'] as const) {
        const rules = objs(spec[section]);
        let catchAll: number | undefined;
        const seenMatches = new Map<string, number>();
        const earlierHttp: [unknown, number][] = [];
        for (const [rule, i] of rules) {
          if (catchAll !== undefined) {
            report.report('IST0130', vs, ['spec', section, i], `${section}[${i}]`, `${section}[${catchAll}] before it matches every request`);
            continue;
          }
          const matches = arr(rule.match);
          if (matches.length === 0 || matches.some((m) => isEmptyMatch(m) || (section === 'http' && isCatchAllHttp(m)))) {
            catchAll = i;
            continue;
          }
          let dups = 0;
          matches.forEach((m, j) => {
            const key = canonical(m);
            const earlier = seenMatches.get(key) ?? (section === 'http' ? coveringRule(earlierHttp, m) : undefined);
            if (earlier !== undefined && earlier !== i) {
              dups++;
              report.report('IST0131', vs, ['spec', section, i, 'match', j], `${section}[${i}]`, String(j), `${section}[${earlier}]`);
            } else if (!seenMatches.has(key)) seenMatches.set(key, i);
          });
          if (section === 'http') for (const m of matches) earlierHttp.push([m, i]);
          if (dups === matches.length) report.report('IST0130', vs, ['spec', section, i], `${section}[${i}]`, 'all its matches are used by earlier rules');
        }
      }
    }
  },
};

function isEmptyMatch(m: unknown): boolean {
  const o = obj(m);
  if (!o) return false;
  // `name` labels a match; it does not narrow it.
  return Object.keys(o).every((k) => k === 'name');
}

/** Match conditions with keys sorted and `name` dropped, so equal conditions compare equal. */
function canonical(m: unknown): string {
  const norm = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(norm);
    const o = obj(v);
    if (!o) return v;
    return Object.fromEntries(
      Object.keys(o)
        .filter((k) => k !== 'name')
        .sort()
        .map((k) => [k, norm(o[k])]),
    );
  };
  return JSON.stringify(norm(m));
}

/** Every path starts with "/": a match on that alone (or on regex .*) takes every request. */
function isCatchAllHttp(m: unknown): boolean {
  const o = obj(m);
  if (!o) return false;
  const keys = Object.keys(o).filter((k) => k !== 'name' && k !== 'ignoreUriCase');
  if (keys.length !== 1 || keys[0] !== 'uri') return false;
  const uri = obj(o.uri);
  return uri !== undefined && Object.keys(uri).length === 1 && (uri.prefix === '/' || uri.regex === '.*' || uri.regex === '^.*$' || uri.regex === '/.*');
}

/** The first earlier rule with a match that takes every request `m` would. */
function coveringRule(earlier: readonly [unknown, number][], m: unknown): number | undefined {
  return earlier.find(([e]) => covers(e, m))?.[1];
}

const STRING_MATCH_KEYS = new Set(['uri', 'scheme', 'method', 'authority']);
const MAP_KEYS = new Set(['headers', 'queryParams']);

/** Whether every request matching `later` also matches `earlier` (conditions are ANDed). */
function covers(earlier: unknown, later: unknown): boolean {
  const e = obj(earlier);
  const l = obj(later);
  if (!e || !l) return false;
  // Case-insensitive matching changes what a prefix covers: only compare like with like.
  if (Boolean(e.ignoreUriCase) !== Boolean(l.ignoreUriCase)) return false;
  for (const key of Object.keys(e)) {
    if (key === 'name' || key === 'ignoreUriCase') continue;
    if (!(key in l)) return false;
    if (STRING_MATCH_KEYS.has(key)) {
      if (!stringMatchImplies(l[key], e[key])) return false;
    } else if (MAP_KEYS.has(key)) {
      const em = obj(e[key]);
      const lm = obj(l[key]);
      if (!em || !lm) return false;
      for (const [k, v] of Object.entries(em)) if (!(k in lm) || !stringMatchImplies(lm[k], v)) return false;
    } else if (key === 'sourceLabels') {
      const em = obj(e[key]);
      const lm = obj(l[key]);
      if (!em || !lm || Object.entries(em).some(([k, v]) => lm[k] !== v)) return false;
    } else if (canonical(e[key]) !== canonical(l[key])) return false;
  }
  return true;
}

/** Whether a value matching StringMatch `a` always matches `b`: exact/prefix only, else equality. */
function stringMatchImplies(a: unknown, b: unknown): boolean {
  const x = obj(a);
  const y = obj(b);
  if (!x || !y) return false;
  const [xk, xv] = single(x);
  const [yk, yv] = single(y);
  if (xk === undefined || yk === undefined || typeof xv !== 'string' || typeof yv !== 'string') return false;
  if (yk === 'prefix' && (xk === 'exact' || xk === 'prefix')) return xv.startsWith(yv);
  return xk === yk && xv === yv;
}

function single(o: Record<string, unknown>): [string | undefined, unknown] {
  const keys = Object.keys(o);
  return keys.length === 1 && keys[0] !== undefined ? [keys[0], o[keys[0]]] : [undefined, undefined];
}
