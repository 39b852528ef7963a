import type { Analyzer } from '../types.js';
import { effectiveMtls } from '../mtls.js';
import { obj, objs, specOf, str } from '../util.js';

/** istioctl's old MTLSPolicyConflict: a client-side DISABLE against a server that requires STRICT. */
export const mtlsConflict: Analyzer = {
  name: 'destinationrule.mtls-conflict',
  codes: ['IST0113'],
  description: 'DestinationRule TLS mode DISABLE is not used against a STRICT mTLS server',
  inputs: ['DaemonSet', 'Deployment', 'DestinationRule', 'PeerAuthentication', 'Pod', 'Service', 'StatefulSet'],
  analyze(ctx, report) {
    for (const dr of ctx.of('DestinationRule')) {
      const spec = specOf(dr.resource);
      const h = str(spec.host);
      if (!h) continue;
      const host = ctx.fqdn(h, ctx.ns(dr.resource));
      const svc = ctx.service(host);
      if (!svc) continue;
      const svcNs = ctx.ns(svc.resource);
      const workloads = ctx.serviceWorkloads(svc);
      // Without pods, the namespace and mesh-wide policies still decide.
      const targets = workloads.length ? workloads.map((w) => w.labels) : [undefined];
      const strict = targets.map((labels) => effectiveMtls(ctx, svcNs, labels)).find((m) => m?.mode === 'STRICT');
      if (!strict) continue;
      const tp = obj(spec.trafficPolicy);
      const checks: [unknown, (string | number)[]][] = [[obj(tp?.tls)?.mode, ['spec', 'trafficPolicy', 'tls', 'mode']]];
      for (const [pls, i] of objs(tp?.portLevelSettings)) checks.push([obj(pls.tls)?.mode, ['spec', 'trafficPolicy', 'portLevelSettings', i, 'tls', 'mode']]);
      for (const [mode, path] of checks) {
        if (mode === 'DISABLE') report.report('IST0113', dr, path, host, dr.resource.metadata.name, 'DISABLE', `${strict.policy.resource.metadata.name}.${ctx.ns(strict.policy.resource)}`, 'STRICT');
      }
    }
  },
};
