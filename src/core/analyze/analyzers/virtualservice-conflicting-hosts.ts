import type { Analyzer, InputResource } from '../types.js';
import { gatewaysOf } from '../routes.js';
import { specOf, strings } from '../util.js';

/** istioctl's conflictingmeshgatewayhosts: two mesh VirtualServices for one host (delegates have no hosts). */
export const virtualServiceConflictingHosts: Analyzer = {
  name: 'virtualservice.conflicting-mesh-hosts',
  codes: ['IST0109'],
  description: 'At most one VirtualService bound to the mesh gateway per host',
  inputs: ['VirtualService'],
  analyze(ctx, report) {
    const byHost = new Map<string, [InputResource, number][]>();
    for (const vs of ctx.of('VirtualService')) {
      if (!gatewaysOf(vs).includes('mesh')) continue;
      const ns = ctx.ns(vs.resource);
      // As istioctl: VirtualServices exported to disjoint namespaces (exportTo) do not collide.
      const exportTo = strings(specOf(vs.resource).exportTo);
      const scopes = exportTo.length === 0 || exportTo.includes('*') ? ['*'] : [...new Set(exportTo.map((e) => (e === '.' ? ns : e)))];
      strings(specOf(vs.resource).hosts).forEach((h, i) => {
        const host = ctx.fqdn(h, ns);
        if (host === '*') return;
        for (const scope of scopes) {
          const key = `${scope}|${host}`;
          const list = byHost.get(key) ?? [];
          if (!list.some(([r]) => r === vs)) list.push([vs, i]);
          byHost.set(key, list);
        }
      });
    }
    for (const [key, list] of byHost) {
      if (list.length < 2) continue;
      const host = key.slice(key.indexOf('|') + 1);
      const names = list.map(([vs]) => `${vs.resource.metadata.name}.${ctx.ns(vs.resource)}`).join(',');
      for (const [vs, i] of list) report.report('IST0109', vs, ['spec', 'hosts', i], names, host);
    }
  },
};
