/**
 * The I/O edge shared by the traffic commands (canary, inject fault, route, resilience): load what
 * a plan needs from the ConfigStore, write the plan's edits through `store.modify` (so a lost race
 * re-runs the edit on fresh data), read the result back, and show before -> after.
 */
import type { Context } from '../context.js';
import type { Resource } from '../api/resource.js';
import { displayRef } from '../api/resource.js';
import { ClusterError, ForbiddenError } from '../core/errors.js';
import type { Change, Plan, Snapshot } from '../core/traffic/model.js';
import type { CommandOutput } from './spec.js';

/** Every object in the namespace the traffic plans read. */
export async function loadSnapshot(ctx: Context): Promise<Snapshot> {
  const store = await ctx.store();
  const namespace = await ctx.namespace();
  // Workloads only feed the readiness check and subset discovery: without permission to read them
  // the plan still works and says it could not check.
  const optional = async (kind: string, mayBeMissing = false): Promise<Resource[]> => {
    try {
      return await store.list(kind, namespace);
    } catch (err) {
      // A cluster may serve VirtualServices without the ServiceEntry/WorkloadEntry CRDs (a trimmed
      // CRD set): then no service is defined by them, which is not a reason to fail.
      if (mayBeMissing && err instanceof ClusterError && err.code === 'E_KIND_NOT_INSTALLED') {
        ctx.debug(`${kind} is not served by this cluster: ${err.message}`);
        return [];
      }
      if (err instanceof ForbiddenError) {
        ctx.debug(`cannot list ${kind}s in ${namespace}: ${err.message}`);
        return [];
      }
      throw err;
    }
  };
  const [virtualServices, destinationRules, services, deployments, pods, serviceEntries, workloadEntries] = await Promise.all([
    store.list('VirtualService', namespace),
    store.list('DestinationRule', namespace),
    optional('Service'),
    optional('Deployment'),
    optional('Pod'),
    // Services outside Kubernetes (local processes, VMs) are ServiceEntries backed by WorkloadEntries.
    optional('ServiceEntry', true),
    optional('WorkloadEntry', true),
  ]);
  return { namespace, virtualServices, destinationRules, services, deployments, pods, serviceEntries, workloadEntries };
}

export interface Applied {
  dryRun: boolean;
  changes: Change[];
  /** Objects actually written (changed ones only). */
  written: string[];
  /** Writes that lost a race and were redone on fresh data. */
  retries: number;
  readBack: 'confirmed' | 'changed-since' | 'skipped';
}

/**
 * Writes the plan (or, with dryRun, nothing). Warnings go to stderr first, so a person sees them
 * before the result. Each object is read back after writing to confirm the store holds it.
 */
export async function applyPlan(ctx: Context, plan: Plan, dryRun: boolean): Promise<Applied> {
  for (const w of plan.warnings) ctx.info(`Warning: ${w}`);
  if (dryRun) return { dryRun, changes: plan.changes, written: [], retries: 0, readBack: 'skipped' };
  const store = await ctx.store();
  const changes: Change[] = [];
  const written: string[] = [];
  let retries = 0;
  let readBack: Applied['readBack'] = 'confirmed';
  for (const edit of plan.edits) {
    const result = await store.modify(edit.ref, edit.mutate);
    retries += result.retries;
    changes.push({ ref: edit.ref, before: result.before, after: result.after ?? result.before });
    if (!result.changed) continue;
    written.push(displayRef(edit.ref));
    const stored = await store.get(edit.ref);
    if (canonical(stored?.spec) !== canonical(result.after?.spec)) {
      readBack = 'changed-since';
      ctx.info(`Warning: ${displayRef(edit.ref)} changed again right after this write (another writer); run the command again to see its state`);
    }
  }
  return { dryRun, changes, written, retries, readBack };
}

/** The text a person sees: summary, the diff, and whether anything was written. */
export async function describe(ctx: Context, summary: string, applied: Applied, data: Record<string, unknown>): Promise<CommandOutput> {
  const { renderDiff } = await import('../ui/diff.js');
  const diff = renderDiff(applied.changes, { color: ctx.io.color });
  const tail = applied.dryRun
    ? 'dry run: nothing written'
    : applied.written.length
      ? `written: ${applied.written.join(', ')}${applied.retries ? ` (after ${applied.retries} conflict retr${applied.retries === 1 ? 'y' : 'ies'})` : ''}`
      : 'nothing to change';
  return {
    data: {
      ...data,
      dryRun: applied.dryRun,
      written: applied.written,
      conflictRetries: applied.retries,
      readBack: applied.readBack,
      changes: applied.changes.map((c) => ({ ref: c.ref, before: c.before ?? null, after: c.after ?? null })),
    },
    text: `${summary}\n${diff}${tail}\n`,
  };
}

/** JSON with sorted keys: the store may keep keys in another order than the plan wrote them. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    typeof x === 'object' && x !== null && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x,
  );
}
