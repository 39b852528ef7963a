import { defineCommand } from './spec.js';
import { UsageError } from '../core/errors.js';

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export const routeHeaderCommand = defineCommand({
  path: 'route header',
  summary: 'Send requests that carry a header (or cookie) to one subset of a service',
  description: "Adds a route ahead of the service's other routes (after meshctl's fault rules); the same\nmatch again updates that route, --clear removes it.",
  args: [{ name: 'service', description: 'a Service name or ServiceEntry host, e.g. reviews or reviews.example.internal', required: true }],
  options: [
    { flags: '--header <name=value>', description: 'match requests with this header value, e.g. end-user=jason' },
    { flags: '--cookie <name=value>', description: 'match requests with this cookie, e.g. user=jason' },
    { flags: '--to <subset>', description: 'the subset these requests go to' },
    { flags: '--clear', description: 'remove the route for this header or cookie' },
    { flags: '--dry-run', description: 'print the change, write nothing' },
  ],
  examples: ['meshctl route header reviews --header end-user=jason --to v2', 'meshctl route header reviews --cookie user=tester --to v3 --dry-run', 'meshctl route header reviews --header end-user=jason --clear'],
  async run(ctx, args, opts) {
    const p = await import('../core/traffic/parse.js');
    const header = str(opts.header);
    const cookie = str(opts.cookie);
    if ((header === undefined) === (cookie === undefined)) throw new UsageError('route header needs exactly one of --header NAME=VALUE or --cookie NAME=VALUE');
    const to = str(opts.to);
    if (!opts.clear && to === undefined) throw new UsageError('route header needs --to SUBSET (or --clear)', 'e.g. --header end-user=jason --to v2');
    const input = {
      service: args[0] ?? '',
      header: header === undefined ? undefined : p.parseHeader(header, '--header'),
      cookie: cookie === undefined ? undefined : p.parseHeader(cookie, '--cookie'),
      to,
      clear: Boolean(opts.clear),
    };
    const { loadSnapshot, applyPlan, describe } = await import('./route-apply.js');
    const { planHeaderRoute } = await import('../core/traffic/routes.js');
    const plan = planHeaderRoute({ ...input, snapshot: await loadSnapshot(ctx) });
    const applied = await applyPlan(ctx, plan, Boolean(opts.dryRun));
    return describe(ctx, plan.summary, applied, { service: plan.target.name, namespace: plan.target.namespace });
  },
});

export const routeMirrorCommand = defineCommand({
  path: 'route mirror',
  summary: "Copy a share of a service's requests to one of its subsets (responses are discarded)",
  description:
    "Sets mirror and mirrorPercentage on the service's default route: callers get the answers of\n" +
    'the subsets the route sends to, the mirrored subset gets a copy (Host header with -shadow).',
  args: [{ name: 'service', description: 'a Service name or ServiceEntry host, e.g. reviews or reviews.example.internal', required: true }],
  options: [
    { flags: '--to <subset>', description: 'the subset that receives the copies' },
    { flags: '--percent <n>', description: 'share of requests to copy (0-100)', default: '100' },
    { flags: '--clear', description: 'stop mirroring' },
    { flags: '--dry-run', description: 'print the change, write nothing' },
  ],
  examples: ['meshctl route mirror reviews --to v3 --percent 20', 'meshctl route mirror reviews --clear'],
  async run(ctx, args, opts) {
    const p = await import('../core/traffic/parse.js');
    const to = str(opts.to);
    if (!opts.clear && to === undefined) throw new UsageError('route mirror needs --to SUBSET (or --clear)', 'e.g. --to v3 --percent 20');
    const percent = p.parsePercent(str(opts.percent) ?? '100', '--percent');
    const { loadSnapshot, applyPlan, describe } = await import('./route-apply.js');
    const { planMirror } = await import('../core/traffic/routes.js');
    const plan = planMirror({ snapshot: await loadSnapshot(ctx), service: args[0] ?? '', to, percent, clear: Boolean(opts.clear) });
    const applied = await applyPlan(ctx, plan, Boolean(opts.dryRun));
    return describe(ctx, plan.summary, applied, { service: plan.target.name, namespace: plan.target.namespace });
  },
});
