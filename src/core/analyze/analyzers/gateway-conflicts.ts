import { hostsOverlap, parseNamespacedHost } from '../../../api/hosts.js';
import type { Analyzer, InputResource } from '../types.js';
import { formatLabels, obj, objs, specOf, stringMap, strings } from '../util.js';

interface Server {
  gw: InputResource;
  index: number;
  hosts: string[];
}

/** istioctl's conflictinggateway: same selector and port, overlapping hosts, in different Gateways. */
export const gatewayConflicts: Analyzer = {
  name: 'gateway.conflicts',
  codes: ['IST0145'],
  description: 'Gateways with the same selector and port do not claim the same hosts',
  inputs: ['Gateway'],
  analyze(ctx, report) {
    const groups = new Map<string, Server[]>();
    for (const gw of ctx.of('Gateway')) {
      const selector = formatLabels(stringMap(specOf(gw.resource).selector));
      for (const [server, index] of objs(specOf(gw.resource).servers)) {
        const port = obj(server.port)?.number;
        if (typeof port !== 'number') continue;
        const key = `${selector}|${port}`;
        const list = groups.get(key) ?? [];
        list.push({ gw, index, hosts: strings(server.hosts).map((h) => parseNamespacedHost(h).host) });
        groups.set(key, list);
      }
    }
    for (const [key, servers] of groups) {
      if (servers.length < 2) continue;
      const [selector, port] = key.split('|');
      // Groups are per selector and port: a handful of servers, so comparing pairs is cheap.
      for (const a of servers) {
        const clashes = servers.filter((b) => b.gw !== a.gw && a.hosts.some((h) => b.hosts.some((k) => hostsOverlap(h, k))));
        if (!clashes.length) continue;
        const names = clashes.map((b) => `${b.gw.resource.metadata.name}.${ctx.ns(b.gw.resource)}`);
        const hosts = [...new Set(a.hosts.filter((h) => clashes.some((b) => b.hosts.some((k) => hostsOverlap(h, k)))))];
        report.report('IST0145', a.gw, ['spec', 'servers', a.index], [...new Set(names)].join(','), selector || '(none)', port ?? '', hosts.join(','));
      }
    }
  },
};
