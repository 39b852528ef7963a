import type { Analyzer } from '../types.js';
import type { Workload } from '../context.js';
import { ROOT_NAMESPACE } from '../context.js';
import { obj, specOf, stringMap } from '../util.js';

/**
 * New in meshctl: STRICT mTLS refuses plaintext, so workloads without a sidecar can no longer call
 * what the policy covers. Which pods call which service is not in the config, so the candidates
 * are the sidecar-less workloads the policy locks out: the whole mesh for a mesh-wide policy,
 * the namespace for a namespace or workload policy.
 */
export const mtlsStrictClients: Analyzer = {
  name: 'peerauthentication.strict-without-sidecar',
  codes: ['MSH0401'],
  description: 'STRICT mTLS does not lock out workloads that have no sidecar',
  inputs: ['DaemonSet', 'Deployment', 'Namespace', 'PeerAuthentication', 'Pod', 'StatefulSet'],
  analyze(ctx, report) {
    for (const pa of ctx.of('PeerAuthentication')) {
      const spec = specOf(pa.resource);
      if (obj(spec.mtls)?.mode !== 'STRICT') continue;
      const ns = ctx.ns(pa.resource);
      const meshWide = ns === ROOT_NAMESPACE && Object.keys(stringMap(obj(spec.selector)?.matchLabels)).length === 0;
      const candidates: Workload[] = meshWide ? ctx.allWorkloads() : [...ctx.workloadsIn(ns)];
      if (!candidates.length) {
        report.skip('no workloads in the input for the namespaces STRICT policies cover');
        continue;
      }
      for (const w of candidates) {
        if (w.owned || w.labels.istio === 'ingressgateway' || w.labels.istio === 'egressgateway') continue;
        const sidecar = ctx.hasSidecar(w);
        if (sidecar === undefined) {
          report.skip(`the Namespace object for ${w.namespace} is not in the input, so whether its pods get a sidecar is unknown`);
          continue;
        }
        if (!sidecar) report.report('MSH0401', pa, ['spec', 'mtls', 'mode'], meshWide ? 'the whole mesh' : `namespace ${ns}`, `${w.input.resource.kind} ${w.input.resource.metadata.name}.${w.namespace}`);
      }
    }
  },
};
