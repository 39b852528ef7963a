import type { AnalysisContext, Workload } from './context.js';
import { ROOT_NAMESPACE } from './context.js';
import type { InputResource } from './types.js';
import { obj, selects, specOf, str, stringMap } from './util.js';

/**
 * The mTLS mode PeerAuthentications give a workload, with Istio's precedence: a workload-selector
 * policy beats the namespace's, which beats the mesh-wide one in the root namespace. `UNSET` and
 * absent modes inherit. Returns the mode and the policy that decided it.
 */
export function effectiveMtls(ctx: AnalysisContext, namespace: string, labels: Record<string, string> | undefined): { mode: string; policy: InputResource } | undefined {
  const pick = (list: readonly InputResource[]): { mode: string; policy: InputResource } | undefined => {
    for (const pa of list) {
      const mode = str(obj(specOf(pa.resource).mtls)?.mode);
      if (mode && mode !== 'UNSET') return { mode, policy: pa };
    }
    return undefined;
  };
  const inNs = peerAuthenticationsIn(ctx, namespace);
  const selected = labels
    ? inNs.filter((pa) => {
        const sel = stringMap(obj(specOf(pa.resource).selector)?.matchLabels);
        return Object.keys(sel).length > 0 && selects(sel, labels);
      })
    : [];
  const nsWide = inNs.filter((pa) => Object.keys(stringMap(obj(specOf(pa.resource).selector)?.matchLabels)).length === 0);
  const meshWide = peerAuthenticationsIn(ctx, ROOT_NAMESPACE).filter((pa) => Object.keys(stringMap(obj(specOf(pa.resource).selector)?.matchLabels)).length === 0);
  return pick(selected) ?? pick(nsWide) ?? pick(meshWide);
}

// Per run, PeerAuthentications by namespace: asked once per DestinationRule, so a scan each time
// would make the check quadratic in large inputs.
const byNamespace = new WeakMap<AnalysisContext, Map<string, InputResource[]>>();

function peerAuthenticationsIn(ctx: AnalysisContext, namespace: string): readonly InputResource[] {
  let m = byNamespace.get(ctx);
  if (!m) {
    m = new Map();
    for (const pa of ctx.of('PeerAuthentication')) {
      const ns = ctx.ns(pa.resource);
      {
      const list = m.get(ns);
      if (list) list.push(pa);
      else m.set(ns, [pa]);
    }
    }
    byNamespace.set(ctx, m);
  }
  return m.get(namespace) ?? [];
}

/** Workloads behind a service host, or undefined when it is not a known Service. */
export function backingWorkloads(ctx: AnalysisContext, host: string): { svc: InputResource; workloads: Workload[] } | undefined {
  const svc = ctx.service(host);
  return svc ? { svc, workloads: ctx.serviceWorkloads(svc) } : undefined;
}
