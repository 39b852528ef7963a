import type { Analyzer } from '../types.js';
import { destinationRulesByHost } from '../destination-rules.js';
import { specOf } from '../util.js';

/** New in meshctl: several selector-less DestinationRules for one host in one namespace. */
export const destinationRuleConflicts: Analyzer = {
  name: 'destinationrule.conflicts',
  codes: ['MSH0103'],
  description: 'At most one DestinationRule (without workloadSelector) per host and namespace',
  inputs: ['DestinationRule'],
  analyze(ctx, report) {
    for (const [host, rules] of destinationRulesByHost(ctx).byExactHost) {
      const byNs = new Map<string, typeof rules>();
      for (const dr of rules) {
        if (specOf(dr.resource).workloadSelector !== undefined) continue;
        const ns = ctx.ns(dr.resource);
        {
      const list = byNs.get(ns);
      if (list) list.push(dr);
      else byNs.set(ns, [dr]);
    }
      }
      for (const list of byNs.values()) {
        if (list.length < 2) continue;
        const names = list.map((dr) => `${dr.resource.metadata.name}.${ctx.ns(dr.resource)}`).join(', ');
        for (const dr of list) report.report('MSH0103', dr, ['spec', 'host'], names, host);
      }
    }
  },
};
