/**
 * Progressive delivery: `canary rollout` walks the canary through weight steps, judging each
 * step's metrics. Its state lives in the VirtualService annotation `meshctl.io/rollout` (a JSON
 * object from service host to {@link RolloutState}), so `canary status` can show it, a second
 * rollout is refused, and `--resume` continues after an interruption. Every state change is a
 * `mutate` that checks, on the freshly read object, that the rollout is still the one it started
 * (so a concurrent `canary rollback` or a second rollout wins cleanly instead of being overwritten).
 * Pure: the caller passes `now` and does the waiting.
 */
import type { Resource } from '../../api/resource.js';
import { ConflictError, InputError, UsageError } from '../errors.js';
import { planCanaryShift, setDefaultRoute, type CanaryPlan, type Weight } from './canary.js';
import type { Gates, Verdict } from './metrics.js';
import { ANNOTATION, annotationJson, clone, findDestinationRule, findVirtualService, resolveTarget, setAnnotationJson, type Edit, type Snapshot, type Target } from './model.js';
import { subsetsOf } from '../../api/hosts.js';

export type RolloutPhase = 'progressing' | 'succeeded' | 'failed' | 'aborted';

export interface RolloutState {
  stable: string;
  canary: string;
  steps: number[];
  /** Index into steps of the weight now applied. */
  step: number;
  phase: RolloutPhase;
  startedAt: string;
  updatedAt: string;
  /** Inconclusive windows in a row at the current step. */
  inconclusive: number;
  /** The last verdict, for `canary status`. */
  last?: string;
  /** Interval and gates it was started with, so `--resume` judges the same way. */
  settings?: RolloutSettings;
}

export interface RolloutSettings {
  intervalMs: number;
  /** 0-1 */
  maxErrorRate?: number | undefined;
  maxP99Ms?: number | undefined;
  minRequests: number;
  maxInconclusive: number;
}

export function parseSteps(value: string): number[] {
  const steps = value.split(',').map((s) => s.trim().replace(/%$/, ''));
  const nums = steps.map((s) => (/^\d{1,3}$/.test(s) ? Number(s) : NaN));
  if (nums.some((n) => !(n >= 1 && n <= 100)) || nums.length === 0) {
    throw new UsageError(`invalid --steps "${value}"`, 'use increasing whole percentages 1-100, e.g. 5,10,25,50,100');
  }
  for (let i = 1; i < nums.length; i++) {
    if ((nums[i] ?? 0) <= (nums[i - 1] ?? 0)) throw new UsageError(`invalid --steps "${value}": steps must increase`, 'e.g. 5,10,25,50,100');
  }
  return nums;
}

export function readRollout(vs: Resource | undefined, host: string): RolloutState | undefined {
  const raw = annotationJson(vs, ANNOTATION.rollout)[host];
  if (typeof raw !== 'object' || raw === null) return undefined;
  const s = raw as Partial<RolloutState>;
  if (typeof s.canary !== 'string' || typeof s.stable !== 'string' || !Array.isArray(s.steps) || typeof s.step !== 'number' || typeof s.startedAt !== 'string') return undefined;
  return s as RolloutState;
}

function writeRollout(vs: Resource, host: string, state: RolloutState): void {
  const all = annotationJson(vs, ANNOTATION.rollout);
  all[host] = state;
  setAnnotationJson(vs, ANNOTATION.rollout, all);
}

export function describeRollout(s: RolloutState): string {
  const at = `step ${s.step + 1}/${s.steps.length} (${s.canary} ${s.steps[s.step] ?? '?'}%)`;
  const g = s.settings;
  const gates = g
    ? `; gates: ${[g.maxErrorRate === undefined ? '' : `errors <= ${Number((g.maxErrorRate * 100).toFixed(4))}%`, g.maxP99Ms === undefined ? '' : `p99 <= ${g.maxP99Ms}ms`, `>= ${g.minRequests} requests per ${Number((g.intervalMs / 1000).toFixed(3))}s`].filter(Boolean).join(', ')}`
    : '';
  return `rollout ${s.phase}: ${s.stable} -> ${s.canary}, ${at}, started ${s.startedAt}, updated ${s.updatedAt}${gates}${s.last ? `; last check: ${s.last}` : ''}`;
}

/** The `version` label the canary subset selects: metrics are labelled by version, not subset. */
export function versionOfSubset(snapshot: Snapshot, target: Target, subset: string): string {
  const dr = findDestinationRule(snapshot, target);
  const labels = dr ? subsetsOf(dr).find((s) => s.name === subset)?.labels : undefined;
  return labels?.version ?? subset;
}

export interface StartInput {
  snapshot: Snapshot;
  service: string;
  to?: string | undefined;
  from?: string | undefined;
  steps: number[];
  settings?: RolloutSettings | undefined;
  resume: boolean;
  force?: boolean | undefined;
  now: Date;
}

export interface RolloutStart {
  plan: CanaryPlan;
  state: RolloutState;
}

/**
 * The first write of a rollout: the weights of its first step (or, with --resume, of the step it
 * was interrupted at) and the state. Refused when another rollout of the service is progressing.
 */
export function planRolloutStart(input: StartInput): RolloutStart {
  const target = resolveTarget(input.snapshot, input.service);
  const existing = readRollout(findVirtualService(input.snapshot, target, []), target.host);
  // A shift plan finds the VirtualService and the roles (a resumed rollout keeps its own) and
  // checks readiness.
  const roles = input.resume && existing ? { to: existing.canary, from: existing.stable } : { to: input.to, from: input.from };
  const probe = planCanaryShift({ snapshot: input.snapshot, service: input.service, weight: input.steps[0] ?? 0, ...roles, force: input.force });
  const host = probe.target.host;
  let state: RolloutState;
  if (input.resume) {
    if (!existing || existing.phase !== 'progressing') {
      throw new InputError(`no interrupted rollout of ${probe.target.name} to resume${existing ? ` (the last one ${existing.phase})` : ''}`, 'start one without --resume');
    }
    state = { ...existing, updatedAt: input.now.toISOString(), inconclusive: 0, ...(input.settings ? { settings: input.settings } : {}) };
  } else {
    if (existing?.phase === 'progressing') throw refused(probe.target, existing);
    const now = input.now.toISOString();
    state = { stable: probe.stable, canary: probe.canary, steps: input.steps, step: 0, phase: 'progressing', startedAt: now, updatedAt: now, inconclusive: 0, ...(input.settings ? { settings: input.settings } : {}) };
  }
  const weight = state.steps[state.step] ?? 0;
  const plan = input.resume
    ? planCanaryShift({ snapshot: input.snapshot, service: input.service, weight, to: state.canary, from: state.stable, force: input.force })
    : planCanaryShift({ snapshot: input.snapshot, service: input.service, weight, to: probe.canary, from: probe.stable, force: input.force });
  const edits = plan.edits.map((e): Edit =>
    e.ref.kind !== 'VirtualService'
      ? e
      : {
          ref: e.ref,
          mutate(current) {
            const fresh = readRollout(current, host);
            if (fresh?.phase === 'progressing' && fresh.startedAt !== state.startedAt) throw refused(plan.target, fresh);
            const out = e.mutate(current) ?? clone(current as Resource);
            writeRollout(out, host, state);
            return out;
          },
        },
  );
  const changes = plan.changes.map((c) => {
    if (c.ref.kind !== 'VirtualService' || !c.after) return c;
    const after = clone(c.after);
    writeRollout(after, host, state);
    return { ...c, after };
  });
  const summary = `${plan.target.name}: rollout ${input.resume ? 'resumed' : 'started'} ${state.stable} -> ${state.canary}, steps ${state.steps.join(',')}%; ${plan.summary.replace(/^[^:]*: /, '')}`;
  return { plan: { ...plan, edits, changes, summary }, state };
}

function refused(target: Target, s: RolloutState): UsageError {
  return new UsageError(
    `a rollout of ${target.name} is already in progress (${describeRollout(s)})`,
    `wait for it, continue it with --resume, or abort it with "meshctl canary rollback ${target.name}"`,
    'E_ROLLOUT_IN_PROGRESS',
  );
}

export type Decision =
  | { action: 'advance'; state: RolloutState }
  | { action: 'wait'; state: RolloutState }
  | { action: 'succeed'; state: RolloutState }
  | { action: 'rollback'; state: RolloutState; reason: string };

/**
 * What a step's verdict means: pass -> next step (or done after the last); fail -> roll back now;
 * inconclusive -> stay and look again, failing after `maxInconclusive` windows in a row.
 */
export function decide(state: RolloutState, verdict: Verdict, maxInconclusive: number, now: Date): Decision {
  const base = { ...state, updatedAt: now.toISOString(), last: `${verdict.result}: ${verdict.detail}` };
  if (verdict.result === 'fail') return { action: 'rollback', state: { ...base, phase: 'failed' }, reason: verdict.detail };
  if (verdict.result === 'inconclusive') {
    const n = state.inconclusive + 1;
    if (n > maxInconclusive) {
      return { action: 'rollback', state: { ...base, phase: 'failed', inconclusive: n }, reason: `inconclusive ${n} times in a row (${verdict.detail})` };
    }
    return { action: 'wait', state: { ...base, inconclusive: n } };
  }
  if (state.step + 1 >= state.steps.length) return { action: 'succeed', state: { ...base, phase: 'succeeded', inconclusive: 0 } };
  return { action: 'advance', state: { ...base, step: state.step + 1, inconclusive: 0 } };
}

/**
 * The write for a decision: weights for the new step (all to the canary on success when the last
 * step is 100%, all to stable on failure) and the new state. Throws ConflictError when the stored
 * rollout is no longer this one (aborted by `canary rollback`, or replaced).
 */
export function rolloutEdit(ref: Edit['ref'], target: Target, ns: string, startedAt: string, decision: Decision): Edit {
  const s = decision.state;
  let weights: Weight[] | undefined;
  let meta: { stable: string; canary?: string } = { stable: s.stable, canary: s.canary };
  if (decision.action === 'rollback') {
    weights = [{ subset: s.stable, weight: 100 }];
    meta = { stable: s.stable };
  } else if (decision.action === 'succeed' && s.steps[s.step] === 100) {
    weights = [{ subset: s.canary, weight: 100 }];
    meta = { stable: s.canary };
  } else if (decision.action === 'advance') {
    const w = s.steps[s.step] ?? 0;
    weights = [
      { subset: s.stable, weight: 100 - w },
      { subset: s.canary, weight: w },
    ];
  }
  return {
    ref,
    mutate(current) {
      const fresh = readRollout(current, target.host);
      if (!current || !fresh || fresh.startedAt !== startedAt || fresh.phase !== 'progressing') {
        throw new ConflictError(
          `the rollout of ${target.name} was changed by someone else${fresh ? ` (${describeRollout(fresh)})` : ' (its state is gone)'}`,
          'stopping; check "meshctl canary status"',
        );
      }
      const out = weights ? setDefaultRoute(current, target, weights, ns, meta) : clone(current);
      writeRollout(out, target.host, s);
      return out;
    },
  };
}

export type { Gates };
