import type { AnalysisContext } from './context.js';
import type { InputResource } from './types.js';
import { formatLabels, obj, selects, specOf, stringMap } from './util.js';

export interface SelectorConflict {
  /** Resources in conflict. */
  members: InputResource[];
  /** What they all apply to: a pod, or "every workload" for selector-less ones. */
  target: string;
  selectorless: boolean;
}

/**
 * Finds resources of one kind in one namespace that apply to the same workload: several without a
 * selector, or several whose selectors pick the same pod. Without workloads in the input, identical
 * selectors are still a conflict (they pick the same pods whatever they are).
 */
export function selectorConflicts(ctx: AnalysisContext, kind: string, selectorField: 'selector' | 'workloadSelector'): SelectorConflict[] {
  const out: SelectorConflict[] = [];
  const byNs = new Map<string, InputResource[]>();
  for (const r of ctx.of(kind)) {
    const ns = ctx.ns(r.resource);
    {
      const list = byNs.get(ns);
      if (list) list.push(r);
      else byNs.set(ns, [r]);
    }
  }
  for (const [ns, list] of byNs) {
    const sel = (r: InputResource) => {
      const s = obj(specOf(r.resource)[selectorField]);
      return s ? stringMap(selectorField === 'selector' ? s.matchLabels : s.labels) : undefined;
    };
    const withSel = list.map((r) => [r, sel(r)] as const);
    const none = withSel.filter(([, s]) => s === undefined || Object.keys(s).length === 0).map(([r]) => r);
    if (none.length > 1) out.push({ members: none, target: `every workload in ${ns}`, selectorless: true });
    const selected = withSel.filter((x): x is readonly [InputResource, Record<string, string>] => x[1] !== undefined && Object.keys(x[1]).length > 0);
    if (selected.length < 2) continue;
    const seen = new Set<string>();
    if (ctx.knowsWorkloads(ns)) {
      for (const w of ctx.workloadsIn(ns)) {
        const hits = selected.filter(([, s]) => selects(s, w.labels)).map(([r]) => r);
        if (hits.length < 2) continue;
        const key = hits.map((r) => r.resource.metadata.name).join(',');
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ members: hits, target: `${w.input.resource.kind} ${w.input.resource.metadata.name}`, selectorless: false });
      }
    } else {
      const bySel = new Map<string, InputResource[]>();
      for (const [r, s] of selected) {
        const k = formatLabels(Object.fromEntries(Object.entries(s).sort()));
        {
      const list = bySel.get(k);
      if (list) list.push(r);
      else bySel.set(k, [r]);
    }
      }
      for (const [k, members] of bySel) if (members.length > 1) out.push({ members, target: `workloads labelled ${k}`, selectorless: false });
    }
  }
  return out;
}
