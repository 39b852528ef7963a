import { defineCommand } from './spec.js';
import { metricsOptions } from './canary-status.js';
import { ClusterError, ExitCode, UsageError } from '../core/errors.js';
import type { Verdict } from '../core/traffic/metrics.js';

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export const canaryRolloutCommand = defineCommand({
  path: 'canary rollout',
  summary: 'Shift traffic to a canary step by step, checking its metrics at every step',
  description:
    'At each step the canary gets the next weight, then its metrics over --interval are judged:\n' +
    'an error rate above --max-error-rate or a p99 above --max-p99 rolls back to stable at once\n' +
    'and exits 80 (for CI); fewer than --min-requests is inconclusive (look again, fail after\n' +
    '--max-inconclusive windows in a row, never pass). The last step (100%) promotes the canary.\n' +
    'State is kept in the VirtualService (annotation meshctl.io/rollout): "canary status" shows\n' +
    'it, a second rollout is refused, --resume continues an interrupted one, "canary rollback"\n' +
    'aborts it.',
  args: [{ name: 'service', description: 'the service, e.g. reviews', required: true }],
  options: [
    { flags: '--to <subset>', description: 'the canary subset (default: inferred when unambiguous)' },
    { flags: '--from <subset>', description: 'the stable subset (default: inferred when unambiguous)' },
    { flags: '--steps <list>', description: 'canary weights, increasing', default: '5,10,25,50,100' },
    { flags: '--interval <duration>', description: 'how long each step is watched', default: '1m' },
    { flags: '--max-error-rate <percent>', description: 'highest canary 5xx share that passes, e.g. 1%' },
    { flags: '--max-p99 <duration>', description: 'highest canary p99 latency that passes, e.g. 500ms' },
    { flags: '--min-requests <n>', description: 'fewer canary requests in a window is inconclusive', default: '50' },
    { flags: '--max-inconclusive <n>', description: 'inconclusive windows in a row before failing', default: '3' },
    ...metricsOptions,
    { flags: '--resume', description: 'continue the interrupted rollout of this service' },
    { flags: '--force', description: 'go ahead even when the canary subset selects no ready workloads' },
  ],
  examples: [
    'meshctl canary rollout reviews --to v2 --steps 5,10,25,50,100 --interval 1m --max-error-rate 1% --max-p99 500ms --min-requests 50 --prometheus http://prometheus:9090',
    'meshctl canary rollout reviews --to v2 --metrics http://10.0.0.7:15090 --interval 30s --max-error-rate 0.5%',
    'meshctl canary rollout reviews --resume --metrics http://10.0.0.7:15090',
  ],
  async run(ctx, args, opts) {
    const p = await import('../core/traffic/parse.js');
    const r = await import('../core/traffic/rollout.js');
    const steps = r.parseSteps(str(opts.steps) ?? '5,10,25,50,100');
    const intervalMs = p.parseDurationMs(str(opts.interval) ?? '1m', '--interval');
    const maxErr = str(opts.maxErrorRate);
    const maxP99 = str(opts.maxP99);
    const gates = {
      maxErrorRate: maxErr === undefined ? undefined : p.parsePercent(maxErr, '--max-error-rate') / 100,
      maxP99Ms: maxP99 === undefined ? undefined : p.parseDurationMs(maxP99, '--max-p99'),
      minRequests: p.parseCount(str(opts.minRequests) ?? '50', '--min-requests', 1),
    };
    const maxInconclusive = p.parseCount(str(opts.maxInconclusive) ?? '3', '--max-inconclusive');
    if (gates.maxErrorRate === undefined && gates.maxP99Ms === undefined) {
      throw new UsageError('canary rollout needs a gate: --max-error-rate and/or --max-p99', 'e.g. --max-error-rate 1% --max-p99 500ms');
    }
    const service = args[0] ?? '';
    const model = await import('../core/traffic/model.js');
    const { loadSnapshot, applyPlan } = await import('./route-apply.js');
    const { metricsSource } = await import('./canary-metrics.js');
    const snapshot = await loadSnapshot(ctx);
    const target = model.resolveTarget(snapshot, service);
    const source = metricsSource(opts, target.host);
    if (!source) throw new UsageError('canary rollout needs metrics to judge the canary', 'pass --metrics URL (proxies) or --prometheus URL');

    const start = r.planRolloutStart({ snapshot, service, to: str(opts.to), from: str(opts.from), steps, resume: Boolean(opts.resume), force: Boolean(opts.force), now: ctx.now() });
    const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));
    // Read the metrics once before the first write: an endpoint that cannot be read is exit 69 with
    // nothing changed, not a canary left at its first step by a rollout that could never judge it.
    await source.measure(0, sleep);
    await applyPlan(ctx, start.plan, false);
    let state = start.state;
    const version = r.versionOfSubset(snapshot, target, state.canary);
    const store = await ctx.store();
    const { progressView } = await import('../ui/progress.js');
    const view = await progressView(ctx.io, ctx.env);
    const log: string[] = [];
    const show = (activity: string, line?: string): void => {
      if (line) log.push(line);
      view.update({ service: target.name, stable: state.stable, canary: state.canary, steps: state.steps, step: state.step, phase: state.phase, activity, log }, line);
    };
    const label = (): string => `step ${state.step + 1}/${state.steps.length} (${state.canary} ${state.steps[state.step]}%)`;
    show(`watching for ${str(opts.interval) ?? '1m'}`, `${start.plan.summary}`);
    let outcome: 'succeeded' | 'failed' = 'failed';
    let reason = 'stopped after the most windows the steps allow';
    try {
      // Bounded: every window either advances a step or counts towards --max-inconclusive.
      for (let windows = 0; windows < steps.length * (maxInconclusive + 1) + 1; windows++) {
        const { judge } = await import('../core/traffic/metrics.js');
        let verdict: Verdict;
        const windowStart = Date.now();
        try {
          verdict = judge((await source.measure(intervalMs, sleep)).get(version), gates);
        } catch (err) {
          // Metrics that stop answering mid-rollout judge nothing: inconclusive, so the rollout
          // looks again and rolls back after --max-inconclusive windows instead of dying half-way.
          if (!(err instanceof ClusterError)) throw err;
          await sleep(Math.max(0, intervalMs - (Date.now() - windowStart))); // a blip costs one window, not all of them at once
          verdict = { result: 'inconclusive', detail: `metrics unreadable: ${err.message}` };
        }
        const decision = r.decide(state, verdict, maxInconclusive, ctx.now());
        const at = label();
        await store.modify(start.plan.virtualService, r.rolloutEdit(start.plan.virtualService, target, snapshot.namespace, state.startedAt, decision).mutate);
        state = decision.state;
        const line = `${at}: ${verdict.result}: ${verdict.detail}`;
        if (decision.action === 'rollback') {
          reason = decision.reason;
          show('rolled back', `${line} -> rolled back to ${state.stable} 100%`);
          break;
        }
        if (decision.action === 'succeed') {
          outcome = 'succeeded';
          show('done', `${line} -> ${state.steps[state.step] === 100 ? `promoted ${state.canary} to 100%` : 'last step reached'}`);
          break;
        }
        show(`watching for ${str(opts.interval) ?? '1m'}`, decision.action === 'wait' ? `${line} -> looking again (${state.inconclusive}/${maxInconclusive})` : `${line} -> ${label()}`);
      }
    } finally {
      await view.close();
    }
    const text =
      outcome === 'succeeded'
        ? `${target.name}: rollout succeeded: ${state.canary} ${state.steps[state.step]}%${state.steps[state.step] === 100 ? ` (promoted; ${state.canary} is now stable)` : ''}`
        : `${target.name}: rollout failed at ${label()}: ${reason}; all traffic back on ${state.stable}`;
    return { data: { service: target.name, result: outcome, reason: outcome === 'failed' ? reason : null, state, log }, text, ...(outcome === 'failed' ? { exitCode: ExitCode.rolloutFailed } : {}) };
  },
});
