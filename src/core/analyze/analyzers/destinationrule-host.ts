import type { Analyzer } from '../types.js';
import { specOf, str } from '../util.js';

export const destinationRuleHost: Analyzer = {
  name: 'destinationrule.host',
  codes: ['IST0101'],
  description: 'DestinationRule host is a Service or ServiceEntry host',
  inputs: ['DestinationRule', 'Service', 'ServiceEntry'],
  analyze(ctx, report) {
    for (const dr of ctx.of('DestinationRule')) {
      const h = str(specOf(dr.resource).host);
      if (!h) continue;
      const host = ctx.fqdn(h, ctx.ns(dr.resource));
      if (host.startsWith('*') || ctx.hostExists(host)) continue;
      if (ctx.canResolve(host)) report.report('IST0101', dr, ['spec', 'host'], 'host', h);
      else report.skip(`DestinationRule hosts outside the input's namespaces are not checked (e.g. ${host})`);
    }
  },
};
