import type { Analyzer } from '../types.js';
import { destinationRulesByHost } from '../destination-rules.js';
import { destinations } from '../routes.js';

/**
 * New in meshctl: once a service is routed by subset, every pod behind it must carry the labels the
 * subsets select on (usually `version`); a pod without them gets no traffic from any subset route.
 */
export const workloadVersionLabels: Analyzer = {
  name: 'workload.subset-labels',
  codes: ['MSH0501'],
  description: 'Workloads behind a subset-routed service carry the subset label keys (e.g. version)',
  inputs: ['DaemonSet', 'Deployment', 'DestinationRule', 'Pod', 'Service', 'StatefulSet', 'VirtualService'],
  analyze(ctx, report) {
    const rules = destinationRulesByHost(ctx);
    const routed = new Map<string, Set<string>>();
    for (const vs of ctx.of('VirtualService')) {
      for (const d of destinations(vs)) {
        if (!d.host || !d.subset || d.mirror) continue;
        const host = ctx.fqdn(d.host, ctx.ns(vs.resource));
        const keys = routed.get(host) ?? new Set<string>();
        for (const dr of rules.forHost(host)) for (const k of Object.keys(rules.subset(dr, d.subset)?.labels ?? {})) keys.add(k);
        routed.set(host, keys);
      }
    }
    for (const [host, keys] of routed) {
      const svc = ctx.service(host);
      if (!svc || !keys.size) continue;
      for (const w of ctx.serviceWorkloads(svc)) {
        if (w.owned) continue;
        const missing = [...keys].filter((k) => !(k in w.labels));
        if (missing.length) report.report('MSH0501', w.input, w.isPod ? ['metadata', 'labels'] : ['spec', 'template', 'metadata', 'labels'], `${w.input.resource.kind} ${w.input.resource.metadata.name}`, host, missing.join('", "'));
      }
    }
  },
};
