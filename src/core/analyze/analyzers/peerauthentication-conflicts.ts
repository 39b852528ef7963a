import type { Analyzer } from '../types.js';
import { selectorConflicts } from '../selection.js';

/** New in meshctl: several PeerAuthentications apply to one workload (or several namespace-wide). */
export const peerAuthenticationConflicts: Analyzer = {
  name: 'peerauthentication.conflicts',
  codes: ['MSH0104'],
  description: 'At most one PeerAuthentication applies to each workload (and one per namespace without selector)',
  inputs: ['DaemonSet', 'Deployment', 'PeerAuthentication', 'Pod', 'StatefulSet'],
  analyze(ctx, report) {
    for (const c of selectorConflicts(ctx, 'PeerAuthentication', 'selector')) {
      const names = c.members.map((r) => r.resource.metadata.name).join(', ');
      for (const r of c.members) report.report('MSH0104', r, c.selectorless ? undefined : ['spec', 'selector'], names, ctx.ns(r.resource), c.target);
    }
  },
};
