import type { Analyzer } from '../types.js';
import { obj, stringMap } from '../util.js';

/** istioctl's injection analyzer (IST0103): a running pod in an injected namespace has no proxy. */
export const podMissingProxy: Analyzer = {
  name: 'workload.missing-proxy',
  codes: ['IST0103'],
  description: 'Pods in namespaces labelled for injection run the proxy',
  inputs: ['Namespace', 'Pod'],
  analyze(ctx, report) {
    for (const w of ctx.allWorkloads()) {
      if (!w.isPod || w.containers.includes('istio-proxy')) continue;
      const ns = ctx.namespace(w.namespace);
      if (!ns) continue;
      const labels = stringMap(ns.resource.metadata.labels);
      const injected = labels['istio-injection'] === 'enabled' || (labels['istio.io/rev'] !== undefined && labels['istio-injection'] !== 'disabled');
      if (!injected) continue;
      if (w.labels['sidecar.istio.io/inject'] === 'false' || w.podAnnotations['sidecar.istio.io/inject'] === 'false') continue;
      if (obj(w.input.resource.spec)?.hostNetwork === true) continue;
      report.report('IST0103', w.input, ['spec', 'containers'], w.input.resource.metadata.name, w.namespace);
    }
  },
};
