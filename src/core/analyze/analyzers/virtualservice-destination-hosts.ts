import type { Analyzer } from '../types.js';
import { destinations } from '../routes.js';
import { objs, specOf } from '../util.js';

/**
 * istioctl's destinationhosts analyzer: route and mirror hosts exist, ports exist, and a port is
 * named when the service has several (same reference types and codes as istioctl).
 */
export const virtualServiceDestinationHosts: Analyzer = {
  name: 'virtualservice.destination-hosts',
  codes: ['IST0101', 'IST0112'],
  description: 'VirtualService route and mirror destinations name a host and port that exist',
  inputs: ['Service', 'ServiceEntry', 'VirtualService'],
  analyze(ctx, report) {
    for (const vs of ctx.of('VirtualService')) {
      const ns = ctx.ns(vs.resource);
      for (const d of destinations(vs)) {
        if (!d.host) continue;
        const host = ctx.fqdn(d.host, ns);
        if (host.startsWith('*')) continue;
        if (!ctx.hostExists(host)) {
          if (ctx.canResolve(host)) report.report('IST0101', vs, [...d.path, 'host'], d.mirror ? 'mirror host' : 'host', d.host);
          else report.skip(`hosts outside the input's namespaces are not checked (e.g. ${host}); add their Services or run against a cluster`);
          continue;
        }
        const svc = ctx.service(host);
        if (!svc) continue;
        const ports = objs(specOf(svc.resource).ports)
          .map(([p]) => p.port)
          .filter((p): p is number => typeof p === 'number');
        if (d.port !== undefined) {
          if (!ports.includes(d.port)) report.report('IST0101', vs, [...d.path, 'port', 'number'], 'host:port', `${d.host}:${d.port}`);
        } else if (ports.length > 1) {
          report.report('IST0112', vs, d.path, host, ports.join(', '));
        }
      }
    }
  },
};
