import { defineCommand } from './spec.js';

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export const resilienceSetCommand = defineCommand({
  path: 'resilience set',
  summary: "Set a service's timeout, retries, connection limits and outlier detection",
  description:
    'Timeouts and retries go on every route of the service\'s VirtualService that sends only to it;\n' +
    "connection limits and outlier detection on its DestinationRule's traffic policy. Settings not\n" +
    'given stay as they are; missing objects are created.',
  args: [{ name: 'service', description: 'a Service name or ServiceEntry host, e.g. ratings or ratings.example.internal', required: true }],
  options: [
    { flags: '--timeout <duration>', description: 'request timeout, e.g. 2s' },
    { flags: '--retries <n>', description: 'retry attempts (0 turns retries off)' },
    { flags: '--per-try-timeout <duration>', description: 'timeout of each attempt, e.g. 500ms' },
    { flags: '--retry-on <conditions>', description: 'when to retry, e.g. 5xx,reset,connect-failure' },
    { flags: '--max-connections <n>', description: 'connection pool: TCP connections per endpoint' },
    { flags: '--max-pending <n>', description: 'connection pool: requests waiting for a connection' },
    { flags: '--consecutive-5xx <n>', description: 'outlier detection: eject an endpoint after N 5xx in a row' },
    { flags: '--interval <duration>', description: 'outlier detection: how often endpoints are checked, e.g. 10s' },
    { flags: '--ejection-time <duration>', description: 'outlier detection: base ejection time, e.g. 30s' },
    { flags: '--max-ejection-percent <n>', description: 'outlier detection: most endpoints ejected at once (0-100)' },
    { flags: '--dry-run', description: 'print the change, write nothing' },
  ],
  examples: [
    'meshctl resilience set ratings --timeout 2s --retries 3 --per-try-timeout 500ms --retry-on 5xx,reset',
    'meshctl resilience set reviews --max-connections 100 --max-pending 10',
    'meshctl resilience set reviews --consecutive-5xx 5 --ejection-time 30s --max-ejection-percent 50 --dry-run',
  ],
  async run(ctx, args, opts) {
    const p = await import('../core/traffic/parse.js');
    const dur = (k: string, flag: string): number | undefined => (str(opts[k]) === undefined ? undefined : p.parseDurationMs(str(opts[k]) ?? '', flag));
    const num = (k: string, flag: string): number | undefined => (str(opts[k]) === undefined ? undefined : p.parseCount(str(opts[k]) ?? '', flag));
    const input = {
      service: args[0] ?? '',
      timeoutMs: dur('timeout', '--timeout'),
      retries: num('retries', '--retries'),
      perTryTimeoutMs: dur('perTryTimeout', '--per-try-timeout'),
      retryOn: str(opts.retryOn),
      maxConnections: num('maxConnections', '--max-connections'),
      maxPending: num('maxPending', '--max-pending'),
      consecutive5xx: num('consecutive5xx', '--consecutive-5xx'),
      intervalMs: dur('interval', '--interval'),
      ejectionTimeMs: dur('ejectionTime', '--ejection-time'),
      maxEjectionPercent: num('maxEjectionPercent', '--max-ejection-percent'),
    };
    const { loadSnapshot, applyPlan, describe } = await import('./route-apply.js');
    const { planResilience } = await import('../core/traffic/resilience.js');
    const plan = planResilience({ ...input, snapshot: await loadSnapshot(ctx) });
    const applied = await applyPlan(ctx, plan, Boolean(opts.dryRun));
    return describe(ctx, plan.summary, applied, { service: plan.target.name, namespace: plan.target.namespace });
  },
});
