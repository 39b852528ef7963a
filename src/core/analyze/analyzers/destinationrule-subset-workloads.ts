import type { Analyzer } from '../types.js';
import { destinationRulesByHost } from '../destination-rules.js';
import { destinations } from '../routes.js';
import { formatLabels } from '../util.js';

/** New in meshctl: a subset that routes get sent to must select at least one pod of the service. */
export const destinationRuleSubsetWorkloads: Analyzer = {
  name: 'destinationrule.subset-workloads',
  codes: ['MSH0101'],
  description: 'Subsets that routes use select at least one workload of the service',
  inputs: ['DaemonSet', 'Deployment', 'DestinationRule', 'Pod', 'ReplicaSet', 'Service', 'StatefulSet', 'VirtualService'],
  analyze(ctx, report) {
    const rules = destinationRulesByHost(ctx);
    for (const vs of ctx.of('VirtualService')) {
      const ns = ctx.ns(vs.resource);
      for (const d of destinations(vs)) {
        if (!d.host || !d.subset) continue;
        const host = ctx.fqdn(d.host, ns);
        const svc = ctx.service(host);
        if (!svc) continue; // ServiceEntry hosts select WorkloadEntries: not checked.
        const svcNs = ctx.ns(svc.resource);
        if (!ctx.knowsWorkloads(svcNs)) {
          report.skip(`no Pods or Deployments for namespace ${svcNs} in the input, so subsets there are not checked against workloads`);
          continue;
        }
        const backing = ctx.serviceWorkloads(svc);
        // Files may hold some of a namespace's Deployments but not this service's: only a cluster
        // can say a service has no pods at all.
        if (!backing.length && ctx.origin === 'files') {
          report.skip(`no workloads for service ${host} in the input, so its subsets are not checked`);
          continue;
        }
        for (const dr of rules.forHost(host)) {
          const s = rules.subset(dr, d.subset);
          if (!s) continue;
          const hit = backing.some((w) => Object.entries(s.labels).every(([k, v]) => w.labels[k] === v));
          if (!hit) report.report('MSH0101', dr, ['spec', 'subsets', s.index, 'labels'], d.subset, host, formatLabels(s.labels) || '(none)');
        }
      }
    }
  },
};
