import { defineCommand, type CommandOutput } from './spec.js';
import type { Context } from '../context.js';
import type { CanaryPlan } from '../core/traffic/canary.js';

const common = [
  { flags: '--to <subset>', description: 'the canary subset (default: inferred when unambiguous)' },
  { flags: '--from <subset>', description: 'the stable subset (default: inferred when unambiguous)' },
  { flags: '--dry-run', description: 'print the change, write nothing' },
  { flags: '--force', description: 'go ahead even when the canary subset selects no ready workloads' },
] as const;

async function run(ctx: Context, plan: CanaryPlan, dryRun: boolean): Promise<CommandOutput> {
  const { applyPlan, describe } = await import('./route-apply.js');
  const { currentWeights, formatWeights } = await import('../core/traffic/canary.js');
  const applied = await applyPlan(ctx, plan, dryRun);
  // "was" is what the write actually replaced: after a lost race that is the other writer's
  // result, not what the first read saw.
  const replaced = applied.changes.find((c) => c.ref.kind === 'VirtualService')?.before;
  const before = replaced ? currentWeights(replaced, plan.target, plan.target.namespace) : plan.before;
  const summary = plan.summary.replace(/\(was [^)]*\)$/, `(was ${formatWeights(before)})`);
  return describe(ctx, summary, applied, {
    service: plan.target.name,
    namespace: plan.target.namespace,
    host: plan.target.host,
    stable: plan.stable,
    canary: plan.canary,
    virtualService: plan.virtualService.name,
    before,
    after: plan.after,
    readiness: plan.readiness ?? null,
  });
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export const canaryShiftCommand = defineCommand({
  path: 'canary shift',
  summary: "Send a percentage of a service's traffic to its canary subset",
  description:
    "Sets the weights of the service's default route (its VirtualService's catch-all route) to\n" +
    'stable 100-WEIGHT / canary WEIGHT. Header routes and other hosts are left as they are. A\n' +
    'VirtualService, and DestinationRule subsets from the workloads\' "version" labels, are created\n' +
    'when missing. SERVICE is a Kubernetes Service or a ServiceEntry host; a ServiceEntry\'s\n' +
    'versions are the "version" labels of the WorkloadEntries its workloadSelector picks.',
  args: [
    { name: 'service', description: 'a Service name or ServiceEntry host, e.g. reviews or reviews.example.internal', required: true },
    { name: 'weight', description: 'canary share, a whole number 0-100 (10 or 10%)', required: true },
  ],
  options: common,
  examples: [
    'meshctl canary shift reviews 10%            # two versions: stable and canary are inferred',
    'meshctl canary shift reviews 10% --to v2    # more than two: name the canary',
    'meshctl canary shift reviews 50 --to v3 --from v1',
    'meshctl canary shift reviews 25% --dry-run',
    'meshctl canary shift reviews.example.internal 10%   # a ServiceEntry host (VMs, --local processes)',
  ],
  async run(ctx, args, opts) {
    const { parseWeight } = await import('../core/traffic/parse.js');
    const weight = parseWeight(args[1] ?? '');
    const { loadSnapshot } = await import('./route-apply.js');
    const { planCanaryShift } = await import('../core/traffic/canary.js');
    const plan = planCanaryShift({ snapshot: await loadSnapshot(ctx), service: args[0] ?? '', weight, to: str(opts.to), from: str(opts.from), force: Boolean(opts.force) });
    return run(ctx, plan, Boolean(opts.dryRun));
  },
});

export const canaryPromoteCommand = defineCommand({
  path: 'canary promote',
  summary: 'Send all of a service\'s traffic to its canary, which becomes the stable subset',
  description:
    'Sets the default route to the canary at 100% and records it as the new stable subset, so the\n' +
    'next "canary shift" starts from it. Aborts a "canary rollout" of the service in progress\n' +
    '(the rollout process stops at its next check).',
  args: [{ name: 'service', description: 'a Service name or ServiceEntry host, e.g. reviews or reviews.example.internal', required: true }],
  options: common,
  examples: ['meshctl canary promote reviews', 'meshctl canary promote reviews --to v2 --dry-run'],
  async run(ctx, args, opts) {
    const { loadSnapshot } = await import('./route-apply.js');
    const { planCanaryPromote } = await import('../core/traffic/canary.js');
    const plan = planCanaryPromote({ snapshot: await loadSnapshot(ctx), service: args[0] ?? '', to: str(opts.to), from: str(opts.from), force: Boolean(opts.force), now: ctx.now() });
    return run(ctx, plan, Boolean(opts.dryRun));
  },
});

export const canaryRollbackCommand = defineCommand({
  path: 'canary rollback',
  summary: "Send all of a service's traffic back to its stable subset",
  description:
    'Sets the default route to the stable subset at 100%. Aborts a "canary rollout" of the service\n' +
    'in progress (the rollout process stops at its next check).',
  args: [{ name: 'service', description: 'a Service name or ServiceEntry host, e.g. reviews or reviews.example.internal', required: true }],
  options: common.filter((o) => o.flags !== '--force'),
  examples: ['meshctl canary rollback reviews', 'meshctl canary rollback reviews --from v1'],
  async run(ctx, args, opts) {
    const { loadSnapshot } = await import('./route-apply.js');
    const { planCanaryRollback } = await import('../core/traffic/canary.js');
    const plan = planCanaryRollback({ snapshot: await loadSnapshot(ctx), service: args[0] ?? '', to: str(opts.to), from: str(opts.from), now: ctx.now() });
    return run(ctx, plan, Boolean(opts.dryRun));
  },
});
