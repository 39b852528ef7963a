import type { Resource, ResourceRef } from '../../api/resource.js';
import { DEFAULT_DOMAIN, fqdn, hostMatches, isWildcard, normalizeHost } from '../../api/hosts.js';
import type { Redefinition } from './overlay.js';
import type { InputResource, Snapshot } from './types.js';
import { obj, specOf, str, stringMap, strings } from './util.js';

/** A thing pods run as: a Pod, or the pod template of a Deployment/StatefulSet/DaemonSet/ReplicaSet. */
export interface Workload {
  input: InputResource;
  namespace: string;
  /** Pod labels (the template's for controllers). */
  labels: Record<string, string>;
  podAnnotations: Record<string, string>;
  containers: string[];
  /** True for a running Pod, false for a template. */
  isPod: boolean;
  /** Pods owned by a controller are already represented by their controller in file input. */
  owned: boolean;
  /** The proxy image of an injected pod, if any. */
  proxyImage?: string | undefined;
}

export const WORKLOAD_KINDS = ['DaemonSet', 'Deployment', 'Pod', 'ReplicaSet', 'StatefulSet'] as const;
export const ROOT_NAMESPACE = 'istio-system';

/**
 * The indexed view analyzers query. Built once per run so each analyzer is linear in its own input:
 * hosts are looked up in maps, never by scanning every Service (10k-resource inputs stay fast).
 */
export class AnalysisContext {
  readonly domain: string;
  readonly origin: Snapshot['origin'];
  readonly defaultNamespace: string;
  readonly controlPlaneVersion: string | undefined;
  readonly redefined: readonly Redefinition[];
  readonly #byKind = new Map<string, InputResource[]>();
  readonly #kindNamespaces = new Map<string, Set<string>>();
  readonly #services = new Map<string, InputResource>();
  readonly #seHosts = new Map<string, InputResource[]>();
  readonly #seWildcards: [string, InputResource][] = [];
  readonly #workloadsByNs = new Map<string, Workload[]>();
  readonly #namespaces = new Map<string, InputResource>();
  readonly #unlisted: ReadonlySet<string>;

  constructor(snapshot: Snapshot) {
    this.domain = snapshot.domain ?? DEFAULT_DOMAIN;
    this.origin = snapshot.origin;
    this.defaultNamespace = snapshot.defaultNamespace;
    this.controlPlaneVersion = snapshot.controlPlaneVersion;
    this.redefined = snapshot.redefined ?? [];
    this.#unlisted = new Set(snapshot.unlistedKinds ?? []);
    for (const input of snapshot.resources) {
      const r = input.resource;
      const kind = kindKey(r);
      push(this.#byKind, kind, input);
      // Same kind name, other API (Knative `Service`, Gateway API `Gateway`): kept apart, so no
      // analyzer mistakes it for the Kubernetes or Istio kind.
      if (kind !== r.kind) continue;
      const ns = this.ns(r);
      let set = this.#kindNamespaces.get(r.kind);
      if (!set) this.#kindNamespaces.set(r.kind, (set = new Set()));
      set.add(ns);
      if (r.kind === 'Service') this.#services.set(`${r.metadata.name}.${ns}.svc.${this.domain}`.toLowerCase(), input);
      else if (r.kind === 'ServiceEntry') {
        for (const h of strings(specOf(r).hosts)) {
          const host = fqdn(h, ns, this.domain);
          if (isWildcard(host)) this.#seWildcards.push([host, input]);
          else if (!this.#seHosts.get(host)?.includes(input)) push(this.#seHosts, host, input);
        }
      } else if (r.kind === 'Namespace') this.#namespaces.set(r.metadata.name, input);
      const w = toWorkload(input, ns);
      if (w) push(this.#workloadsByNs, ns, w);
    }
  }

  /** The namespace an object lives in; objects in files without one get -n (or "default"). */
  ns(r: Resource): string {
    return r.metadata.namespace || (r.kind === 'Namespace' ? '' : this.defaultNamespace);
  }

  ref(r: Resource): ResourceRef {
    return { kind: r.kind, name: r.metadata.name, namespace: r.kind === 'Namespace' ? undefined : this.ns(r) };
  }

  of(kind: string): readonly InputResource[] {
    return this.#byKind.get(kind) ?? [];
  }

  /**
   * Whether the snapshot can be trusted to hold every object of `kind` (in `namespace`): always for
   * a cluster; for files only where the files contain some object of that kind (in that namespace),
   * i.e. the author supplied the inventory. Otherwise a "not found" would be a guess.
   */
  knows(kind: string, namespace?: string): boolean {
    if (this.origin === 'cluster') return !this.#unlisted.has(kind);
    const set = this.#kindNamespaces.get(kind);
    if (!set) return false;
    return namespace === undefined ? set.size > 0 : set.has(namespace);
  }

  /** Every namespace some object of the input lives in. */
  inputNamespaces(): Set<string> {
    const out = new Set<string>();
    for (const set of this.#kindNamespaces.values()) for (const ns of set) out.add(ns);
    return out;
  }

  /** Whether workloads (pods or pod templates) of `namespace` are known. */
  knowsWorkloads(namespace?: string): boolean {
    return WORKLOAD_KINDS.some((k) => this.knows(k, namespace));
  }

  fqdn(host: string, namespace: string): string {
    return fqdn(host, namespace, this.domain);
  }

  service(host: string): InputResource | undefined {
    return this.#services.get(normalizeHost(host));
  }

  serviceEntriesFor(host: string): InputResource[] {
    const h = normalizeHost(host);
    const exact = this.#seHosts.get(h) ?? [];
    const wild = this.#seWildcards.filter(([p]) => hostMatches(p, h)).map(([, r]) => r);
    return wild.length ? [...exact, ...wild] : exact;
  }

  /** Every ServiceEntry host (exact), for conflict checks. */
  serviceEntryHosts(): ReadonlyMap<string, InputResource[]> {
    return this.#seHosts;
  }

  /** A host is known when a Service or a ServiceEntry defines it. */
  hostExists(host: string): boolean {
    return this.service(host) !== undefined || this.serviceEntriesFor(host).length > 0;
  }

  /**
   * Whether a "host not found" for `host` would be a fact rather than a guess: a cluster knows every
   * host; files know a service host's namespace only if they define some Service in it, and
   * external hosts only if they contain ServiceEntries.
   */
  canResolve(host: string): boolean {
    if (this.origin === 'cluster') return true;
    const h = normalizeHost(host);
    const suffix = `.svc.${this.domain}`;
    if (h.endsWith(suffix)) {
      const parts = h.slice(0, -suffix.length).split('.');
      const ns = parts[parts.length - 1];
      return ns !== undefined && this.knows('Service', ns);
    }
    return this.knows('ServiceEntry');
  }

  workloadsIn(namespace: string): readonly Workload[] {
    return this.#workloadsByNs.get(namespace) ?? [];
  }

  allWorkloads(): Workload[] {
    return [...this.#workloadsByNs.values()].flat();
  }

  namespace(name: string): InputResource | undefined {
    return this.#namespaces.get(name);
  }

  /**
   * Whether a workload runs (or will run, once created) with a sidecar: an istio-proxy container
   * decides for a Pod; a template is injected when its namespace is labelled for injection unless
   * it opts out. Undefined when the input does not say (the namespace object is missing).
   */
  hasSidecar(w: Workload): boolean | undefined {
    if (w.containers.includes('istio-proxy')) return true;
    if (w.isPod) return false;
    const optIn = w.labels['sidecar.istio.io/inject'] ?? w.podAnnotations['sidecar.istio.io/inject'];
    if (optIn === 'false') return false;
    if (optIn === 'true') return true;
    const ns = this.namespace(w.namespace);
    if (!ns) return this.origin === 'cluster' && this.knows('Namespace') ? false : undefined;
    const labels = stringMap(ns.resource.metadata.labels);
    if (labels['istio-injection'] === 'disabled') return false;
    return labels['istio-injection'] === 'enabled' || labels['istio.io/rev'] !== undefined;
  }

  /** Pods selected by a Service (its spec.selector), in its namespace. */
  serviceWorkloads(svc: InputResource): Workload[] {
    const sel = stringMap(specOf(svc.resource).selector);
    if (Object.keys(sel).length === 0) return [];
    return this.workloadsIn(this.ns(svc.resource)).filter((w) => Object.entries(sel).every(([k, v]) => w.labels[k] === v));
  }
}

/** API groups each kind analyzers read may come from; other groups are a different kind. */
const KIND_GROUPS: Readonly<Record<string, (group: string) => boolean>> = (() => {
  const core = (g: string) => g === '';
  const apps = (g: string) => g === 'apps' || g === 'extensions';
  // Any Istio group: a DestinationRule under security.istio.io is the schema check's to report.
  const istio = (g: string) => g.endsWith('.istio.io');
  const table: Record<string, (group: string) => boolean> = {};
  for (const k of ['ConfigMap', 'Namespace', 'Pod', 'Secret', 'Service', 'ServiceAccount']) table[k] = core;
  for (const k of ['DaemonSet', 'Deployment', 'ReplicaSet', 'StatefulSet']) table[k] = apps;
  for (const k of ['AuthorizationPolicy', 'DestinationRule', 'EnvoyFilter', 'Gateway', 'PeerAuthentication', 'RequestAuthentication', 'ServiceEntry', 'Sidecar', 'Telemetry', 'VirtualService', 'WorkloadEntry', 'WorkloadGroup']) table[k] = istio;
  return table;
})();

/** `Service`, or `serving.knative.dev/Service` for a same-named kind of another API group. */
export function kindKey(r: Resource): string {
  const accepts = KIND_GROUPS[r.kind];
  if (!accepts) return r.kind;
  const slash = typeof r.apiVersion === 'string' ? r.apiVersion.lastIndexOf('/') : -1;
  const group = slash < 0 ? '' : r.apiVersion.slice(0, slash);
  return accepts(group) ? r.kind : `${group}/${r.kind}`;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

function toWorkload(input: InputResource, namespace: string): Workload | undefined {
  const r = input.resource;
  if (!(WORKLOAD_KINDS as readonly string[]).includes(r.kind)) return undefined;
  const isPod = r.kind === 'Pod';
  const podMeta = isPod ? obj(r.metadata) : obj(obj(obj(r.spec)?.template)?.metadata);
  const podSpec = isPod ? obj(r.spec) : obj(obj(obj(r.spec)?.template)?.spec);
  const containers = (Array.isArray(podSpec?.containers) ? podSpec.containers : []).map((c) => obj(c)).filter((c) => c !== undefined);
  const proxy = containers.find((c) => c.name === 'istio-proxy');
  return {
    input,
    namespace,
    labels: stringMap(podMeta?.labels),
    podAnnotations: stringMap(podMeta?.annotations),
    containers: containers.map((c) => str(c.name) ?? ''),
    isPod,
    owned: isPod && Array.isArray(r.metadata.ownerReferences) && r.metadata.ownerReferences.length > 0,
    proxyImage: str(proxy?.image),
  };
}
