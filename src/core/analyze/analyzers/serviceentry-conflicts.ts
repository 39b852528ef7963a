import type { Analyzer } from '../types.js';
import { specOf, strings } from '../util.js';

/** New in meshctl: one host defined by several ServiceEntries, whose merge Istio leaves undefined. */
export const serviceEntryConflicts: Analyzer = {
  name: 'serviceentry.conflicts',
  codes: ['MSH0102'],
  description: 'No host is defined by more than one ServiceEntry',
  inputs: ['ServiceEntry'],
  analyze(ctx, report) {
    for (const [host, entries] of ctx.serviceEntryHosts()) {
      if (entries.length < 2) continue;
      const names = entries.map((e) => `ServiceEntry ${e.resource.metadata.name}.${ctx.ns(e.resource)}`);
      for (const [i, se] of entries.entries()) {
        const j = strings(specOf(se.resource).hosts).findIndex((h) => ctx.fqdn(h, ctx.ns(se.resource)) === host);
        const others = names.filter((_, k) => k !== i);
        report.report('MSH0102', se, ['spec', 'hosts', Math.max(0, j)], host, names[i] ?? '', others.join(', '));
      }
    }
  },
};
