import { defineCommand } from './spec.js';
import { metricsOptions } from './canary-status.js';
import { ClusterError, ExitCode, UsageError } from '../core/errors.js';
import type { Verdict } from '../core/traffic/metrics.js';
import type { RolloutSettings } from '../core/traffic/rollout.js';

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const DEFAULTS = { steps: '5,10,25,50,100', interval: '1m', minRequests: '50', maxInconclusive: '3' } as const;

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
  args: [{ name: 'service', description: 'a Service name or ServiceEntry host, e.g. reviews or reviews.example.internal', required: true }],
  options: [
    { flags: '--to <subset>', description: 'the canary subset (default: inferred when unambiguous)' },
    { flags: '--from <subset>', description: 'the stable subset (default: inferred when unambiguous)' },
    // No commander defaults below: with --resume, a flag not given means "as the rollout was started".
    { flags: '--steps <list>', description: `canary weights, increasing (default: "${DEFAULTS.steps}")` },
    { flags: '--interval <duration>', description: `how long each step is watched (default: "${DEFAULTS.interval}")` },
    { flags: '--max-error-rate <percent>', description: 'highest canary 5xx share that passes, e.g. 1%' },
    { flags: '--max-p99 <duration>', description: 'highest canary p99 latency that passes, e.g. 500ms' },
    { flags: '--min-requests <n>', description: `fewer canary requests in a window is inconclusive (default: "${DEFAULTS.minRequests}")` },
    { flags: '--max-inconclusive <n>', description: `inconclusive windows in a row before failing (default: "${DEFAULTS.maxInconclusive}")` },
    ...metricsOptions,
    { flags: '--resume', description: 'continue the interrupted rollout of this service, with its steps and gates' },
    { flags: '--force', description: 'go ahead even when the canary subset selects no ready workloads' },
  ],
  examples: [
    'meshctl canary rollout reviews --to v2 --steps 5,10,25,50,100 --interval 1m --max-error-rate 1% --max-p99 500ms --min-requests 50 --prometheus http://prometheus:9090',
    'meshctl canary rollout reviews --to v2 --metrics http://10.0.0.7:15090 --interval 30s --max-error-rate 0.5%',
    'meshctl canary rollout reviews --resume --metrics http://10.0.0.7:15090   # steps and gates as started',
  ],
  async run(ctx, args, opts) {
    const p = await import('../core/traffic/parse.js');
    const r = await import('../core/traffic/rollout.js');
    // Every flag is checked before anything is read or written.
    const given = {
      steps: str(opts.steps) === undefined ? undefined : r.parseSteps(str(opts.steps) ?? ''),
      intervalMs: str(opts.interval) === undefined ? undefined : p.parseDurationMs(str(opts.interval) ?? '', '--interval'),
      maxErrorRate: str(opts.maxErrorRate) === undefined ? undefined : p.parsePercent(str(opts.maxErrorRate) ?? '', '--max-error-rate') / 100,
      maxP99Ms: str(opts.maxP99) === undefined ? undefined : p.parseDurationMs(str(opts.maxP99) ?? '', '--max-p99'),
      minRequests: str(opts.minRequests) === undefined ? undefined : p.parseCount(str(opts.minRequests) ?? '', '--min-requests', 1),
      maxInconclusive: str(opts.maxInconclusive) === undefined ? undefined : p.parseCount(str(opts.maxInconclusive) ?? '', '--max-inconclusive'),
    };
    const resume = Boolean(opts.resume);
    if (!resume && given.maxErrorRate === undefined && given.maxP99Ms === undefined) {
      throw new UsageError('canary rollout needs a gate: --max-error-rate and/or --max-p99', 'e.g. --max-error-rate 1% --max-p99 500ms');
    }
    const service = args[0] ?? '';
    const model = await import('../core/traffic/model.js');
    const { loadSnapshot, applyPlan } = await import('./route-apply.js');
    const { metricsSource } = await import('./canary-metrics.js');
    const snapshot = await loadSnapshot(ctx);
    const target = model.resolveTarget(snapshot, service);
    // A resumed rollout keeps the settings it was started with; flags given now override them.
    const saved = resume ? r.readRollout(model.findVirtualService(snapshot, target, []), target.host)?.settings : undefined;
    if (resume && given.steps) ctx.info('Warning: --steps is ignored with --resume: the rollout keeps the steps it was started with');
    const settings: RolloutSettings = {
      intervalMs: given.intervalMs ?? saved?.intervalMs ?? p.parseDurationMs(DEFAULTS.interval, '--interval'),
      minRequests: given.minRequests ?? saved?.minRequests ?? Number(DEFAULTS.minRequests),
      maxInconclusive: given.maxInconclusive ?? saved?.maxInconclusive ?? Number(DEFAULTS.maxInconclusive),
      maxErrorRate: given.maxErrorRate ?? saved?.maxErrorRate,
      maxP99Ms: given.maxP99Ms ?? saved?.maxP99Ms,
    };
    if (settings.maxErrorRate === undefined && settings.maxP99Ms === undefined) {
      throw new UsageError('canary rollout needs a gate: --max-error-rate and/or --max-p99 (the rollout to resume has none saved)', 'e.g. --max-error-rate 1% --max-p99 500ms');
    }
    const steps = given.steps ?? r.parseSteps(DEFAULTS.steps);
    const intervalMs = settings.intervalMs;
    const maxInconclusive = settings.maxInconclusive;
    const gates = { maxErrorRate: settings.maxErrorRate, maxP99Ms: settings.maxP99Ms, minRequests: settings.minRequests };
    const source = metricsSource(opts, target.host);
    if (!source) throw new UsageError('canary rollout needs metrics to judge the canary', 'pass --metrics URL (proxies) or --prometheus URL');

    const start = r.planRolloutStart({ snapshot, service, to: str(opts.to), from: str(opts.from), steps, settings, resume, force: Boolean(opts.force), now: ctx.now() });
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
    show(`watching for ${p.durationString(intervalMs)}`, `${start.plan.summary}`);
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
        show(`watching for ${p.durationString(intervalMs)}`, decision.action === 'wait' ? `${line} -> looking again (${state.inconclusive}/${maxInconclusive})` : `${line} -> ${label()}`);
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
