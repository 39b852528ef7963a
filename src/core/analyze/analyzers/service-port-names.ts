import type { Analyzer } from '../types.js';
import { objs, specOf, str } from '../util.js';

/** Protocols Istio reads from a port name prefix (`http`, `http-web`, `grpc-api` ...). */
const PROTOCOLS = ['http', 'http2', 'https', 'grpc', 'grpc-web', 'mongo', 'mysql', 'redis', 'tcp', 'tls', 'udp'];
const SYSTEM_NAMESPACES = new Set(['kube-system', 'kube-public', 'kube-node-lease', 'istio-system', 'meshctl-system', 'local-path-storage']);

/** istioctl's serviceportname analyzer: a port whose protocol cannot be read from name or appProtocol. */
export const servicePortNames: Analyzer = {
  name: 'service.port-names',
  codes: ['IST0118'],
  description: 'Service ports name their protocol (http-*, grpc-*, tcp-* ...) or set appProtocol',
  inputs: ['Service'],
  analyze(ctx, report) {
    for (const svc of ctx.of('Service')) {
      if (SYSTEM_NAMESPACES.has(ctx.ns(svc.resource))) continue;
      if (specOf(svc.resource).type === 'ExternalName') continue;
      for (const [port, i] of objs(specOf(svc.resource).ports)) {
        if (str(port.appProtocol)) continue;
        const name = str(port.name) ?? '';
        const lower = name.toLowerCase();
        if (PROTOCOLS.some((p) => lower === p || lower.startsWith(p + '-'))) continue;
        const target = port.targetPort === undefined ? String(port.port ?? '') : String(port.targetPort);
        report.report('IST0118', svc, ['spec', 'ports', i, name ? 'name' : 'port'], name || '(unnamed)', String(port.port ?? ''), target);
      }
    }
  },
};
