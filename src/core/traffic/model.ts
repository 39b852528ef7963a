/**
 * The parts of VirtualService, DestinationRule, Service and workload objects that traffic plans
 * read and write, and the lookups every plan shares: which VirtualService routes a service, which
 * route is its default, which subsets exist, which workloads a subset selects.
 * Pure: plain objects in, plain objects out; no store, no clock.
 */
import { fqdn, hostMatches, normalizeHost, serviceOfHost, subsetsOf, type SubsetLike } from '../../api/hosts.js';
import type { Resource, ResourceRef } from '../../api/resource.js';
import { inlineEndpoints, selectsWorkloadEntry, serviceEntryHosts, workloadEntryLabels } from '../../api/service-entry.js';
import { InputError, NotFoundError, UsageError, closest } from '../errors.js';

/** Annotation and label keys meshctl writes; the proxy helper uses the same `meshctl.io/` prefix. */
export const ANNOTATION = {
  /** JSON `{ "<service fqdn>": { "stable": "v1", "canary": "v2" } }`: who is stable and canary. */
  canary: 'meshctl.io/canary',
  /** JSON `{ "<route name>": "<RFC 3339 time>" }`: when each meshctl fault rule stops applying. */
  faultExpires: 'meshctl.io/fault-expires',
  /** JSON rollout state (see rollout.ts). */
  rollout: 'meshctl.io/rollout',
} as const;
export const MANAGED_BY = { key: 'app.kubernetes.io/managed-by', value: 'meshctl' } as const;
export const FAULT_ROUTE_PREFIX = 'meshctl-fault-';

export interface Destination {
  host?: string;
  subset?: string;
  port?: { number?: number };
  [key: string]: unknown;
}
export interface RouteDestination {
  destination?: Destination;
  weight?: number;
  [key: string]: unknown;
}
export interface StringMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}
export interface HTTPMatchRequest {
  name?: string;
  uri?: StringMatch;
  headers?: Record<string, StringMatch>;
  sourceLabels?: Record<string, string>;
  [key: string]: unknown;
}
export interface HTTPRoute {
  name?: string;
  match?: HTTPMatchRequest[];
  route?: RouteDestination[];
  fault?: {
    delay?: { fixedDelay?: string; percentage?: { value?: number } };
    abort?: { httpStatus?: number; percentage?: { value?: number } };
  };
  mirror?: Destination;
  mirrorPercentage?: { value?: number };
  timeout?: string;
  retries?: { attempts?: number; perTryTimeout?: string; retryOn?: string };
  [key: string]: unknown;
}
export interface VirtualServiceSpec {
  hosts?: string[];
  gateways?: string[];
  http?: HTTPRoute[];
  [key: string]: unknown;
}
export interface DestinationRuleSpec {
  host?: string;
  subsets?: SubsetLike[];
  trafficPolicy?: Record<string, unknown>;
  [key: string]: unknown;
}

/** What a plan needs to know about one namespace, loaded by the command from the store. */
export interface Snapshot {
  namespace: string;
  services: Resource[];
  virtualServices: Resource[];
  destinationRules: Resource[];
  deployments: Resource[];
  pods: Resource[];
  /** Services outside Kubernetes (local processes, VMs): hosts, and WorkloadEntries as instances. */
  serviceEntries?: Resource[];
  workloadEntries?: Resource[];
}

/** One object a plan writes: `mutate` runs on the current stored object, again on every conflict. */
export interface Edit {
  ref: ResourceRef;
  mutate(current: Resource | undefined): Resource | undefined;
}

/** A plan: the edits to apply, plus what the snapshot looks like before and after them. */
export interface Plan {
  edits: Edit[];
  changes: Change[];
  /** For people, on stderr: GitOps owners, readiness that could not be checked, dropped routes. */
  warnings: string[];
  summary: string;
}
export interface Change {
  ref: ResourceRef;
  before: Resource | undefined;
  after: Resource | undefined;
}

/** Runs the edits over the snapshot's objects, the way the store will run them over fresh ones. */
export function planOf(snapshot: Snapshot, edits: Edit[], warnings: string[], summary: string): Plan {
  const changes = edits.map((e) => {
    const before = findObject(snapshot, e.ref);
    return { ref: e.ref, before, after: e.mutate(before === undefined ? undefined : clone(before)) ?? before };
  });
  return { edits, changes, warnings, summary };
}

export function findObject(snapshot: Snapshot, ref: ResourceRef): Resource | undefined {
  const list =
    ref.kind === 'VirtualService'
      ? snapshot.virtualServices
      : ref.kind === 'DestinationRule'
        ? snapshot.destinationRules
        : ref.kind === 'ServiceEntry'
          ? (snapshot.serviceEntries ?? [])
          : snapshot.services;
  return list.find((r) => r.metadata.name === ref.name && (r.metadata.namespace ?? snapshot.namespace) === (ref.namespace ?? snapshot.namespace));
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}

export function vsSpec(vs: Resource): VirtualServiceSpec {
  const s = vs.spec;
  return typeof s === 'object' && s !== null ? (s as VirtualServiceSpec) : {};
}
export function drSpec(dr: Resource): DestinationRuleSpec {
  const s = dr.spec;
  return typeof s === 'object' && s !== null ? (s as DestinationRuleSpec) : {};
}
function nsOf(r: Resource, fallback: string): string {
  return r.metadata.namespace ?? fallback;
}

/** The service a command names, resolved against the snapshot. */
export interface Target {
  /** As people read it: the short name for a host in the namespace, else the host (`reviews.example.internal`). */
  name: string;
  namespace: string;
  /** `reviews.default.svc.cluster.local`, or the ServiceEntry host. */
  host: string;
  /** What defines it: a Kubernetes Service, or a ServiceEntry whose instances are WorkloadEntries. */
  kind: 'Service' | 'ServiceEntry';
  /** The ServiceEntry, for kind ServiceEntry. */
  serviceEntry?: Resource | undefined;
  /** Service selector (or `app: name` when the store holds no Service object); {} for a ServiceEntry. */
  selector: Record<string, string>;
  /** A valid object name for VirtualServices/DestinationRules meshctl creates for it. */
  objectName: string;
}

const HOST = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\.?$/i;

/**
 * Resolves what a command names to a service in the snapshot's namespace. `reviews` is the host
 * `reviews.<ns>.svc.cluster.local`; a name with dots (`reviews.example.internal`) is taken as given.
 * The host is defined by a Service object, else by a ServiceEntry host (as the compiler reads them:
 * Kubernetes Services win), else it is still accepted when a VirtualService or DestinationRule
 * names it (a file mesh without Service objects). Anything else is exit 65 with the closest host.
 */
export function resolveTarget(snapshot: Snapshot, name: string): Target {
  if (!HOST.test(name)) {
    throw new UsageError(`"${name}" is not a service name`, 'name a Kubernetes Service or a ServiceEntry host in the namespace (-n), e.g. "reviews" or "reviews.example.internal"');
  }
  const ns = snapshot.namespace;
  const host = fqdn(name, ns);
  // A host in this namespace reads (and is written in new objects) by its short name.
  const inNs = serviceOfHost(host);
  const short = inNs && inNs.namespace === ns ? inNs.name : undefined;
  const display = short ?? host;
  const objectName = short ?? (host.split('.')[0] || 'service');
  const svc = short !== undefined ? snapshot.services.find((s) => s.metadata.name === short) : undefined;
  if (svc) {
    const spec = (svc.spec ?? {}) as { selector?: Record<string, string> };
    return { name: display, namespace: ns, host, kind: 'Service', selector: spec.selector && Object.keys(spec.selector).length ? spec.selector : { app: display }, objectName };
  }
  const se = (snapshot.serviceEntries ?? []).find((e) => (e.metadata.namespace ?? ns) === ns && serviceEntryHosts(e).includes(host));
  if (se) return { name: display, namespace: ns, host, kind: 'ServiceEntry', serviceEntry: se, selector: {}, objectName };
  const mentioned =
    snapshot.virtualServices.some((vs) => (vsSpec(vs).hosts ?? []).some((h) => fqdn(h, nsOf(vs, ns)) === host)) ||
    snapshot.destinationRules.some((dr) => typeof drSpec(dr).host === 'string' && fqdn(drSpec(dr).host ?? '', nsOf(dr, ns)) === host);
  if (mentioned) return { name: display, namespace: ns, host, kind: 'Service', selector: { app: objectName }, objectName };
  throw notFound(snapshot, name, host);
}

/** "Not found", suggesting a host that exists, written as a command would take it, never the name itself. */
function notFound(snapshot: Snapshot, name: string, host: string): NotFoundError {
  const ns = snapshot.namespace;
  const asTyped = (h: string): string => {
    const s = serviceOfHost(h);
    return s && s.namespace === ns ? s.name : h;
  };
  const known = new Set(snapshot.services.map((s) => s.metadata.name));
  for (const se of snapshot.serviceEntries ?? []) if ((se.metadata.namespace ?? ns) === ns) for (const h of serviceEntryHosts(se)) if (!h.startsWith('*')) known.add(asTyped(h));
  for (const vs of snapshot.virtualServices) for (const h of vsSpec(vs).hosts ?? []) if (!h.startsWith('*')) known.add(asTyped(fqdn(h, nsOf(vs, ns))));
  const candidates = [...known].filter((c) => c !== name && fqdn(c, ns) !== host);
  // The short name of a ServiceEntry host (`reviews` for `reviews.example.internal`) is the usual
  // slip, and too far from the host for an edit distance: suggest it by its first label.
  const byLabel = candidates.filter((c) => c.includes('.') && normalizeHost(c).split('.')[0] === normalizeHost(name));
  const near = byLabel.length === 1 ? byLabel[0] : closest(name, candidates);
  // A ServiceEntry host written short is taken literally (by Istio and by the compiler), while a
  // rule's short host means <name>.<ns>.svc.cluster.local: no route could ever name it.
  const literal = (snapshot.serviceEntries ?? []).find((e) => (e.metadata.namespace ?? ns) === ns && !name.includes('.') && serviceEntryHosts(e).includes(normalizeHost(name)));
  if (literal) {
    return new NotFoundError(
      `service "${name}" not found in namespace "${ns}": ServiceEntry ${literal.metadata.name} has the short host "${name}", which routes cannot name (a short host in a VirtualService or DestinationRule means "${host}")`,
      `write the host in full in ServiceEntry ${literal.metadata.name} (e.g. "${host}" or "${name}.example.internal")`,
    );
  }
  const looked = serviceOfHost(host)?.namespace === ns ? `no Service "${serviceOfHost(host)?.name ?? name}" and no ServiceEntry with host "${host}"` : `no ServiceEntry with host "${host}"`;
  return new NotFoundError(
    `service "${name}" not found in namespace "${ns}": ${looked}`,
    near ? `did you mean "${near}"?` : 'check the name and the namespace (-n); a ServiceEntry host is named in full, e.g. "reviews.example.internal"',
  );
}

/**
 * The VirtualService that routes the target for sidecars: one in the service's namespace whose
 * hosts name it exactly (short or long form) and that is not bound only to gateways. Istio uses the
 * oldest when several claim a host; so does meshctl, with a warning.
 */
export function findVirtualService(snapshot: Snapshot, target: Target, warnings: string[]): Resource | undefined {
  const found = snapshot.virtualServices
    .filter((vs) => {
      const spec = vsSpec(vs);
      const meshBound = !spec.gateways || spec.gateways.length === 0 || spec.gateways.includes('mesh');
      return meshBound && (spec.hosts ?? []).some((h) => !h.startsWith('*') && hostMatches(fqdn(h, nsOf(vs, snapshot.namespace)), target.host));
    })
    .sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || a.metadata.name.localeCompare(b.metadata.name));
  if (found.length > 1) {
    warnings.push(
      `several VirtualServices route ${target.name}: ${found.map((v) => v.metadata.name).join(', ')}; using the oldest, ${found[0]?.metadata.name}, as Istio does`,
    );
  }
  return found[0];
}

export function findDestinationRule(snapshot: Snapshot, target: Target): Resource | undefined {
  return snapshot.destinationRules
    .filter((dr) => typeof drSpec(dr).host === 'string' && fqdn(drSpec(dr).host ?? '', nsOf(dr, snapshot.namespace)) === target.host)
    .sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || a.metadata.name.localeCompare(b.metadata.name))[0];
}

/** A free object name for something meshctl creates: the service's own name unless it is taken. */
export function freeName(existing: Resource[], wanted: string): string {
  const taken = new Set(existing.map((r) => r.metadata.name));
  if (!taken.has(wanted)) return wanted;
  for (let i = 1; i < 100; i++) if (!taken.has(`${wanted}-meshctl-${i}`)) return `${wanted}-meshctl-${i}`;
  return `${wanted}-meshctl-${existing.length}`;
}

/** A match that every request satisfies: no conditions, or only `uri: { prefix: "/" }`. */
function matchesAll(m: HTTPMatchRequest): boolean {
  const keys = Object.keys(m).filter((k) => k !== 'name' && k !== 'ignoreUriCase');
  if (keys.length === 0) return true;
  return keys.length === 1 && keys[0] === 'uri' && m.uri?.prefix === '/' && Object.keys(m.uri).length === 1;
}

export function isCatchAll(route: HTTPRoute): boolean {
  return !route.match || route.match.length === 0 || route.match.some(matchesAll);
}

export function isFaultRoute(route: HTTPRoute): boolean {
  return typeof route.name === 'string' && route.name.startsWith(FAULT_ROUTE_PREFIX);
}

/**
 * The index of the service's default route: the first catch-all route (routes are first-match, so
 * anything after it is unreachable), not counting meshctl's own fault rules. -1 when there is none.
 */
export function defaultRouteIndex(spec: VirtualServiceSpec): number {
  return (spec.http ?? []).findIndex((r) => isCatchAll(r) && !isFaultRoute(r) && r.route !== undefined);
}

/** Whether a destination (written in a rule in `ns`) is the target service. */
export function isTargetDestination(d: Destination | undefined, target: Target, ns: string): boolean {
  return typeof d?.host === 'string' && fqdn(d.host, ns) === target.host;
}

/** How a new destination names the target: short inside its own namespace, else fully qualified. */
export function destinationHost(target: Target, vsNamespace: string): string {
  return vsNamespace === target.namespace && !target.name.includes('.') ? target.name : target.host;
}

/** Subset names the target's DestinationRule defines, in order. */
export function definedSubsets(dr: Resource | undefined): string[] {
  return dr ? subsetsOf(dr).flatMap((s) => (typeof s.name === 'string' ? [s.name] : [])) : [];
}

export function requireSubset(name: string, defined: string[], target: Target, flag: string): void {
  if (defined.includes(name)) return;
  const near = closest(name, defined);
  throw new InputError(
    `subset "${name}" (${flag}) is not defined by any DestinationRule for ${target.name}`,
    defined.length ? `defined subsets: ${defined.join(', ')}${near ? `; did you mean "${near}"?` : ''}` : 'no DestinationRule defines subsets for it: create one, or let "canary shift" create it from the workloads\' version labels',
  );
}

function labelsOf(r: Resource): Record<string, string> {
  return r.metadata.labels ?? {};
}
function templateLabels(d: Resource): Record<string, string> {
  const spec = d.spec as { template?: { metadata?: { labels?: Record<string, string> } } } | undefined;
  return spec?.template?.metadata?.labels ?? {};
}
function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** One instance (or group of instances) of the service, as far as subsets and readiness go. */
export interface Workload {
  kind: 'Deployment' | 'Pod' | 'WorkloadEntry' | 'endpoint';
  /** The object (for an inline endpoint: its ServiceEntry). */
  resource: Resource;
  /** Object name, or the address of an inline ServiceEntry endpoint. */
  name: string;
  labels: Record<string, string>;
}

/**
 * The service's instances: for a Service, the Deployments and Pods its selector selects; for a
 * ServiceEntry, its inline endpoints and the WorkloadEntries its workloadSelector selects (the
 * same reading as the compiler's, from api/service-entry.ts).
 */
export function workloadsOf(snapshot: Snapshot, target: Target): Workload[] {
  const se = target.serviceEntry;
  if (target.kind === 'ServiceEntry' && se) {
    return [
      ...inlineEndpoints(se).map((e) => ({ kind: 'endpoint' as const, resource: se, name: e.address, labels: e.labels })),
      ...(snapshot.workloadEntries ?? [])
        .filter((we) => selectsWorkloadEntry(se, we, snapshot.namespace))
        .map((we) => ({ kind: 'WorkloadEntry' as const, resource: we, name: we.metadata.name, labels: workloadEntryLabels(we) })),
    ];
  }
  return [
    ...snapshot.deployments.map((d) => ({ kind: 'Deployment' as const, resource: d, name: d.metadata.name, labels: templateLabels(d) })),
    ...snapshot.pods.map((p) => ({ kind: 'Pod' as const, resource: p, name: p.metadata.name, labels: labelsOf(p) })),
  ].filter((w) => selects(target.selector, w.labels));
}

/** The distinct `version` labels of the service's workloads, in natural order (v1 < v2 < v10). */
export function workloadVersions(snapshot: Snapshot, target: Target): string[] {
  const versions = new Set(workloadsOf(snapshot, target).flatMap((w) => (w.labels.version ? [w.labels.version] : [])));
  return [...versions].sort(naturalCompare);
}

export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

export type Readiness =
  | { state: 'ready'; detail: string }
  /** Only WorkloadEntries without health status: ready as far as anyone knows (the proxy sends to them). */
  | { state: 'assumed'; detail: string }
  | { state: 'not-ready'; detail: string }
  | { state: 'unknown'; detail: string }
  | { state: 'none'; detail: string }
  | { state: 'unchecked'; detail: string };

/**
 * Whether a subset selects ready workloads. "unchecked" when the store holds no workloads for the
 * service at all (a file mesh without Deployments, a cluster where they live elsewhere); "unknown"
 * when workloads match but carry no status (no controller has reported on them yet).
 */
export function subsetReadiness(snapshot: Snapshot, target: Target, dr: Resource | undefined, subset: string, subsetLabels?: Record<string, string>): Readiness {
  const all = workloadsOf(snapshot, target);
  const kinds = target.kind === 'ServiceEntry' ? 'WorkloadEntries or endpoints' : 'Deployments or Pods';
  if (all.length === 0) return { state: 'unchecked', detail: `the store holds no ${kinds} for ${target.name}, so readiness of subset ${subset} cannot be checked` };
  const labels = subsetLabels ?? (dr ? subsetsOf(dr).find((s) => s.name === subset)?.labels : undefined) ?? {};
  const matching = all.filter((w) => selects(labels, w.labels));
  if (matching.length === 0) return { state: 'none', detail: `subset ${subset} (${fmtLabels(labels)}) selects no workloads of ${target.name}` };
  let unknown = 0;
  const assumed: string[] = [];
  for (const w of matching) {
    const r = workloadReady(w.kind, w.resource);
    if (r === true) return { state: 'ready', detail: `${w.kind} ${w.name} is ready` };
    if (r === undefined && (w.kind === 'WorkloadEntry' || w.kind === 'endpoint')) assumed.push(`${w.kind} ${w.name}`);
    else if (r === undefined) unknown++;
  }
  // A WorkloadEntry reports health only when Istio health checks run for it (a "Healthy"
  // condition); without one the proxy sends it traffic, so it counts as ready, said out loud.
  if (assumed.length > 0) {
    const them = assumed.length === 1 ? `${assumed[0] ?? ''} reports` : `${assumed.join(', ')} report`;
    return { state: 'assumed', detail: `subset ${subset}: ${them} no health (no health check), so treated as ready` };
  }
  return unknown > 0
    ? { state: 'unknown', detail: `subset ${subset} selects ${matching.length} workload(s) that report no status yet, so readiness cannot be checked` }
    : target.kind === 'ServiceEntry'
      ? { state: 'not-ready', detail: `subset ${subset} selects ${matching.length} WorkloadEntry(s) and the health checks of all of them fail` }
      : { state: 'not-ready', detail: `subset ${subset} selects ${matching.length} workload(s) but none is ready` };
}

function workloadReady(kind: Workload['kind'], r: Resource): boolean | undefined {
  if (kind === 'endpoint') return undefined;
  const status = r.status as { readyReplicas?: number; replicas?: number; conditions?: { type?: string; status?: string }[] } | undefined;
  if (!status || Object.keys(status).length === 0) return undefined;
  if (kind === 'Deployment') return (status.readyReplicas ?? 0) > 0;
  const ready = status.conditions?.find((c) => c.type === (kind === 'WorkloadEntry' ? 'Healthy' : 'Ready'));
  return ready ? ready.status === 'True' : undefined;
}

export function fmtLabels(labels: Record<string, string>): string {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',') || 'no labels';
}

/** Labels and annotations by which Argo CD and Flux mark objects they own (and would revert). */
const GITOPS_MARKERS: readonly { key: string; where: 'labels' | 'annotations'; tool: string }[] = [
  { key: 'argocd.argoproj.io/tracking-id', where: 'annotations', tool: 'Argo CD' },
  { key: 'argocd.argoproj.io/instance', where: 'labels', tool: 'Argo CD' },
  { key: 'argocd.argoproj.io/instance', where: 'annotations', tool: 'Argo CD' },
  { key: 'kustomize.toolkit.fluxcd.io/name', where: 'labels', tool: 'Flux' },
  { key: 'helm.toolkit.fluxcd.io/name', where: 'labels', tool: 'Flux' },
];

/** A warning when a GitOps tool owns the object: it will probably put the old spec back. */
export function gitopsWarning(r: Resource | undefined): string | undefined {
  if (!r) return undefined;
  for (const m of GITOPS_MARKERS) {
    const value = r.metadata[m.where]?.[m.key];
    if (value !== undefined) {
      return `${r.kind} ${r.metadata.name} is managed by ${m.tool} (${m.key}=${value}): it may revert this change; make it in Git too`;
    }
  }
  return undefined;
}

/** Reads the JSON object stored in an annotation; {} when absent or not JSON. */
export function annotationJson(r: Resource | undefined, key: string): Record<string, unknown> {
  const raw = r?.metadata.annotations?.[key];
  if (!raw) return {};
  try {
    const v: unknown = JSON.parse(raw);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export function setAnnotationJson(r: Resource, key: string, value: Record<string, unknown>): void {
  const annotations = { ...(r.metadata.annotations ?? {}) };
  if (Object.keys(value).length === 0) delete annotations[key];
  else annotations[key] = JSON.stringify(value);
  if (Object.keys(annotations).length) r.metadata.annotations = annotations;
  else delete r.metadata.annotations;
}

/** A new VirtualService for the target with one default route to the service (all versions). */
export function newVirtualService(snapshot: Snapshot, target: Target): Resource {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: freeName(snapshot.virtualServices, target.objectName), namespace: target.namespace, labels: { [MANAGED_BY.key]: MANAGED_BY.value } },
    spec: { hosts: [target.name], http: [{ route: [{ destination: { host: target.name } }] }] },
  };
}

export function vsRef(vs: Resource, snapshot: Snapshot): ResourceRef {
  return { kind: 'VirtualService', namespace: vs.metadata.namespace ?? snapshot.namespace, name: vs.metadata.name };
}

/** Strips fields the store owns, so a new object can be created from a planned one. */
export function forCreate(r: Resource): Resource {
  const c = clone(r);
  delete c.metadata.resourceVersion;
  delete c.metadata.uid;
  delete c.metadata.creationTimestamp;
  delete c.metadata.generation;
  return c;
}
