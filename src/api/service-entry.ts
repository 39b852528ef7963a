/**
 * How a ServiceEntry names its hosts and selects its instances: the one reading shared by the
 * config compiler (what the proxy routes to) and the traffic commands (what `canary shift` finds),
 * so the two cannot disagree about which WorkloadEntries back a host.
 * Pure: plain objects in, plain objects out.
 */
import { normalizeHost } from './hosts.js';
import type { Resource } from './resource.js';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);
function strMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(obj(v) ?? {})) if (typeof val === 'string') out[k] = val;
  return out;
}

/** The entry's hosts, normalised (case, trailing dot), non-strings dropped. */
export function serviceEntryHosts(se: Resource): string[] {
  const hosts = obj(se.spec)?.hosts;
  return Array.isArray(hosts) ? hosts.filter((h): h is string => typeof h === 'string').map(normalizeHost) : [];
}

/** `workloadSelector.labels`, or undefined when the entry has no workloadSelector (it then uses inline endpoints). */
export function serviceEntrySelector(se: Resource): Record<string, string> | undefined {
  const ws = obj(obj(se.spec)?.workloadSelector);
  return ws ? strMap(ws.labels) : undefined;
}

/**
 * Whether the entry selects this WorkloadEntry: same namespace (Istio never selects across
 * namespaces) and every selector label present on the WorkloadEntry's spec.labels.
 */
export function selectsWorkloadEntry(se: Resource, we: Resource, defaultNamespace = 'default'): boolean {
  const selector = serviceEntrySelector(se);
  const spec = obj(we.spec);
  if (!selector || !spec) return false;
  if ((we.metadata.namespace ?? defaultNamespace) !== (se.metadata.namespace ?? defaultNamespace)) return false;
  const labels = strMap(spec.labels);
  for (const k in selector) if (labels[k] !== selector[k]) return false;
  return true;
}

/** WorkloadEntry labels live in spec.labels (metadata.labels are the object's own, not the instance's). */
export function workloadEntryLabels(we: Resource): Record<string, string> {
  return strMap(obj(we.spec)?.labels);
}

/** The entry's inline `endpoints` that have an address, with their labels. */
export function inlineEndpoints(se: Resource): { address: string; labels: Record<string, string>; raw: Obj }[] {
  const eps = obj(se.spec)?.endpoints;
  if (!Array.isArray(eps)) return [];
  return eps.flatMap((e) => {
    const o = obj(e);
    const address = typeof o?.address === 'string' ? o.address : undefined;
    return o && address ? [{ address, labels: strMap(o.labels), raw: o }] : [];
  });
}
