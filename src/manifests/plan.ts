import { isDeepStrictEqual } from 'node:util';
import type { Resource, ResourceRef } from '../api/resource.js';
import { kindRank, MANAGED_BY, PART_OF } from './render.js';

/**
 * What an install will do, worked out before the first write: pure functions over the rendered
 * objects, what the cluster holds and what a server-side dry run says each apply would produce.
 */

export type Action = 'create' | 'update' | 'unchanged' | 'prune';

export interface PlanEntry {
  action: Action;
  ref: ResourceRef;
  /** The object to apply (create/update); undefined for prune. */
  desired?: Resource;
  /** Line diff of the object as stored vs as it would be stored (updates only). */
  diff?: string;
  /** Set when the dry run could not run yet (its namespace or CRD is created by this same install). */
  unvalidated?: string;
  /** Set when this update adopts an object someone else made (see ADOPTED). */
  adopts?: boolean;
}

/**
 * Marks an object that existed before meshctl installed (an Istio install's CRDs, a namespace the
 * platform team made): meshctl applies its fields to it but never deletes it; uninstall only takes
 * meshctl's labels off.
 */
export const ADOPTED = 'meshctl.dev/adopted';

/** Metadata the server owns; differences in these are not changes anyone asked for. */
const VOLATILE_METADATA = ['managedFields', 'resourceVersion', 'generation', 'creationTimestamp', 'uid', 'selfLink'];

/** The object without server bookkeeping (and without status), for comparing and showing. */
export function normalize(r: Resource): Resource {
  const { status: _status, ...rest } = structuredClone(r);
  const metadata = { ...rest.metadata };
  for (const k of VOLATILE_METADATA) delete metadata[k];
  return { ...rest, metadata };
}

export function sameObject(a: Resource, b: Resource): boolean {
  return isDeepStrictEqual(normalize(a), normalize(b));
}

export function refKey(ref: ResourceRef): string {
  return `${ref.kind}/${ref.namespace ?? ''}/${ref.name}`;
}

/**
 * The desired object with the adoption mark kept or added: an object that exists without meshctl's
 * label (or already carries the mark) was someone else's first, and stays theirs on uninstall.
 */
export function withAdoption(desired: Resource, current: Resource | undefined): Resource {
  if (!current) return desired;
  if (!isAdopted(current) && current.metadata.labels?.[MANAGED_BY] === 'meshctl') return desired;
  return { ...desired, metadata: { ...desired.metadata, annotations: { ...desired.metadata.annotations, [ADOPTED]: 'true' } } };
}

export function isAdopted(r: Resource): boolean {
  return r.metadata.annotations?.[ADOPTED] === 'true';
}

/** A JSON merge patch that takes meshctl's labels and mark off an adopted object it leaves behind. */
export function releasePatch(): Record<string, unknown> {
  const labels = ['app.kubernetes.io/name', PART_OF, MANAGED_BY, 'app.kubernetes.io/version'];
  return { metadata: { labels: Object.fromEntries(labels.map((l) => [l, null])), annotations: { [ADOPTED]: null } } };
}

/**
 * Installed objects that the new render no longer has, deleted last-applied-first. CRDs are never
 * pruned (their objects would go with them), nor adopted objects (not meshctl's to delete).
 */
export function pruneCandidates(installed: readonly Resource[], rendered: readonly Resource[]): Resource[] {
  const keep = new Set(rendered.map((r) => refKey({ kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name })));
  return installed
    .filter((r) => r.kind !== 'CustomResourceDefinition' && !isAdopted(r))
    .filter((r) => !keep.has(refKey({ kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name })))
    .sort((a, b) => kindRank(b.kind) - kindRank(a.kind) || a.metadata.name.localeCompare(b.metadata.name));
}

export function summarize(entries: readonly PlanEntry[]): Record<Action, number> {
  const out: Record<Action, number> = { create: 0, update: 0, unchanged: 0, prune: 0 };
  for (const e of entries) out[e.action]++;
  return out;
}

export function describeRef(ref: ResourceRef): string {
  return ref.namespace ? `${ref.kind} ${ref.namespace}/${ref.name}` : `${ref.kind} ${ref.name}`;
}

/**
 * Every field the render sets has the same value in the cluster (extra fields the server defaults
 * are fine). verify-install uses this: it needs only read access, unlike a dry-run apply.
 */
export function containsDesired(actual: unknown, desired: unknown): string | true {
  return walk(actual, desired, '');
}

function walk(actual: unknown, desired: unknown, path: string): string | true {
  if (desired === null || typeof desired !== 'object') {
    if (actual === desired) return true;
    // The API server writes quantities and int-or-strings back as strings: 1 and "1" are the same.
    if ((typeof desired === 'number' || typeof actual === 'number') && String(actual) === String(desired)) return true;
    return `${path || '(object)'}: want ${JSON.stringify(desired)}, found ${JSON.stringify(actual) ?? 'nothing'}`;
  }
  if (Array.isArray(desired)) {
    if (!Array.isArray(actual)) return `${path}: want a list, found ${JSON.stringify(actual) ?? 'nothing'}`;
    if (actual.length !== desired.length) return `${path}: want ${desired.length} items, found ${actual.length}`;
    for (let i = 0; i < desired.length; i++) {
      const r = walk(actual[i], desired[i], `${path}[${i}]`);
      if (r !== true) return r;
    }
    return true;
  }
  if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return `${path}: want a map, found ${JSON.stringify(actual) ?? 'nothing'}`;
  for (const [k, v] of Object.entries(desired)) {
    const r = walk((actual as Record<string, unknown>)[k], v, path ? `${path}.${k}` : k);
    if (r !== true) return r;
  }
  return true;
}
