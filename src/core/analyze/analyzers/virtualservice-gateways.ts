import { hostsOverlap, parseNamespacedHost } from '../../../api/hosts.js';
import type { Analyzer, InputResource } from '../types.js';
import { objs, specOf, strings } from '../util.js';

/** istioctl's gateway analyzer: bound Gateways exist and serve the VirtualService's hosts. */
export const virtualServiceGateways: Analyzer = {
  name: 'virtualservice.gateways',
  codes: ['IST0101', 'IST0132'],
  description: 'VirtualService gateways exist and serve its hosts',
  inputs: ['Gateway', 'VirtualService'],
  analyze(ctx, report) {
    const gateways = new Map<string, InputResource>();
    for (const gw of ctx.of('Gateway')) gateways.set(`${ctx.ns(gw.resource)}/${gw.resource.metadata.name}`, gw);
    for (const vs of ctx.of('VirtualService')) {
      const ns = ctx.ns(vs.resource);
      const spec = specOf(vs.resource);
      const names = Array.isArray(spec.gateways) ? spec.gateways : [];
      names.forEach((g, i) => {
        if (typeof g !== 'string' || g === 'mesh') return;
        const [gwNs, gwName] = gatewayKey(g, ns);
        const gw = gateways.get(`${gwNs}/${gwName}`);
        if (!gw) {
          if (ctx.knows('Gateway', gwNs)) report.report('IST0101', vs, ['spec', 'gateways', i], 'gateway', g);
          else report.skip(`Gateways in namespace ${gwNs} are not in the input, so references to them are not checked`);
          return;
        }
        const served = objs(specOf(gw.resource).servers).flatMap(([s]) => strings(s.hosts).map((h) => parseNamespacedHost(h)));
        const hosts = strings(spec.hosts);
        // As istioctl: the binding is useless when none of the hosts is served by this gateway. A
        // host served by another of the bound gateways is normal (one VirtualService, two gateways).
        const visible = (s: { namespace: string | undefined }) => s.namespace === undefined || s.namespace === '*' || s.namespace === ns || (s.namespace === '.' && gwNs === ns);
        const ok = hosts.some((h) => served.some((s) => visible(s) && hostsOverlap(s.host, h.toLowerCase())));
        if (hosts.length && !ok) report.report('IST0132', vs, ['spec', 'gateways', i], hosts.join(','), `${ns}/${vs.resource.metadata.name}`, `${gwNs}/${gwName}`);
      });
    }
  },
};

/** `ns/name`, `name` (the VirtualService's namespace) or the legacy `name.ns.svc.cluster.local`. */
function gatewayKey(ref: string, ns: string): [string, string] {
  const slash = ref.indexOf('/');
  if (slash >= 0) return [ref.slice(0, slash), ref.slice(slash + 1)];
  const parts = ref.split('.');
  if (parts.length > 1 && parts[0] && parts[1]) return [parts[1], parts[0]];
  return [ns, ref];
}
