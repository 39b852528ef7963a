import type { Analyzer } from '../types.js';
import { arr, obj, objs, specOf } from '../util.js';

/**
 * istioctl's VirtualService conditions analyzer: a rule after a catch-all (a rule without match, or
 * with an empty match) is never used (IST0130); a match identical to an earlier one is dead (IST0131).
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
        for (const [rule, i] of rules) {
          if (catchAll !== undefined) {
            report.report('IST0130', vs, ['spec', section, i], `${section}[${i}]`, `${section}[${catchAll}] before it matches every request`);
            continue;
          }
          const matches = arr(rule.match);
          if (matches.length === 0 || matches.some((m) => isEmptyMatch(m))) {
            catchAll = i;
            continue;
          }
          let dups = 0;
          matches.forEach((m, j) => {
            const key = canonical(m);
            const earlier = seenMatches.get(key);
            if (earlier !== undefined && earlier !== i) {
              dups++;
              report.report('IST0131', vs, ['spec', section, i, 'match', j], `${section}[${i}]`, String(j), `${section}[${earlier}]`);
            } else if (earlier === undefined) seenMatches.set(key, i);
          });
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
