import type { Resource } from '../../api/resource.js';
import type { InputResource } from './types.js';

/** An object defined more than once in the input files with different content. */
export interface Redefinition {
  /** The last definition: the one analyzed, as `kubectl apply` of the files in order would leave it. */
  kept: InputResource;
  /** The earlier definitions whose content differs from the kept one, in input order. */
  replaced: InputResource[];
}

export interface Merged {
  resources: InputResource[];
  /** Only between files (`top`): files replacing cluster objects is what an overlay is for. */
  redefined: Redefinition[];
}

/**
 * Overlays `top` (files) on `base` (cluster or snapshot objects): a later object replaces an earlier
 * one with the same kind/namespace/name, as `kubectl apply` would. Replacements among the files
 * themselves are returned too, because the findings about the replaced object would otherwise make
 * no sense to the reader ("subset v2 not found" while another file defines it). An identical copy
 * (the same file given twice) is not a redefinition.
 */
export function overlay(base: readonly InputResource[], top: readonly InputResource[], defaultNamespace: string): Merged {
  // The API group is part of an object's identity (an Istio Gateway and a Gateway API Gateway may
  // share a name); the version is not (v1alpha3 and v1 are the same stored object).
  const group = (r: Resource) => (typeof r.apiVersion === 'string' && r.apiVersion.includes('/') ? r.apiVersion.slice(0, r.apiVersion.lastIndexOf('/')) : '');
  const key = (r: Resource) => `${group(r)}/${r.kind}/${r.metadata.namespace || (r.kind === 'Namespace' ? '' : defaultNamespace)}/${r.metadata.name}`;
  const merged = new Map<string, InputResource>();
  for (const r of base) merged.set(key(r.resource), r);
  const fromTop = new Map<string, InputResource[]>();
  for (const r of top) {
    const k = key(r.resource);
    const list = fromTop.get(k);
    if (list) list.push(r);
    else fromTop.set(k, [r]);
    merged.set(k, r);
  }
  const redefined: Redefinition[] = [];
  for (const defs of fromTop.values()) {
    const kept = defs[defs.length - 1];
    if (!kept || defs.length < 2) continue;
    const ns = (r: Resource) => r.metadata.namespace || (r.kind === 'Namespace' ? '' : defaultNamespace);
    // The namespace as -n places it: `namespace: default` and none (with -n default) are the same object.
    const content = (r: Resource) => canonical({ ...r, metadata: { ...r.metadata, namespace: ns(r) } });
    const last = content(kept.resource);
    const replaced = defs.slice(0, -1).filter((d) => content(d.resource) !== last);
    if (replaced.length) redefined.push({ kept, replaced });
  }
  return { resources: [...merged.values()], redefined };
}

/** JSON with sorted keys: YAML key order and style do not make two definitions different. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x,
  );
}
