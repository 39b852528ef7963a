import { defineCommand } from './spec.js';
import { UsageError } from '../core/errors.js';

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export const injectFaultCommand = defineCommand({
  path: 'inject fault',
  summary: 'Delay or abort a share of the requests to a service, optionally for a limited time',
  description:
    'Adds a fault rule (named meshctl-fault-...) ahead of the service\'s routes. With --duration the\n' +
    'expiry is written with the rule (annotation meshctl.io/fault-expires) and meshctl proxies stop\n' +
    'applying it at that time on their own. --clear removes meshctl\'s fault rules; --list shows every\n' +
    'fault in the namespace (-A: the mesh) with its expiry.',
  args: [{ name: 'service', description: 'a Service name or ServiceEntry host, e.g. ratings (not needed with --list)' }],
  options: [
    { flags: '--delay <duration>', description: 'delay requests by this long, e.g. 5s' },
    { flags: '--abort <status>', description: 'answer requests with this HTTP status, e.g. 503' },
    { flags: '--percent <n>', description: 'share of matching requests that get the fault (0-100)', default: '100' },
    { flags: '--match <header:name=value>', description: 'only requests with this header, e.g. header:end-user=jason' },
    { flags: '--subset <subset>', description: 'send the matching requests to this subset (default: where they would go anyway)' },
    { flags: '--source-labels <key=value,...>', description: 'only requests from workloads with these labels, e.g. app=productpage' },
    { flags: '--duration <duration>', description: 'remove the fault after this long, e.g. 10m' },
    { flags: '--clear', description: "remove meshctl's fault rules from the service" },
    { flags: '--list', description: 'list the faults in the namespace (with -A, in every namespace)' },
    { flags: '--dry-run', description: 'print the change, write nothing' },
  ],
  examples: [
    'meshctl inject fault ratings --delay 5s --percent 10',
    'meshctl inject fault ratings --abort 503 --percent 50 --match header:end-user=jason --duration 10m',
    'meshctl inject fault reviews --abort 500 --subset v2 --source-labels app=productpage',
    'meshctl inject fault ratings --clear',
    'meshctl inject fault --list -A',
  ],
  async run(ctx, args, opts) {
    const service = args[0];
    if (opts.list) {
      if (opts.clear || opts.delay || opts.abort) throw new UsageError('--list cannot be combined with --clear, --delay or --abort');
      const store = await ctx.store();
      const vss = await store.list('VirtualService', ctx.globals.allNamespaces ? undefined : await ctx.namespace());
      const { listFaults } = await import('../core/traffic/fault.js');
      const rows = listFaults(vss, ctx.now()).filter((r) => service === undefined || r.hosts.some((h) => h.split('.')[0] === service));
      if (rows.length === 0) return { data: rows, text: `no faults in ${ctx.globals.allNamespaces ? 'any namespace' : `namespace "${await ctx.namespace()}"`}` };
      return {
        data: rows,
        table: {
          columns: ['namespace', 'virtualservice', 'route', 'fault', 'match', 'expires', 'state'],
          rows: rows.map((r) => [r.namespace, r.virtualService, r.route, r.fault, r.match, r.expires ?? '-', r.state === 'expired' ? 'expired (remove with --clear)' : r.state]),
        },
      };
    }
    if (service === undefined) throw new UsageError('inject fault needs a SERVICE', 'e.g. "meshctl inject fault ratings --delay 5s", or --list');
    const { loadSnapshot, applyPlan, describe } = await import('./route-apply.js');
    const fault = await import('../core/traffic/fault.js');
    let plan;
    if (opts.clear) {
      if (opts.delay || opts.abort) throw new UsageError('--clear cannot be combined with --delay or --abort');
      plan = fault.planClearFaults({ snapshot: await loadSnapshot(ctx), service });
    } else {
      const p = await import('../core/traffic/parse.js');
      const delay = str(opts.delay);
      const abort = str(opts.abort);
      const match = str(opts.match);
      const duration = str(opts.duration);
      const input = {
        service,
        delayMs: delay === undefined ? undefined : p.parseDurationMs(delay, '--delay'),
        abortStatus: abort === undefined ? undefined : p.parseHttpStatus(abort),
        percent: p.parsePercent(str(opts.percent) ?? '100', '--percent'),
        header: match === undefined ? undefined : p.parseHeaderMatch(match),
        subset: str(opts.subset),
        sourceLabels: p.parseLabels(str(opts.sourceLabels), '--source-labels'),
        durationMs: duration === undefined ? undefined : p.parseDurationMs(duration, '--duration'),
        now: ctx.now(),
      };
      plan = fault.planInjectFault({ ...input, snapshot: await loadSnapshot(ctx) });
    }
    const applied = await applyPlan(ctx, plan, Boolean(opts.dryRun));
    return describe(ctx, plan.summary, applied, { service: plan.target.name, namespace: plan.target.namespace, rule: plan.routeName || null, expires: plan.expires ?? null });
  },
});
