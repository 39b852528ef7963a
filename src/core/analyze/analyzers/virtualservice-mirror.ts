import type { Analyzer } from '../types.js';
import { destinations } from '../routes.js';

/** New in meshctl: a mirror that targets one of the route's own destinations doubles its traffic. */
export const virtualServiceMirror: Analyzer = {
  name: 'virtualservice.mirror',
  codes: ['MSH0205'],
  description: 'Mirrors do not target the route destination itself',
  inputs: ['VirtualService'],
  analyze(ctx, report) {
    for (const vs of ctx.of('VirtualService')) {
      const ns = ctx.ns(vs.resource);
      const all = destinations(vs).filter((d) => d.section === 'http' && d.host);
      const key = (d: (typeof all)[number]) => `${d.rule}|${ctx.fqdn(d.host ?? '', ns)}|${d.subset ?? ''}`;
      const primary = new Set(all.filter((d) => !d.mirror).map(key));
      for (const m of all) {
        if (m.mirror && primary.has(key(m))) report.report('MSH0205', vs, m.path, m.subset ? `${m.host} subset ${m.subset}` : (m.host ?? ''));
      }
    }
  },
};
