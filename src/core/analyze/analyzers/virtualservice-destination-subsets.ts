import type { Analyzer, InputResource } from '../types.js';
import { destinations } from '../routes.js';
import { destinationRulesByHost } from '../destination-rules.js';

/** istioctl's destinationrule analyzer: every subset a route names is declared by a DestinationRule for its host. */
export const virtualServiceDestinationSubsets: Analyzer = {
  name: 'virtualservice.destination-subsets',
  codes: ['IST0101'],
  description: 'VirtualService route subsets are declared by a DestinationRule for the host',
  inputs: ['DestinationRule', 'VirtualService'],
  analyze(ctx, report) {
    const rules = destinationRulesByHost(ctx);
    for (const vs of ctx.of('VirtualService')) {
      const ns = ctx.ns(vs.resource);
      for (const d of destinations(vs)) {
        if (!d.host || !d.subset) continue;
        const host = ctx.fqdn(d.host, ns);
        const found = rules.forHost(host).some((dr: InputResource) => rules.subset(dr, d.subset ?? '') !== undefined);
        if (found) continue;
        if (!ctx.knows('DestinationRule')) {
          report.skip('the input has no DestinationRules, so route subsets are not checked');
          continue;
        }
        report.report('IST0101', vs, [...d.path, 'subset'], 'host+subset in destinationrule', `${d.host}+${d.subset}`);
      }
    }
  },
};
