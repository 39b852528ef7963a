import type { Analyzer } from '../types.js';
import { selectorConflicts } from '../selection.js';

/** istioctl's sidecar selector analyzer. */
export const sidecarSelectors: Analyzer = {
  name: 'sidecar.selectors',
  codes: ['IST0110', 'IST0111'],
  description: 'At most one Sidecar per workload, and one without workloadSelector per namespace',
  inputs: ['DaemonSet', 'Deployment', 'Pod', 'Sidecar', 'StatefulSet'],
  analyze(ctx, report) {
    for (const c of selectorConflicts(ctx, 'Sidecar', 'workloadSelector')) {
      const names = `[${c.members.map((r) => r.resource.metadata.name).join(' ')}]`;
      for (const r of c.members) {
        const ns = ctx.ns(r.resource);
        if (c.selectorless) report.report('IST0111', r, undefined, names, ns);
        else report.report('IST0110', r, ['spec', 'workloadSelector'], names, ns, c.target);
      }
    }
  },
};
