import { hostMatches, isWildcard } from '../../api/hosts.js';
import type { AnalysisContext } from './context.js';
import type { InputResource } from './types.js';
import { objs, specOf, str, stringMap } from './util.js';

export interface DestinationRuleIndex {
  /** DestinationRules whose host covers `host` (exact first, then wildcards). */
  forHost(host: string): InputResource[];
  subset(dr: InputResource, name: string): { index: number; labels: Record<string, string> } | undefined;
  /** Exact (non-wildcard) host of each DestinationRule. */
  byExactHost: ReadonlyMap<string, InputResource[]>;
}

/** DestinationRules indexed by their fully qualified host, so lookups per route are O(1). */
export function destinationRulesByHost(ctx: AnalysisContext): DestinationRuleIndex {
  const exact = new Map<string, InputResource[]>();
  const wild: [string, InputResource][] = [];
  for (const dr of ctx.of('DestinationRule')) {
    const h = str(specOf(dr.resource).host);
    if (!h) continue;
    const host = ctx.fqdn(h, ctx.ns(dr.resource));
    if (isWildcard(host)) wild.push([host, dr]);
    else {
      const list = exact.get(host);
      if (list) list.push(dr);
      else exact.set(host, [dr]);
    }
  }
  return {
    byExactHost: exact,
    forHost(host: string) {
      const e = exact.get(host) ?? [];
      if (!wild.length) return e;
      return [...e, ...wild.filter(([p]) => hostMatches(p, host)).map(([, dr]) => dr)];
    },
    subset(dr: InputResource, name: string) {
      for (const [s, index] of objs(specOf(dr.resource).subsets)) if (s.name === name) return { index, labels: stringMap(s.labels) };
      return undefined;
    },
  };
}
