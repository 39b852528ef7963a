/**
 * Canary plans: shift, promote and rollback set the weights of a service's default route (the
 * first catch-all route of its VirtualService) between a stable and a canary subset. Every other
 * route — header matches, other hosts' routes, fault rules — keeps its place and content.
 * When no VirtualService exists one is created; when no DestinationRule defines subsets, subsets
 * are created from the workloads' `version` labels.
 */
import type { Resource, ResourceRef } from '../../api/resource.js';
import { InputError, UsageError } from '../errors.js';
import {
  ANNOTATION,
  MANAGED_BY,
  annotationJson,
  clone,
  defaultRouteIndex,
  definedSubsets,
  destinationHost,
  drSpec,
  findDestinationRule,
  findVirtualService,
  freeName,
  gitopsWarning,
  isFaultRoute,
  isTargetDestination,
  naturalCompare,
  planOf,
  requireSubset,
  resolveTarget,
  setAnnotationJson,
  subsetReadiness,
  vsRef,
  vsSpec,
  workloadVersions,
  newVirtualService,
  type Edit,
  type Plan,
  type Readiness,
  type RouteDestination,
  type Snapshot,
  type Target,
} from './model.js';

export interface Weight {
  subset: string | undefined;
  weight: number;
}

export interface CanaryPlan extends Plan {
  target: Target;
  stable: string;
  canary: string;
  virtualService: ResourceRef;
  before: Weight[];
  after: Weight[];
  readiness: Readiness | undefined;
}

export interface ShiftInput {
  snapshot: Snapshot;
  service: string;
  /** Percent of traffic for the canary, 0-100 (already parsed). */
  weight: number;
  to?: string | undefined;
  from?: string | undefined;
  /** Shift even when the canary subset selects no ready workloads. */
  force?: boolean | undefined;
}

interface Roles {
  stable: string;
  canary: string;
}

/** What canary plans know about the service before choosing roles. */
interface Situation {
  target: Target;
  vs: Resource | undefined;
  dr: Resource | undefined;
  subsets: string[];
  /** Subsets to add to the DestinationRule (from workload versions) because it defines none. */
  createSubsets: string[];
  current: Weight[];
  meta: { stable?: string; canary?: string };
  warnings: string[];
}

function situation(snapshot: Snapshot, service: string): Situation {
  const target = resolveTarget(snapshot, service);
  const warnings: string[] = [];
  const vs = findVirtualService(snapshot, target, warnings);
  const dr = findDestinationRule(snapshot, target);
  let subsets = definedSubsets(dr);
  let createSubsets: string[] = [];
  if (subsets.length === 0) {
    createSubsets = workloadVersions(snapshot, target);
    if (createSubsets.length === 0) {
      throw new InputError(
        `no DestinationRule defines subsets for ${target.name} and the store has no workloads of it with a "version" label`,
        target.kind === 'ServiceEntry'
          ? `create a DestinationRule with subsets, or give the WorkloadEntries selected by ServiceEntry ${target.serviceEntry?.metadata.name ?? ''} a "version" label`
          : 'create a DestinationRule with subsets, or label the Deployments with version=...',
      );
    }
    subsets = createSubsets;
  }
  const current = vs ? currentWeights(vs, target, snapshot.namespace) : [];
  const rawMeta = annotationJson(vs, ANNOTATION.canary)[target.host];
  const meta = typeof rawMeta === 'object' && rawMeta !== null ? (rawMeta as { stable?: string; canary?: string }) : {};
  return { target, vs, dr, subsets, createSubsets, current, meta, warnings };
}

/** The weights of the default route as it is; [] when there is none. */
export function currentWeights(vs: Resource, target: Target, ns: string): Weight[] {
  const spec = vsSpec(vs);
  const idx = defaultRouteIndex(spec);
  if (idx < 0) return [];
  const dests = spec.http?.[idx]?.route ?? [];
  const vsNs = vs.metadata.namespace ?? ns;
  return dests
    .filter((d) => isTargetDestination(d.destination, target, vsNs))
    .map((d) => ({ subset: d.destination?.subset, weight: d.weight ?? (dests.length === 1 ? 100 : 0) }));
}

function resolveRoles(s: Situation, to: string | undefined, from: string | undefined): Roles {
  const named = s.current.filter((w): w is { subset: string; weight: number } => w.subset !== undefined);
  if (s.subsets.length === 1 && to === undefined) {
    throw new InputError(
      `${s.target.name} has one subset (${s.subsets[0] ?? ''}): a canary needs a second one`,
      s.dr ? `deploy the canary with its own "version" label and add a subset for it to DestinationRule ${s.dr.metadata.name}` : 'deploy the canary with its own "version" label',
    );
  }
  let canary = to;
  let stable = from;
  if (canary === undefined && s.meta.canary && s.subsets.includes(s.meta.canary) && s.meta.canary !== stable) canary = s.meta.canary;
  if (canary === undefined) {
    const withoutStable = named.filter((w) => w.subset !== stable);
    if (named.length === 2 && named[0]?.weight !== named[1]?.weight) {
      // A split already in progress: the lighter side is the canary.
      canary = [...named].sort((a, b) => a.weight - b.weight)[0]?.subset;
    } else if (stable === undefined && named.length === 1 && s.subsets.length === 2) {
      canary = s.subsets.find((x) => x !== named[0]?.subset);
    } else if (stable === undefined && named.length === 0 && s.subsets.length === 2) {
      canary = [...s.subsets].sort(naturalCompare)[1];
    } else if (stable !== undefined) {
      const others = s.subsets.filter((x) => x !== stable);
      if (others.length === 1) canary = others[0];
      else if (withoutStable.length === 1) canary = withoutStable[0]?.subset;
    }
  }
  if (canary === undefined) {
    throw new UsageError(
      `cannot tell which subset of ${s.target.name} is the canary (subsets: ${s.subsets.join(', ')})`,
      'name it with --to SUBSET (and the stable one with --from SUBSET)',
    );
  }
  if (stable === undefined && s.meta.stable && s.meta.stable !== canary && s.subsets.includes(s.meta.stable)) stable = s.meta.stable;
  if (stable === undefined) {
    const others = named.filter((w) => w.subset !== canary).sort((a, b) => b.weight - a.weight);
    if (others.length === 1 || (others.length > 1 && (others[0]?.weight ?? 0) > (others[1]?.weight ?? 0))) stable = others[0]?.subset;
    else if (others.length === 0) {
      const rest = s.subsets.filter((x) => x !== canary);
      if (rest.length === 1) stable = rest[0];
    }
  }
  if (stable === undefined) {
    throw new UsageError(
      `cannot tell which subset of ${s.target.name} is stable (subsets: ${s.subsets.join(', ')}; canary ${canary})`,
      'name it with --from SUBSET',
    );
  }
  if (stable === canary) throw new UsageError(`--to and --from both name subset "${canary}"`, 'the canary and the stable subset must differ');
  requireSubset(canary, s.subsets, s.target, to !== undefined ? '--to' : 'canary');
  requireSubset(stable, s.subsets, s.target, from !== undefined ? '--from' : 'stable');
  return { stable, canary };
}

/**
 * Sets the default route's destinations on `vs` (a fresh copy of the stored object). Destinations
 * keep their port and other fields; meshctl fault rules that copied the old default destinations
 * follow the change, so a fault in progress does not pin the old weights.
 */
export function setDefaultRoute(vs: Resource, target: Target, weights: Weight[], ns: string, meta: { stable: string; canary?: string }): Resource {
  const out = clone(vs);
  const spec = vsSpec(out);
  out.spec = spec;
  const http = (spec.http ??= []);
  let idx = defaultRouteIndex(spec);
  if (idx < 0) {
    http.push({ route: [] });
    idx = http.length - 1;
  }
  const route = http[idx] ?? {};
  const old = route.route ?? [];
  const vsNs = out.metadata.namespace ?? ns;
  const foreign = old.find((d) => !isTargetDestination(d.destination, target, vsNs));
  if (foreign) {
    throw new InputError(
      `the default route of VirtualService ${out.metadata.name} also sends traffic to "${foreign.destination?.host ?? '?'}"`,
      `give ${target.name} a route of its own before shifting its weights`,
    );
  }
  const template = old[0]?.destination ?? { host: destinationHost(target, vsNs) };
  const next: RouteDestination[] = weights.map((w) => {
    const same = old.find((d) => d.destination?.subset === w.subset)?.destination ?? template;
    const destination = { ...clone(same), subset: w.subset };
    if (w.subset === undefined) delete destination.subset;
    return weights.length === 1 ? { destination } : { destination, weight: w.weight };
  });
  const oldKey = destKey(old);
  for (const r of http) if (isFaultRoute(r) && r.route && destKey(r.route) === oldKey) r.route = clone(next);
  route.route = next;
  http[idx] = route;
  const all = annotationJson(out, ANNOTATION.canary);
  all[target.host] = meta.canary ? { stable: meta.stable, canary: meta.canary } : { stable: meta.stable };
  setAnnotationJson(out, ANNOTATION.canary, all);
  return out;
}

function destKey(ds: RouteDestination[]): string {
  return JSON.stringify(ds.map((d) => [d.destination?.host, d.destination?.subset, d.weight]));
}

function destinationRuleEdit(s: Situation, snapshot: Snapshot): Edit | undefined {
  if (s.createSubsets.length === 0) return undefined;
  const ref: ResourceRef = s.dr
    ? { kind: 'DestinationRule', namespace: s.dr.metadata.namespace ?? snapshot.namespace, name: s.dr.metadata.name }
    : { kind: 'DestinationRule', namespace: s.target.namespace, name: freeName(snapshot.destinationRules, s.target.objectName) };
  const versions = s.createSubsets;
  const target = s.target;
  return {
    ref,
    mutate(current) {
      const base: Resource = current ?? {
        apiVersion: 'networking.istio.io/v1',
        kind: 'DestinationRule',
        metadata: { name: ref.name, namespace: ref.namespace, labels: { [MANAGED_BY.key]: MANAGED_BY.value } },
        spec: { host: target.name },
      };
      const out = clone(base);
      const spec = drSpec(out);
      out.spec = spec;
      const have = new Set(definedSubsets(out));
      const missing = versions.filter((v) => !have.has(v));
      if (missing.length === 0) return undefined;
      spec.subsets = [...(spec.subsets ?? []), ...missing.map((v) => ({ name: v, labels: { version: v } }))];
      return out;
    },
  };
}

function virtualServiceEdit(s: Situation, snapshot: Snapshot, weights: Weight[], meta: { stable: string; canary?: string }, abortedAt?: Date): Edit {
  const created = s.vs ? undefined : newVirtualService(snapshot, s.target);
  const ref = s.vs ? vsRef(s.vs, snapshot) : { kind: 'VirtualService', namespace: s.target.namespace, name: created?.metadata.name ?? s.target.objectName };
  const target = s.target;
  return {
    ref,
    mutate(current) {
      const out = setDefaultRoute(current ?? (created as Resource), target, weights, snapshot.namespace, meta);
      if (abortedAt) abortRollout(out, target.host, abortedAt);
      return out;
    },
  };
}

/**
 * A promote or rollback by hand ends a progressing `canary rollout` of the host (its state is in
 * the same object, see rollout.ts): the rollout process sees "aborted" at its next write and stops.
 */
function abortRollout(vs: Resource, host: string, now: Date): void {
  const all = annotationJson(vs, ANNOTATION.rollout);
  const state = all[host];
  if (typeof state !== 'object' || state === null || (state as { phase?: unknown }).phase !== 'progressing') return;
  all[host] = { ...state, phase: 'aborted', updatedAt: now.toISOString(), last: 'aborted by hand' };
  setAnnotationJson(vs, ANNOTATION.rollout, all);
}

function checkReady(s: Situation, snapshot: Snapshot, subset: string, force: boolean | undefined): Readiness {
  const labels = s.createSubsets.includes(subset) ? { version: subset } : undefined;
  const r = subsetReadiness(snapshot, s.target, s.dr, subset, labels);
  if ((r.state === 'none' || r.state === 'not-ready') && !force) {
    throw new InputError(`${r.detail}: traffic sent to it would fail`, 'deploy it first, or pass --force to shift anyway');
  }
  if (r.state !== 'ready') s.warnings.push(r.detail);
  return r;
}

function finish(s: Situation, snapshot: Snapshot, roles: Roles, after: Weight[], meta: { stable: string; canary?: string }, readiness: Readiness | undefined, summary: string, abortedAt?: Date): CanaryPlan {
  for (const r of [s.vs, s.dr]) {
    const w = gitopsWarning(r);
    if (w) s.warnings.push(w);
  }
  const dropped = s.current.filter((w) => w.weight > 0 && w.subset !== roles.stable && w.subset !== roles.canary && !after.some((a) => a.subset === w.subset));
  if (dropped.length) s.warnings.push(`the default route no longer sends traffic to ${dropped.map((d) => `${d.subset ?? 'all versions'} (was ${d.weight}%)`).join(', ')}`);
  const edits = [destinationRuleEdit(s, snapshot), virtualServiceEdit(s, snapshot, after, meta, abortedAt)].filter((e): e is Edit => e !== undefined);
  const plan = planOf(snapshot, edits, s.warnings, summary);
  const vsEdit = edits[edits.length - 1] as Edit;
  return { ...plan, target: s.target, stable: roles.stable, canary: roles.canary, virtualService: vsEdit.ref, before: s.current, after, readiness };
}

export function formatWeights(ws: Weight[]): string {
  if (ws.length === 0) return 'no default route: all versions';
  return ws.map((w) => `${w.subset ?? 'all versions'} ${w.weight}%`).join(' / ');
}

/** `canary shift reviews 10%`: 90 % stable, 10 % canary on the default route. */
export function planCanaryShift(input: ShiftInput): CanaryPlan {
  const s = situation(input.snapshot, input.service);
  const roles = resolveRoles(s, input.to, input.from);
  const readiness = input.weight > 0 ? checkReady(s, input.snapshot, roles.canary, input.force) : undefined;
  const after: Weight[] = [
    { subset: roles.stable, weight: 100 - input.weight },
    { subset: roles.canary, weight: input.weight },
  ];
  const summary = `${s.target.name}: ${formatWeights(after)} (was ${formatWeights(s.current)})`;
  return finish(s, input.snapshot, roles, after, { stable: roles.stable, canary: roles.canary }, readiness, summary);
}

export interface EndInput {
  snapshot: Snapshot;
  service: string;
  to?: string | undefined;
  from?: string | undefined;
  force?: boolean | undefined;
  /** When given, a progressing `canary rollout` of the service is marked aborted at this time. */
  now?: Date | undefined;
}

function endRoles(s: Situation, input: EndInput, verb: 'promote' | 'roll back'): Roles {
  const named = s.current.filter((w) => w.subset !== undefined);
  // The subset that gets all traffic, when named, is enough: --to for promote, --from for rollback.
  const named100 = verb === 'promote' ? input.to : input.from;
  if (named100 === undefined && input.to === undefined && !s.meta.canary && named.length < 2) {
    throw new UsageError(
      `no canary in progress for ${s.target.name} (default route: ${formatWeights(s.current)})`,
      verb === 'promote' ? 'name the subset to send all traffic to with --to SUBSET to promote anyway' : 'name the subset to send all traffic to with --from SUBSET to roll back anyway',
    );
  }
  return resolveRoles(s, input.to, input.from);
}

/** `canary promote reviews`: all traffic to the canary, which becomes the new stable. */
export function planCanaryPromote(input: EndInput): CanaryPlan {
  const s = situation(input.snapshot, input.service);
  const roles = endRoles(s, input, 'promote');
  const readiness = checkReady(s, input.snapshot, roles.canary, input.force);
  const after: Weight[] = [{ subset: roles.canary, weight: 100 }];
  const summary = `${s.target.name}: promoted ${roles.canary} to 100% (was ${formatWeights(s.current)})`;
  return finish(s, input.snapshot, roles, after, { stable: roles.canary }, readiness, summary, input.now);
}

/** `canary rollback reviews`: all traffic back to the stable subset. */
export function planCanaryRollback(input: EndInput): CanaryPlan {
  const s = situation(input.snapshot, input.service);
  const roles = endRoles(s, input, 'roll back');
  const after: Weight[] = [{ subset: roles.stable, weight: 100 }];
  const summary = `${s.target.name}: rolled back to ${roles.stable} 100% (was ${formatWeights(s.current)})`;
  return finish(s, input.snapshot, roles, after, { stable: roles.stable }, undefined, summary, input.now);
}
