import { defineCommand } from './spec.js';

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export const metricsOptions = [
  { flags: '--metrics <url...>', description: "proxies' Prometheus endpoints (…:15090/stats/prometheus); repeatable or comma-separated" },
  { flags: '--prometheus <url>', description: 'a Prometheus server that scrapes the proxies' },
] as const;

const pct = (n: number | undefined): string => (n === undefined ? '-' : `${(n * 100).toFixed(2)}%`);
const ms = (n: number | undefined): string => (n === undefined ? '-' : `${Math.round(n)}ms`);

export const canaryStatusCommand = defineCommand({
  path: 'canary status',
  summary: "Show a service's canary weights and, per subset, request rate, success rate and latency",
  description:
    'Weights come from the default route of the service\'s VirtualService; metrics from the proxies\'\n' +
    'Prometheus endpoints (--metrics, sampled twice --window apart) or from Prometheus (--prometheus),\n' +
    'per destination_version of istio_requests_total and istio_request_duration_milliseconds.',
  args: [{ name: 'service', description: 'a Service name or ServiceEntry host, e.g. reviews or reviews.example.internal', required: true }],
  options: [...metricsOptions, { flags: '--window <duration>', description: 'how long to measure (0: totals since the proxies started)', default: '10s' }],
  examples: [
    'meshctl canary status reviews',
    'meshctl canary status reviews --metrics http://10.0.0.7:15090 --metrics http://10.0.0.8:15090 --window 30s',
    'meshctl canary status reviews --prometheus http://prometheus.istio-system:9090 -o json',
  ],
  async run(ctx, args, opts) {
    const window = str(opts.window) ?? '10s';
    const p = await import('../core/traffic/parse.js');
    const windowMs = window === '0' ? 0 : p.parseDurationMs(window, '--window');
    const { loadSnapshot } = await import('./route-apply.js');
    const model = await import('../core/traffic/model.js');
    const { currentWeights, formatWeights } = await import('../core/traffic/canary.js');
    const { readRollout, describeRollout, versionOfSubset } = await import('../core/traffic/rollout.js');
    const snapshot = await loadSnapshot(ctx);
    const target = model.resolveTarget(snapshot, args[0] ?? '');
    const { metricsSource } = await import('./canary-metrics.js');
    const source = metricsSource(opts, target.host);
    const warnings: string[] = [];
    const vs = model.findVirtualService(snapshot, target, warnings);
    for (const w of warnings) ctx.info(`Warning: ${w}`);
    const weights = vs ? currentWeights(vs, target, snapshot.namespace) : [];
    const metaAll = model.annotationJson(vs, model.ANNOTATION.canary)[target.host];
    const meta = typeof metaAll === 'object' && metaAll !== null ? (metaAll as { stable?: string; canary?: string }) : {};
    const rollout = readRollout(vs, target.host);
    const metrics = source ? await source.measure(windowMs, (t) => new Promise((r) => setTimeout(r, t))) : undefined;

    const rows = weights.map((w) => {
      const version = w.subset === undefined ? '*' : versionOfSubset(snapshot, target, w.subset);
      const m = metrics?.get(version);
      const role = w.subset === undefined ? '' : w.subset === meta.canary ? 'canary' : w.subset === meta.stable ? 'stable' : '';
      return { subset: w.subset ?? '(all)', role, version, weight: w.weight, requests: m?.requests, rps: m?.rps, successRate: m?.successRate, p50Ms: m?.p50Ms, p99Ms: m?.p99Ms };
    });
    // Versions that get traffic some other way (header routes, mirrors) are shown too.
    for (const [version, m] of metrics ?? []) {
      if (!rows.some((r) => r.version === version)) rows.push({ subset: '-', role: '', version, weight: 0, requests: m.requests, rps: m.rps, successRate: m.successRate, p50Ms: m.p50Ms, p99Ms: m.p99Ms });
    }
    const head = [
      `${target.name} (${target.host})${vs ? `, VirtualService ${vs.metadata.name}` : ', no VirtualService: traffic is spread over all versions'}`,
      `default route: ${formatWeights(weights)}`,
      ...(rollout ? [describeRollout(rollout)] : []),
      source ? `metrics: ${source.description}, ${windowMs ? `over ${window}` : 'since the proxies started'}` : 'metrics: none (pass --metrics URL or --prometheus URL)',
    ];
    const { renderTable } = await import('../ui/table.js');
    const table = renderTable({
      columns: ['subset', 'role', 'version', 'weight', 'requests', 'rps', 'success', 'p50', 'p99'],
      rows: rows.map((r) => [r.subset, r.role || '-', r.version, `${r.weight}%`, r.requests === undefined ? '-' : Math.round(r.requests), r.rps === undefined ? '-' : r.rps.toFixed(1), pct(r.successRate), ms(r.p50Ms), ms(r.p99Ms)]),
    });
    return {
      data: { service: target.name, host: target.host, virtualService: vs?.metadata.name ?? null, stable: meta.stable ?? null, canary: meta.canary ?? null, rollout: rollout ?? null, subsets: rows },
      text: head.join('\n') + '\n\n' + table,
    };
  },
});
