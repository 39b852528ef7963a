import { defineCommand } from './spec.js';
import { UsageError } from '../core/errors.js';

function port(name: string, v: unknown): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--${name} ${String(v)} is not a port`, `use a number from 0 (any free port) to 65535`);
  return n;
}

function seconds(name: string, v: unknown): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} ${String(v)} is not a number of seconds`, `e.g. --${name} 5`);
  return n * 1000;
}

function tracing(endpoint: unknown, sampling: unknown): { otlpEndpoint?: string; traceSamplingPercent?: number } {
  const pct = Number(sampling);
  if (!Number.isFinite(pct) || pct < 0 || pct > 100) throw new UsageError(`--trace-sampling ${String(sampling)} is not a percentage`, 'use a number from 0 to 100, e.g. --trace-sampling 1');
  if (endpoint === undefined) return {};
  const url = String(endpoint);
  if (!/^https?:\/\/[^/]/.test(url) || !URL.canParse(url)) throw new UsageError(`--otlp-endpoint ${url} is not an http(s) URL`, 'e.g. --otlp-endpoint http://otel-collector.observability:4318');
  return { otlpEndpoint: url, traceSamplingPercent: pct };
}

export const proxyCommand = defineCommand({
  path: 'proxy',
  summary: 'Run the sidecar proxy: outbound/inbound HTTP/1.1 listeners routed by the mesh config in a directory',
  description: [
    'Compiles the mesh config in --config DIR (ServiceEntry, WorkloadEntry, VirtualService, DestinationRule, and',
    'Service/EndpointSlice/Pod when present) into a snapshot and serves it; edits to DIR apply without dropping',
    'requests in flight or kept-alive connections. Prints one JSON line with the bound ports when ready.',
    '--discovery http://HOST:15010 streams the snapshot from `meshctl controller` instead; the last one keeps',
    'serving while the controller is away (reconnects with backoff; admin /stats shows discovery.state).',
    'SIGTERM/SIGINT drain: stop accepting, finish requests in flight within --drain-seconds, exit.',
    'Ports (port 0 picks a free one): outbound 15001, inbound 15006, admin 15000 (127.0.0.1 only:',
    '/config_dump /clusters /stats /ready, POST /drain), 15090 /stats/prometheus, 15021 /healthz/ready.',
  ].join('\n'),
  options: [
    { flags: '--config <dir>', description: 'directory of mesh YAML to compile the config from', valueHint: 'dir' },
    { flags: '--discovery <addr>', description: 'http://HOST:PORT of meshctl controller (port 15010): stream the config from it instead of --config' },
    { flags: '--workload <name>', description: 'this workload (its WorkloadEntry/Pod labels decide sourceLabels; metrics source_workload)', default: 'meshctl-proxy' },
    { flags: '--label <key=value...>', description: 'workload labels when no WorkloadEntry/Pod of that name exists' },
    { flags: '--app-port <port>', description: 'local app port the inbound listener forwards to (127.0.0.1)' },
    { flags: '--outbound-port <port>', description: 'outbound listener port', default: '15001' },
    { flags: '--inbound-port <port>', description: 'inbound listener port', default: '15006' },
    { flags: '--admin-port <port>', description: 'admin port (127.0.0.1)', default: '15000' },
    { flags: '--stats-port <port>', description: 'Prometheus /stats/prometheus port', default: '15090' },
    { flags: '--health-port <port>', description: '/healthz/ready port', default: '15021' },
    { flags: '--outbound-address <addr>', description: 'address of the outbound listener', default: '127.0.0.1' },
    { flags: '--bind <addr>', description: 'address of the inbound, stats and health listeners', default: '0.0.0.0' },
    {
      flags: '--outbound-traffic-policy <mode>',
      description: 'REGISTRY_ONLY answers 404 NR for hosts the mesh does not know, ALLOW_ANY passes them through (default: the mesh config in ConfigMap istio-system/istio, else REGISTRY_ONLY)',
      choices: ['REGISTRY_ONLY', 'ALLOW_ANY'],
    },
    { flags: '--no-metrics', description: 'do not record Istio metrics (for comparison; on by default)' },
    { flags: '--access-log', description: 'write one JSON access-log line per request to stdout' },
    { flags: '--otlp-endpoint <url>', description: 'turn tracing on: W3C traceparent/B3 propagated (a trace started when the request has none), spans posted to this OTLP/HTTP collector as JSON (http://host:4318 means /v1/traces)' },
    { flags: '--trace-sampling <percent>', description: 'percent of new traces sampled with --otlp-endpoint (a caller\'s sampling decision is kept)', default: '100' },
    { flags: '--drain-seconds <s>', description: 'grace period for requests in flight on SIGTERM', default: '5' },
    { flags: '--header-timeout <s>', description: 'time a client has to send request headers (0: no limit)', default: '10' },
    { flags: '--idle-timeout <s>', description: 'kept-alive downstream connection idle timeout (0: never)', default: '60' },
  ],
  examples: [
    'meshctl proxy --config ./mesh --workload productpage-v1 -n default --app-port 9080',
    'meshctl proxy --config ./mesh --outbound-port 0 --inbound-port 0 --admin-port 0 --stats-port 0 --health-port 0',
    'curl -s localhost:15000/config_dump',
  ],
  outputs: ['table', 'json'],
  async run(ctx, _args, opts) {
    const dir = opts.config as string | undefined;
    const discovery = opts.discovery as string | undefined;
    if (!dir && !discovery) throw new UsageError('meshctl proxy needs --config DIR or --discovery ADDR', 'point it at a directory of mesh YAML, or at meshctl controller: --discovery http://HOST:15010');
    if (dir && discovery) throw new UsageError('--config and --discovery cannot be used together', 'pick one source of config');
    if (discovery && (!/^http:\/\/[^/]/.test(discovery) || !URL.canParse(discovery))) throw new UsageError(`--discovery ${discovery} is not an http:// address`, 'e.g. --discovery http://meshctl-controller.meshctl-system.svc:15010');
    const labels: Record<string, string> = {};
    for (const l of (opts.label as string[] | undefined) ?? []) {
      const eq = l.indexOf('=');
      if (eq <= 0) throw new UsageError(`--label ${l} is not key=value`, 'e.g. --label app=reviews --label version=v2');
      labels[l.slice(0, eq)] = l.slice(eq + 1);
    }
    const settings = {
      workload: String(opts.workload),
      namespace: ctx.globals.namespace ?? 'default',
      ...(Object.keys(labels).length ? { labels } : {}),
      appPort: opts.appPort === undefined ? undefined : port('app-port', opts.appPort),
      ports: {
        outbound: port('outbound-port', opts.outboundPort),
        inbound: port('inbound-port', opts.inboundPort),
        admin: port('admin-port', opts.adminPort),
        stats: port('stats-port', opts.statsPort),
        health: port('health-port', opts.healthPort),
      },
      outboundAddress: String(opts.outboundAddress),
      bindAddress: String(opts.bind),
      metrics: opts.metrics !== false,
      accessLog: opts.accessLog === true,
      ...tracing(opts.otlpEndpoint, opts.traceSampling),
      outboundTrafficPolicy: opts.outboundTrafficPolicy as 'REGISTRY_ONLY' | 'ALLOW_ANY' | undefined,
      drainMs: seconds('drain-seconds', opts.drainSeconds),
      headersTimeoutMs: seconds('header-timeout', opts.headerTimeout),
      idleTimeoutMs: seconds('idle-timeout', opts.idleTimeout),
    };
    // Everything is validated: the real CLI process now becomes the CommonJS proxy runtime in place
    // (same PID, smaller V8 young generation, no ESM loader or CLI modules; see reexec.ts). It
    // returns only for in-process runs (tests) or where it cannot, and the proxy runs right here.
    const { execProxyRuntime } = await import('../proxy/reexec.js');
    const verbose = ctx.globals.verbose;
    if (discovery) {
      execProxyRuntime(ctx.env, { ...settings, discovery, verbose });
      const { runDiscoveryProxy } = await import('../proxy/discovery.js');
      return runDiscoveryProxy(ctx, { discovery, ...settings });
    }
    const { resolve } = await import('node:path');
    const source = { dir: resolve(ctx.cwd, dir as string) };
    execProxyRuntime(ctx.env, { ...settings, ...source, verbose });
    const [{ runProxy }, { compileDir }] = await Promise.all([import('../proxy/run.js'), import('../proxy/config-compile.js')]);
    await runProxy(ctx, { ...source, ...settings, compile: (req) => compileDir(req) });
  },
});
