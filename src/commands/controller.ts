import { defineCommand } from './spec.js';
import { UsageError } from '../core/errors.js';

function port(name: string, v: unknown): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--${name} ${String(v)} is not a port`, 'use a number from 0 (any free port) to 65535');
  return n;
}

export const controllerCommand = defineCommand({
  path: 'controller',
  summary: 'Run the control plane: watch the mesh config and stream each proxy its snapshot',
  description: [
    'Watches ServiceEntry, WorkloadEntry, VirtualService, DestinationRule, Service, EndpointSlice,',
    "Pod and Istio's mesh ConfigMap through the config store (--local DIR, else the kube context's",
    'cluster or the in-cluster service account) and serves discovery on --discovery-port:',
    '  GET /v1/snapshot?workload=NAME&namespace=NS[&label=k=v...][&appPort=N]',
    "answers a long-lived NDJSON stream: the proxy's snapshot at once, a new one whenever its",
    'content hash changes (compiled once per workload view per change, however many proxies',
    'share it), and a heartbeat line every --heartbeat-seconds. The client is',
    '`meshctl proxy --discovery http://HOST:PORT`.',
    'Monitoring on --monitoring-port: /ready (200 after the first full sync), /metrics (Prometheus).',
    'Prints one JSON line with the bound ports when ready; SIGTERM/SIGINT end the streams, exit 0.',
    'With a CA directory (--ca-dir or MESHCTL_CA_DIR) it serves the sidecar injection webhook on',
    '--webhook-port (HTTPS, POST /inject) with a certificate issued from that CA at start-up.',
    'Injected sidecars run `meshctl proxy --discovery ADDR`: $MESHCTL_DISCOVERY_ADDRESS, else the mesh',
    "config's defaultConfig.discoveryAddress ($MESHCTL_MESH_CONFIG; install renders the controller",
    'Service, port 15010), else that Service; plain HTTP, there is no TLS discovery port. Image',
    '$MESHCTL_PROXY_IMAGE (default: this version\'s image).',
    'Exit 69 when the store cannot be reached or a port is taken.',
  ].join('\n'),
  options: [
    { flags: '--discovery-port <port>', description: 'discovery stream port (0 picks a free one)', default: '15010' },
    { flags: '--monitoring-port <port>', description: '/ready and /metrics port', default: '15014' },
    { flags: '--webhook-port <port>', description: 'sidecar injection webhook port (HTTPS, POST /inject; served with a CA directory)', default: '15017' },
    { flags: '--ca-dir <dir>', description: 'CA tls.crt/tls.key the webhook certificate is issued from (default: $MESHCTL_CA_DIR, as meshctl install mounts the meshctl-ca Secret)', valueHint: 'dir' },
    { flags: '--address <addr>', description: 'address to listen on', default: '0.0.0.0' },
    { flags: '--heartbeat-seconds <s>', description: 'interval of heartbeat lines on each stream', default: '15' },
  ],
  examples: [
    'meshctl --local ./mesh controller --discovery-port 0 --monitoring-port 0 --address 127.0.0.1',
    'meshctl controller            # in the cluster, as meshctl install runs it',
    'curl -N "localhost:15010/v1/snapshot?workload=productpage-v1&namespace=default"',
    'meshctl proxy --discovery http://127.0.0.1:15010 --workload productpage-v1 -n default',
  ],
  outputs: ['table', 'json'],
  async run(ctx, _args, opts) {
    const hb = Number(opts.heartbeatSeconds);
    if (!Number.isFinite(hb) || hb <= 0) throw new UsageError(`--heartbeat-seconds ${String(opts.heartbeatSeconds)} is not a positive number`, 'e.g. --heartbeat-seconds 15');
    const [{ runController, injectDiscoveryAddress }, { VERSION }, { resolve }, { readFile }] = await Promise.all([import('../controller/run.js'), import('../version.js'), import('node:path'), import('node:fs/promises')]);
    // The mounted mesh config names the discovery address injected sidecars use (unreadable: the default).
    const meshFile = ctx.env.MESHCTL_MESH_CONFIG;
    const meshText = meshFile ? await readFile(resolve(ctx.cwd, meshFile), 'utf8').catch(() => undefined) : undefined;
    const caDir = (opts.caDir as string | undefined) ?? ctx.env.MESHCTL_CA_DIR;
    const ns = ctx.env.POD_NAMESPACE ?? 'meshctl-system';
    await runController(ctx, {
      ports: { discovery: port('discovery-port', opts.discoveryPort), monitoring: port('monitoring-port', opts.monitoringPort), webhook: port('webhook-port', opts.webhookPort) },
      caDir: caDir ? resolve(ctx.cwd, caDir) : undefined,
      proxyImage: ctx.env.MESHCTL_PROXY_IMAGE ?? `ghcr.io/meshctl/meshctl:${VERSION.version}`,
      injectDiscoveryAddress: await injectDiscoveryAddress(ctx.env, meshText, ns),
      address: String(opts.address),
      heartbeatMs: hb * 1000,
    });
  },
});
