import type { Analyzer } from '../types.js';
import { formatLabels, selects, specOf, stringMap } from '../util.js';

/** istioctl's gateway selector check: some pod carries the Gateway's selector labels. */
export const gatewaySelector: Analyzer = {
  name: 'gateway.selector',
  codes: ['IST0101'],
  description: 'Gateway selector matches a gateway workload',
  inputs: ['DaemonSet', 'Deployment', 'Gateway', 'Pod', 'StatefulSet'],
  analyze(ctx, report) {
    const workloads = ctx.allWorkloads();
    for (const gw of ctx.of('Gateway')) {
      const sel = stringMap(specOf(gw.resource).selector);
      if (Object.keys(sel).length === 0) continue;
      // Files rarely include the gateway deployment (it lives in istio-system); only judge when
      // the input holds a workload that carries one of the selector's label keys.
      if (ctx.origin === 'files' && !workloads.some((w) => Object.keys(sel).some((k) => k in w.labels))) {
        report.skip('no gateway workloads in the input, so Gateway selectors are not checked');
        continue;
      }
      if (!workloads.some((w) => selects(sel, w.labels))) report.report('IST0101', gw, ['spec', 'selector'], 'selector', formatLabels(sel));
    }
  },
};
