import { DEFAULT_DOMAIN, fqdn, hostMatches, isWildcard, normalizeHost } from '../../api/hosts.js';
import type { Resource } from '../../api/resource.js';
import { serviceEntrySelector } from '../../api/service-entry.js';
import { byCodeUnit } from '../compare.js';
import { faultActive } from '../traffic/fault-expiry.js';
import { contentHash64 } from './content-hash.js';
import { arr, durationMs, num, obj, percent, str, strMap, type Obj } from './read.js';
import {
  SNAPSHOT_FORMAT,
  type Cluster,
  type ConnectionPool,
  type Endpoint,
  type FaultPolicy,
  type HeaderMatch,
  type HeaderOps,
  type LbPolicy,
  type MirrorPolicy,
  type OutlierDetection,
  type PortRoutes,
  type ProxyIdentity,
  type RetryPolicy,
  type Route,
  type RouteMatch,
  type Snapshot,
  type StringMatch,
  type VirtualHost,
  type WeightedCluster,
} from './snapshot.js';

/** The kinds the compiler reads; a store lists exactly these. */
export const COMPILE_KINDS = ['ConfigMap', 'DestinationRule', 'EndpointSlice', 'Pod', 'Service', 'ServiceEntry', 'VirtualService', 'WorkloadEntry'] as const;

export interface CompileOptions {
  /** This proxy's workload; its labels decide `sourceLabels` matches. */
  workload: string;
  namespace: string;
  /** Labels of the workload when no WorkloadEntry/Pod with that name is found; default {app: workload}. */
  labels?: Record<string, string>;
  outbound?: { address: string; port: number };
  inbound?: { address: string; port: number; appPort?: number | undefined };
  telemetry?: { metrics?: boolean; accessLog?: boolean };
  /** Overrides the mesh config's outboundTrafficPolicy (ConfigMap istio in istio-system, as Istio's). */
  outboundTrafficPolicy?: 'REGISTRY_ONLY' | 'ALLOW_ANY' | undefined;
  domain?: string;
  /**
   * The time faults are judged at: a route's fault whose `meshctl.io/fault-expires` time has passed is
   * dropped (see src/core/traffic/fault-expiry.ts). Undefined keeps every fault; the compiler reads no clock.
   */
  now?: Date | undefined;
}

/** Istio's default retry policy for HTTP routes without `retries` (pilot `DefaultRetryPolicy`). */
export const DEFAULT_RETRIES: RetryPolicy = {
  attempts: 2,
  perTryTimeoutMs: 0,
  retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'],
  retriableStatusCodes: [503],
  nonIdempotent: false,
  backoffBaseMs: 25,
};

/** Istio/Envoy defaults when a DestinationRule sets no connection pool: effectively unlimited. */
const DEFAULT_POOL: ConnectionPool = {
  maxConnections: 0,
  maxPendingRequests: 0,
  maxRequests: 0,
  maxRequestsPerConnection: 0,
  maxRetries: 0,
  connectTimeoutMs: 10_000,
  idleTimeoutMs: 3_600_000,
};

/** A service known to the mesh: a Kubernetes Service or one host of a ServiceEntry. */
interface ServiceModel {
  host: string;
  name: string;
  namespace: string;
  ports: { number: number; name: string; protocol: string; targetPort: number }[];
  /** Candidate endpoints per service port number, with labels for subset selection. */
  endpoints: Map<number, Endpoint[]>;
  kubernetes: boolean;
}

/**
 * Compiles mesh resources into the snapshot for one proxy. Pure: the same inputs give the same
 * document and version. Resources of other kinds are ignored.
 */
export function compileSnapshot(resources: readonly Resource[], opts: CompileOptions): Snapshot {
  const domain = opts.domain ?? DEFAULT_DOMAIN;
  const warnings: string[] = [];
  const by = groupByKind(resources);
  const identity = identityOf(by, opts);
  const services = buildServices(by, domain, warnings);
  const drs = destinationRules(by.get('DestinationRule') ?? [], identity.namespace, domain);
  const clusters = new Map<string, Cluster>();
  const vss = virtualServices(by.get('VirtualService') ?? [], identity.namespace, domain);

  const ensureCluster = (host: string, port: number, subset: string): string | undefined => {
    const svc = services.get(host) ?? wildcardService(services, host);
    if (!svc) return undefined;
    const name = `outbound|${port}|${subset}|${host}`;
    if (clusters.has(name)) return name;
    const sp = svc.ports.find((p) => p.number === port);
    if (!sp) return undefined;
    const dr = drs.find((d) => hostMatches(d.host, host));
    let policy = dr?.trafficPolicy;
    let selector: Record<string, string> = {};
    if (subset) {
      const s = dr?.subsets.find((x) => x.name === subset);
      if (!s) {
        warnings.push(`route to ${host} subset ${subset}: no DestinationRule defines that subset; the route answers 503 NR`);
        return undefined;
      }
      selector = s.labels;
      policy = mergePolicy(policy, s.trafficPolicy);
    }
    const portPolicy = portLevel(policy, port);
    const eps = (svc.endpoints.get(port) ?? []).filter((e) => labelsMatch(selector, e.labels));
    clusters.set(name, {
      name,
      direction: 'outbound',
      service: host,
      serviceName: svc.name,
      serviceNamespace: svc.namespace,
      port,
      subset,
      protocol: sp.protocol,
      endpoints: eps,
      lb: lbPolicy(portPolicy),
      connectionPool: connectionPool(portPolicy),
      ...(outlier(portPolicy) ? { outlierDetection: outlier(portPolicy) as OutlierDetection } : {}),
    });
    return name;
  };

  const routeCtx: RouteCtx = { now: opts.now, identity, all: vss, services, ensure: ensureCluster, domain, warnings };
  const virtualHosts: VirtualHost[] = [];
  for (const svc of [...services.values()].sort((a, b) => byCodeUnit(a.host, b.host))) {
    const vs = vss.find((v) => v.hosts.some((h) => hostMatches(h, svc.host)));
    const ports: PortRoutes[] = [];
    for (const p of svc.ports) {
      let routes: Route[];
      if (vs) {
        routes = compileHttpRoutes(vs, vs.http, svc, p.number, routeCtx, 0);
      } else {
        routes = [];
        const c = ensureCluster(svc.host, p.number, '');
        if (c) routes.push({ name: 'default', match: [], destinations: [{ cluster: c, weight: 100 }], timeoutMs: 0, retries: DEFAULT_RETRIES });
      }
      ports.push({ port: p.number, routes });
    }
    virtualHosts.push({ host: svc.host, domains: domainsOf(svc, identity.namespace, domain), defaultPort: defaultPort(svc), ports });
  }

  const inboundPort = opts.inbound?.port ?? 15006;
  if (opts.inbound?.appPort) {
    const name = `inbound|${opts.inbound.appPort}||`;
    clusters.set(name, {
      name,
      direction: 'inbound',
      service: identity.workload,
      serviceName: identity.workload,
      serviceNamespace: identity.namespace,
      port: opts.inbound.appPort,
      subset: '',
      protocol: 'HTTP',
      endpoints: [{ address: '127.0.0.1', port: opts.inbound.appPort, labels: identity.labels, weight: 1, workload: identity.workload, namespace: identity.namespace }],
      lb: { type: 'ROUND_ROBIN' },
      connectionPool: DEFAULT_POOL,
    });
  }

  const body: Omit<Snapshot, 'version'> = {
    format: SNAPSHOT_FORMAT,
    proxy: identity,
    listeners: {
      outbound: opts.outbound ?? { address: '127.0.0.1', port: 15001 },
      inbound: { address: opts.inbound?.address ?? '0.0.0.0', port: inboundPort, ...(opts.inbound?.appPort ? { appPort: opts.inbound.appPort } : {}) },
    },
    virtualHosts,
    clusters: [...clusters.values()].sort((a, b) => byCodeUnit(a.name, b.name)),
    telemetry: { metrics: opts.telemetry?.metrics ?? true, accessLog: opts.telemetry?.accessLog ?? false },
    outboundTrafficPolicy: opts.outboundTrafficPolicy ?? meshOutboundPolicy(by.get('ConfigMap') ?? []) ?? 'REGISTRY_ONLY',
    warnings,
  };
  const version = contentHash64(JSON.stringify(body));
  const { format, ...rest } = body;
  return { format, version, ...rest };
}

/**
 * `outboundTrafficPolicy.mode` from Istio's mesh config (ConfigMap `istio` in `istio-system`, key
 * `mesh`, YAML). Read with a line scan rather than a YAML parser: the compiler stays dependency-free
 * and only this one nested key matters.
 */
function meshOutboundPolicy(configMaps: Resource[]): 'REGISTRY_ONLY' | 'ALLOW_ANY' | undefined {
  const cm = configMaps.find((c) => c.metadata.name === 'istio' && c.metadata.namespace === 'istio-system');
  const mesh = str(obj(cm?.data)?.mesh);
  if (!mesh) return undefined;
  const m = /^outboundTrafficPolicy:\s*(?:\{\s*mode:\s*["']?(\w+)|\n\s+mode:\s*["']?(\w+))/m.exec(mesh);
  const mode = m?.[1] ?? m?.[2];
  return mode === 'ALLOW_ANY' || mode === 'REGISTRY_ONLY' ? mode : undefined;
}

function groupByKind(resources: readonly Resource[]): Map<string, Resource[]> {
  const m = new Map<string, Resource[]>();
  // Sorted so that equal sets of objects in any order give the same snapshot (and version).
  const sorted = [...resources].sort((a, b) => byCodeUnit(keyOf(a), keyOf(b)));
  for (const r of sorted) {
    let l = m.get(r.kind);
    if (!l) m.set(r.kind, (l = []));
    l.push(r);
  }
  return m;
}

function keyOf(r: Resource): string {
  return `${r.kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`;
}

function nsOf(r: Resource): string {
  return r.metadata.namespace ?? 'default';
}

interface IndexedWorkloadEntry {
  we: Resource;
  spec: Obj;
  labels: Record<string, string>;
}

/**
 * The WorkloadEntries a ServiceEntry's workloadSelector selects (the rule of selectsWorkloadEntry in src/api/service-entry.ts: same
 * namespace, every selector label on the entry's spec.labels), in input order. Indexed by namespace
 * and by each label, so a selector is checked only against entries that carry one of its labels:
 * checking every pair made the compile quadratic (a mesh of 1,000 ServiceEntries and 1,000
 * WorkloadEntries spent 250 of its 325 ms there).
 */
function workloadEntryIndex(wes: Resource[]): (ns: string, selector: Record<string, string>) => IndexedWorkloadEntry[] {
  const byKey = new Map<string, IndexedWorkloadEntry[]>();
  const add = (key: string, e: IndexedWorkloadEntry) => {
    const list = byKey.get(key);
    if (list) list.push(e);
    else byKey.set(key, [e]);
  };
  for (const we of wes) {
    const spec = obj(we.spec);
    if (!spec) continue;
    const e = { we, spec, labels: strMap(spec.labels) };
    const ns = nsOf(we);
    add(ns, e);
    // JSON keys: label names and values are any strings here (local YAML is not validated like the API server's).
    for (const k in e.labels) add(JSON.stringify([ns, k, e.labels[k]]), e);
  }
  return (ns, selector) => {
    const keys = Object.keys(selector);
    // An empty selector selects every entry of the namespace.
    const candidates = byKey.get(keys.length ? JSON.stringify([ns, keys[0], selector[keys[0]!]]) : ns) ?? [];
    return candidates.filter((e) => keys.every((k) => e.labels[k] === selector[k]));
  };
}

function identityOf(by: Map<string, Resource[]>, opts: CompileOptions): ProxyIdentity {
  const match = (k: string): Resource | undefined => (by.get(k) ?? []).find((r) => r.metadata.name === opts.workload && nsOf(r) === opts.namespace);
  const we = match('WorkloadEntry');
  const pod = match('Pod');
  const labels = we ? strMap(obj(we.spec)?.labels) : pod ? { ...(pod.metadata.labels ?? {}) } : (opts.labels ?? { app: opts.workload });
  return { workload: opts.workload, namespace: opts.namespace, labels };
}

function labelsMatch(selector: Record<string, string>, labels: Record<string, string>): boolean {
  for (const k in selector) if (labels[k] !== selector[k]) return false;
  return true;
}

/** Istio's protocol selection: appProtocol, else the port name's prefix (`http-web`), else the protocol field. */
function protocolOf(p: Obj): string {
  const explicit = str(p.appProtocol) ?? str(p.protocol);
  if (explicit && explicit.toUpperCase() !== 'TCP') return explicit.toUpperCase();
  const name = (str(p.name) ?? '').toLowerCase();
  for (const proto of ['http2', 'http', 'grpc-web', 'grpc', 'https', 'tls', 'mongo', 'mysql', 'redis', 'tcp']) {
    if (name === proto || name.startsWith(proto + '-')) return proto.toUpperCase();
  }
  return explicit?.toUpperCase() ?? 'HTTP';
}

function workloadOfPod(pod: Resource): string {
  const owner = arr(pod.metadata.ownerReferences).map(obj).find((o) => o && str(o.name));
  // A ReplicaSet name is `<deployment>-<hash>`; Istio reports the Deployment as the workload.
  const ownerName = owner ? (str(owner.name) ?? '') : '';
  if (ownerName && str(owner?.kind) === 'ReplicaSet') return ownerName.replace(/-[a-z0-9]{5,10}$/, '');
  // A bare pod is its own workload, as Istio reports it.
  return ownerName || pod.metadata.name;
}

function buildServices(by: Map<string, Resource[]>, domain: string, warnings: string[]): Map<string, ServiceModel> {
  const services = new Map<string, ServiceModel>();
  const pods = by.get('Pod') ?? [];
  const podByName = new Map(pods.map((p) => [`${nsOf(p)}/${p.metadata.name}`, p]));
  const slices = by.get('EndpointSlice') ?? [];

  for (const s of by.get('Service') ?? []) {
    const spec = obj(s.spec) ?? {};
    const ns = nsOf(s);
    const host = `${normalizeHost(s.metadata.name)}.${ns}.svc.${domain}`;
    const ports = arr(spec.ports)
      .map(obj)
      .filter((p): p is Obj => !!p && num(p.port) !== undefined)
      .map((p) => ({ number: num(p.port) as number, name: str(p.name) ?? '', protocol: protocolOf(p), targetPort: num(p.targetPort) ?? (num(p.port) as number) }));
    const svc: ServiceModel = { host, name: s.metadata.name, namespace: ns, ports, endpoints: new Map(), kubernetes: true };
    const mine = slices.filter((sl) => nsOf(sl) === ns && sl.metadata.labels?.['kubernetes.io/service-name'] === s.metadata.name);
    const selector = strMap(spec.selector);
    for (const p of ports) {
      const eps: Endpoint[] = [];
      if (mine.length) {
        for (const sl of mine) {
          const slPort = arr(sl.ports).map(obj).find((x) => x && (str(x.name) ?? '') === p.name);
          const port = num(slPort?.port) ?? p.targetPort;
          for (const e of arr(sl.endpoints).map(obj)) {
            if (!e || obj(e.conditions)?.ready === false) continue;
            const ref = obj(e.targetRef);
            const pod = ref && str(ref.kind) === 'Pod' ? podByName.get(`${str(ref.namespace) ?? ns}/${str(ref.name) ?? ''}`) : undefined;
            for (const a of arr(e.addresses)) {
              if (typeof a !== 'string') continue;
              eps.push({ address: a, port, labels: pod?.metadata.labels ?? {}, weight: 1, workload: pod ? workloadOfPod(pod) : s.metadata.name, namespace: ns });
            }
          }
        }
      } else if (Object.keys(selector).length) {
        // No EndpointSlices (no controller running): select Pods directly, as the endpoints controller would.
        for (const pod of pods) {
          const ip = str(obj(pod.status)?.podIP);
          if (nsOf(pod) !== ns || !ip || !labelsMatch(selector, pod.metadata.labels ?? {})) continue;
          eps.push({ address: ip, port: p.targetPort, labels: pod.metadata.labels ?? {}, weight: 1, workload: workloadOfPod(pod), namespace: ns });
        }
      }
      svc.endpoints.set(p.number, eps);
    }
    services.set(host, svc);
  }

  const selectWorkloadEntries = workloadEntryIndex(by.get('WorkloadEntry') ?? []);
  for (const se of by.get('ServiceEntry') ?? []) {
    const spec = obj(se.spec) ?? {};
    const ns = nsOf(se);
    const ports = arr(spec.ports)
      .map(obj)
      .filter((p): p is Obj => !!p && num(p.number) !== undefined)
      .map((p) => ({ number: num(p.number) as number, name: str(p.name) ?? '', protocol: protocolOf(p), targetPort: num(p.targetPort) ?? (num(p.number) as number) }));
    if (!ports.length) {
      warnings.push(`ServiceEntry ${se.metadata.name}.${ns}: no ports; skipped`);
      continue;
    }
    const resolution = str(spec.resolution) ?? 'NONE';
    const selector = serviceEntrySelector(se);
    const selected = selector ? selectWorkloadEntries(ns, selector) : [];
    const endpointsFor = (p: { number: number; name: string; targetPort: number }, host: string): Endpoint[] => {
      const eps: Endpoint[] = [];
      const add = (e: Obj, workload: string) => {
        const address = str(e.address);
        if (!address) return;
        const named = num(strMapNum(e.ports)[p.name]);
        eps.push({ address, port: named ?? p.targetPort, labels: strMap(e.labels), weight: num(e.weight) ?? 1, workload, namespace: ns });
      };
      for (const e of arr(spec.endpoints).map(obj)) if (e) add(e, strMap(e.labels).app ?? host);
      for (const w of selected) add(w.spec, w.we.metadata.name);
      // DNS resolution without endpoints: the host itself is the endpoint (resolved by the OS at connect).
      if (!eps.length && (resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') && !isWildcard(host)) {
        eps.push({ address: host, port: p.targetPort, labels: {}, weight: 1, workload: host, namespace: ns });
      }
      return eps;
    };
    for (const h of arr(spec.hosts)) {
      if (typeof h !== 'string') continue;
      const host = normalizeHost(h);
      if (services.has(host)) continue; // Kubernetes Services and earlier entries win, deterministically.
      const svc: ServiceModel = { host, name: host.split('.')[0] ?? host, namespace: ns, ports, endpoints: new Map(), kubernetes: false };
      for (const p of ports) svc.endpoints.set(p.number, endpointsFor(p, host));
      services.set(host, svc);
    }
  }
  return services;
}

function strMapNum(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, val] of Object.entries(obj(v) ?? {})) {
    const n = num(val);
    if (n !== undefined) out[k] = n;
  }
  return out;
}

function wildcardService(services: Map<string, ServiceModel>, host: string): ServiceModel | undefined {
  for (const s of services.values()) if (isWildcard(s.host) && hostMatches(s.host, host)) return s;
  return undefined;
}

/** Names an app may put in Host for a service: Kubernetes short forms resolve like cluster DNS would. */
function domainsOf(svc: ServiceModel, proxyNs: string, domain: string): string[] {
  if (!svc.kubernetes) return [svc.host];
  const short = svc.host.slice(0, -`.svc.${domain}`.length); // name.ns
  const out = [svc.host, `${short}.svc`, short];
  if (svc.namespace === proxyNs) out.push(svc.name.toLowerCase());
  return out;
}

function defaultPort(svc: ServiceModel): number {
  if (svc.ports.length === 1) return svc.ports[0]!.number;
  return svc.ports.find((p) => p.number === 80)?.number ?? svc.ports[0]!.number;
}

interface DrModel {
  host: string;
  trafficPolicy: Obj | undefined;
  subsets: { name: string; labels: Record<string, string>; trafficPolicy: Obj | undefined }[];
}

function destinationRules(list: Resource[], proxyNs: string, domain: string): DrModel[] {
  const out: DrModel[] = [];
  // A DestinationRule in the proxy's namespace wins over one elsewhere for the same host (Istio's lookup order).
  const ordered = [...list].sort((a, b) => Number(nsOf(b) === proxyNs) - Number(nsOf(a) === proxyNs) || byAge(a, b));
  for (const d of ordered) {
    const spec = obj(d.spec);
    const host = str(spec?.host);
    if (!spec || !host) continue;
    out.push({
      host: fqdn(host, nsOf(d), domain),
      trafficPolicy: obj(spec.trafficPolicy),
      subsets: arr(spec.subsets)
        .map(obj)
        .filter((s): s is Obj => !!s && !!str(s.name))
        .map((s) => ({ name: str(s.name) as string, labels: strMap(s.labels), trafficPolicy: obj(s.trafficPolicy) })),
    });
  }
  return out;
}

function byAge(a: Resource, b: Resource): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  return byCodeUnit(ta, tb) || byCodeUnit(keyOf(a), keyOf(b));
}

/** A subset's trafficPolicy overrides the DestinationRule's field by field (Istio merges the top-level fields). */
function mergePolicy(base: Obj | undefined, over: Obj | undefined): Obj | undefined {
  if (!over) return base;
  return { ...(base ?? {}), ...over };
}

function portLevel(policy: Obj | undefined, port: number): Obj | undefined {
  if (!policy) return undefined;
  const pl = arr(policy.portLevelSettings)
    .map(obj)
    .find((p) => p && num(obj(p.port)?.number) === port);
  return pl ? { ...policy, ...pl } : policy;
}

function lbPolicy(policy: Obj | undefined): LbPolicy {
  const lb = obj(policy?.loadBalancer);
  const ch = obj(lb?.consistentHash);
  if (ch) {
    const cookie = str(obj(ch.httpCookie)?.name);
    return {
      type: 'CONSISTENT_HASH',
      ...(str(ch.httpHeaderName) ? { header: (str(ch.httpHeaderName) as string).toLowerCase() } : {}),
      ...(cookie ? { cookie } : {}),
      ...(ch.useSourceIp === true ? { sourceIp: true } : {}),
      ...(str(ch.httpQueryParameterName) ? { queryParam: str(ch.httpQueryParameterName) as string } : {}),
    };
  }
  const simple = str(lb?.simple);
  if (simple === 'ROUND_ROBIN' || simple === 'RANDOM') return { type: simple };
  // Istio's default (and LEAST_CONN, its old name) is LEAST_REQUEST.
  return { type: 'LEAST_REQUEST' };
}

function connectionPool(policy: Obj | undefined): ConnectionPool {
  const cp = obj(policy?.connectionPool);
  if (!cp) return DEFAULT_POOL;
  const tcp = obj(cp.tcp) ?? {};
  const http = obj(cp.http) ?? {};
  return {
    maxConnections: num(tcp.maxConnections) ?? 0,
    maxPendingRequests: num(http.http1MaxPendingRequests) ?? 0,
    maxRequests: num(http.http2MaxRequests) ?? num(http.maxConcurrentStreams) ?? 0,
    maxRequestsPerConnection: num(http.maxRequestsPerConnection) ?? 0,
    maxRetries: num(http.maxRetries) ?? 0,
    connectTimeoutMs: durationMs(tcp.connectTimeout) ?? DEFAULT_POOL.connectTimeoutMs,
    idleTimeoutMs: durationMs(http.idleTimeout) ?? DEFAULT_POOL.idleTimeoutMs,
  };
}

/** Istio's defaults once outlierDetection is present: 5 consecutive 5xx, 10s interval, 30s base ejection, 10 %. */
function outlier(policy: Obj | undefined): OutlierDetection | undefined {
  const od = obj(policy?.outlierDetection);
  if (!od) return undefined;
  return {
    consecutive5xxErrors: num(od.consecutive5xxErrors) ?? num(od.consecutiveErrors) ?? 5,
    consecutiveGatewayErrors: num(od.consecutiveGatewayErrors) ?? 0,
    intervalMs: durationMs(od.interval) ?? 10_000,
    baseEjectionTimeMs: durationMs(od.baseEjectionTime) ?? 30_000,
    maxEjectionPercent: num(od.maxEjectionPercent) ?? 10,
  };
}

interface VsModel {
  resource: Resource;
  ref: string;
  namespace: string;
  hosts: string[];
  http: Obj[];
  nonIdempotentRetries: boolean;
}

function virtualServices(list: Resource[], _proxyNs: string, domain: string): VsModel[] {
  const out: VsModel[] = [];
  // For the same host the oldest VirtualService wins (Istio's conflict rule for sidecars).
  for (const v of [...list].sort(byAge)) {
    const spec = obj(v.spec);
    if (!spec) continue;
    const gateways = arr(spec.gateways).filter((g): g is string => typeof g === 'string');
    // Bound to gateways only: not for sidecars. No `gateways` means "mesh".
    if (gateways.length && !gateways.includes('mesh')) continue;
    out.push({
      resource: v,
      ref: `${v.metadata.name}.${nsOf(v)}`,
      namespace: nsOf(v),
      hosts: arr(spec.hosts)
        .filter((h): h is string => typeof h === 'string')
        .map((h) => fqdn(h, nsOf(v), domain)),
      http: arr(spec.http).map(obj).filter((h): h is Obj => !!h),
      nonIdempotentRetries: v.metadata.annotations?.['meshctl.io/retry-non-idempotent'] === 'true',
    });
  }
  return out;
}

interface RouteCtx {
  now: Date | undefined;
  identity: ProxyIdentity;
  all: VsModel[];
  services: Map<string, ServiceModel>;
  ensure: (host: string, port: number, subset: string) => string | undefined;
  domain: string;
  warnings: string[];
}

function compileHttpRoutes(vs: VsModel, http: Obj[], svc: ServiceModel, port: number, ctx: RouteCtx, depth: number, parentMatch?: RouteMatch[]): Route[] {
  const { identity, all, services, ensure, domain, warnings } = ctx;
  const routes: Route[] = [];
  http.forEach((h, i) => {
    const name = `${vs.ref}/${str(h.name) ?? i}`;
    // sourceLabels and port are settled here, once, for this proxy and this service port.
    const rawMatches = arr(h.match).map(obj).filter((m): m is Obj => !!m);
    const kept = rawMatches.filter((m) => {
      if (num(m.port) !== undefined && num(m.port) !== port) return false;
      if (obj(m.sourceLabels) && !labelsMatch(strMap(m.sourceLabels), identity.labels)) return false;
      if (str(m.sourceNamespace) && str(m.sourceNamespace) !== identity.namespace) return false;
      const gw = arr(m.gateways);
      if (gw.length && !gw.includes('mesh')) return false;
      return true;
    });
    if (rawMatches.length && !kept.length) return; // every match excluded for this proxy/port
    let match: RouteMatch[];
    try {
      match = kept.map(compileMatch);
    } catch (e) {
      warnings.push(`VirtualService ${name}: ${(e as Error).message}; route skipped`);
      return;
    }
    if (parentMatch) match = mergeMatches(parentMatch, match);

    const delegate = obj(h.delegate);
    if (delegate) {
      const dname = str(delegate.name);
      const dns = str(delegate.namespace) ?? vs.namespace;
      const child = all.find((v) => v.resource.metadata.name === dname && v.namespace === dns);
      if (!child || depth > 0) {
        warnings.push(`VirtualService ${name}: delegate ${dname}.${dns} ${child ? 'delegates again (only one level is allowed)' : 'not found'}; route skipped`);
        return;
      }
      routes.push(...compileHttpRoutes(child, child.http, svc, port, ctx, depth + 1, match));
      return;
    }

    const base: Route = { name, match, timeoutMs: durationMs(h.timeout) ?? 0 };
    const headers = obj(h.headers);
    const rq = headerOps(obj(headers?.request));
    const rs = headerOps(obj(headers?.response));
    if (rq) base.requestHeaders = rq;
    if (rs) base.responseHeaders = rs;

    const redirect = obj(h.redirect);
    const direct = obj(h.directResponse);
    if (redirect) {
      base.redirect = {
        code: num(redirect.redirectCode) ?? 301,
        ...(str(redirect.uri) ? { uri: str(redirect.uri) as string } : {}),
        ...(str(redirect.authority) ? { authority: str(redirect.authority) as string } : {}),
        ...(num(redirect.port) ? { port: num(redirect.port) as number } : {}),
        ...(str(redirect.scheme) ? { scheme: str(redirect.scheme) as string } : {}),
      };
      routes.push(base);
      return;
    }
    if (direct) {
      const b = obj(direct.body);
      base.directResponse = { status: num(direct.status) ?? 200, ...(str(b?.string) ? { body: str(b?.string) as string } : {}) };
      routes.push(base);
      return;
    }

    const dests: WeightedCluster[] = [];
    const rawDests = arr(h.route).map(obj).filter((d): d is Obj => !!d);
    for (const d of rawDests) {
      const dest = obj(d.destination);
      const host = str(dest?.host);
      if (!dest || !host) continue;
      const dhost = fqdn(host, vs.namespace, domain);
      const dport = num(obj(dest.port)?.number) ?? (dhost === svc.host ? port : undefined);
      const target = dport ?? onlyPort(dhost, services);
      const cluster = target !== undefined ? ensure(dhost, target, str(dest.subset) ?? '') : undefined;
      // One destination needs no weight; with several, a missing weight is 0 (Istio validation requires them).
      const weight = num(d.weight) ?? (rawDests.length === 1 ? 100 : 0);
      const wc: WeightedCluster = { cluster: cluster ?? `unknown|${dport ?? ''}|${str(dest.subset) ?? ''}|${dhost}`, weight };
      if (!cluster) warnings.push(`VirtualService ${name}: destination ${dhost}${dport ? ':' + dport : ''}${dest.subset ? ' subset ' + String(dest.subset) : ''} is not a known service port; its share answers 503 NR`);
      const dh = obj(d.headers);
      const drq = headerOps(obj(dh?.request));
      const drs = headerOps(obj(dh?.response));
      if (drq) wc.requestHeaders = drq;
      if (drs) wc.responseHeaders = drs;
      dests.push(wc);
    }
    if (!dests.length) {
      warnings.push(`VirtualService ${name}: no route, redirect, directResponse or delegate; route skipped`);
      return;
    }
    base.destinations = dests;

    const rewrite = obj(h.rewrite);
    if (rewrite) {
      const rx = obj(rewrite.uriRegexRewrite);
      if (rx && str(rx.match) !== undefined) {
        // As a match regex that does not compile: this route goes, the rest of the mesh stays.
        try {
          checkRegex(str(rx.match) as string);
        } catch (e) {
          warnings.push(`VirtualService ${name}: ${(e as Error).message}; route skipped`);
          return;
        }
      }
      base.rewrite = {
        ...(str(rewrite.uri) !== undefined ? { uri: str(rewrite.uri) as string } : {}),
        ...(str(rewrite.authority) ? { authority: str(rewrite.authority) as string } : {}),
        ...(rx && str(rx.match) !== undefined ? { regex: { match: str(rx.match) as string, rewrite: str(rx.rewrite) ?? '' } } : {}),
      };
    }
    const retries = obj(h.retries);
    base.retries = retries ? retryPolicy(retries, vs.nonIdempotentRetries) : { ...DEFAULT_RETRIES, nonIdempotent: vs.nonIdempotentRetries };
    const fault = ctx.now && !faultActive(h, vs.resource, ctx.now) ? undefined : faultPolicy(obj(h.fault));
    if (fault) base.fault = fault;
    const mirrors: MirrorPolicy[] = [];
    const addMirror = (dest: Obj | undefined, pct: number) => {
      const host = str(dest?.host);
      if (!dest || !host) return;
      const mhost = fqdn(host, vs.namespace, domain);
      const mport = num(obj(dest.port)?.number) ?? (mhost === svc.host ? port : onlyPort(mhost, services));
      const c = mport !== undefined ? ensure(mhost, mport, str(dest.subset) ?? '') : undefined;
      if (c) mirrors.push({ cluster: c, percent: pct });
      else warnings.push(`VirtualService ${name}: mirror ${mhost} is not a known service port; not mirrored`);
    };
    if (h.mirror) addMirror(obj(h.mirror), percent(h.mirrorPercentage, h.mirrorPercent, 100));
    for (const m of arr(h.mirrors).map(obj)) if (m) addMirror(obj(m.destination), percent(m.percentage, undefined, 100));
    if (mirrors.length) base.mirrors = mirrors;
    routes.push(base);
  });
  return routes;
}

/** The port a destination without `port` goes to: the service's only port (Istio requires `port` otherwise). */
function onlyPort(host: string, services: Map<string, ServiceModel>): number | undefined {
  const s = services.get(host) ?? wildcardService(services, host);
  return s && s.ports.length === 1 ? s.ports[0]!.number : undefined;
}

function compileMatch(m: Obj): RouteMatch {
  const out: RouteMatch = {};
  if (typeof m.name === 'string') out.name = m.name;
  const uri = stringMatch(m.uri);
  if (uri) out.uri = uri;
  if (m.ignoreUriCase === true) out.ignoreUriCase = true;
  const method = stringMatch(m.method);
  if (method) out.method = method;
  const authority = stringMatch(m.authority);
  if (authority) out.authority = authority;
  const scheme = stringMatch(m.scheme);
  if (scheme) out.scheme = scheme;
  const headers: HeaderMatch[] = [];
  for (const [k, v] of Object.entries(obj(m.headers) ?? {})) headers.push(headerMatch(k, v, false));
  for (const [k, v] of Object.entries(obj(m.withoutHeaders) ?? {})) headers.push(headerMatch(k, v, true));
  if (headers.length) out.headers = headers;
  const qp: HeaderMatch[] = [];
  for (const [k, v] of Object.entries(obj(m.queryParams) ?? {})) qp.push(headerMatch(k, v, false, true));
  if (qp.length) out.queryParams = qp;
  return out;
}

function headerMatch(name: string, v: unknown, invert: boolean, caseSensitiveName = false): HeaderMatch {
  const sm = stringMatch(v);
  const h: HeaderMatch = { name: caseSensitiveName ? name : name.toLowerCase(), ...(sm ?? { present: true }) };
  if (invert) h.invert = true;
  return h;
}

function stringMatch(v: unknown): StringMatch | undefined {
  const o = obj(v);
  if (!o) return undefined;
  if (typeof o.exact === 'string') return { exact: o.exact };
  if (typeof o.prefix === 'string') return { prefix: o.prefix };
  if (typeof o.regex === 'string') return { regex: checkRegex(o.regex) };
  return undefined;
}

/** Rejects patterns JavaScript cannot compile, so the proxy never meets one at load time. */
function checkRegex(source: string): string {
  try {
    // The pattern as written: wrapped in ^(?:...)$ first, `a)(b` compiled (as `(?:a)(b)`) and then
    // broke the router, which uses a rewrite's pattern unwrapped.
    new RegExp(source);
  } catch {
    throw new Error(`regex ${JSON.stringify(source)} does not compile`);
  }
  return source;
}

/** Delegate routes match only within the root's match: the conditions of both apply (AND). */
function mergeMatches(parent: RouteMatch[], child: RouteMatch[]): RouteMatch[] {
  if (!parent.length) return child;
  if (!child.length) return parent;
  const out: RouteMatch[] = [];
  for (const p of parent) {
    for (const c of child) {
      out.push({
        ...p,
        ...c,
        ...(p.headers || c.headers ? { headers: [...(p.headers ?? []), ...(c.headers ?? [])] } : {}),
        ...(p.queryParams || c.queryParams ? { queryParams: [...(p.queryParams ?? []), ...(c.queryParams ?? [])] } : {}),
      });
    }
  }
  return out;
}

function headerOps(o: Obj | undefined): HeaderOps | undefined {
  if (!o) return undefined;
  const ops: HeaderOps = {};
  const set = Object.entries(strMap(o.set)).map(([k, v]) => [k.toLowerCase(), v] as [string, string]);
  const add = Object.entries(strMap(o.add)).map(([k, v]) => [k.toLowerCase(), v] as [string, string]);
  const remove = arr(o.remove).filter((x): x is string => typeof x === 'string').map((x) => x.toLowerCase());
  if (set.length) ops.set = set;
  if (add.length) ops.add = add;
  if (remove.length) ops.remove = remove;
  return set.length || add.length || remove.length ? ops : undefined;
}

function retryPolicy(r: Obj, nonIdempotent: boolean): RetryPolicy | undefined {
  const attempts = num(r.attempts) ?? 2;
  const on = (str(r.retryOn) ?? DEFAULT_RETRIES.retryOn.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const codes = on.filter((s) => /^\d{3}$/.test(s)).map(Number);
  const retryOn = on.filter((s) => !/^\d{3}$/.test(s));
  if (codes.length && !retryOn.includes('retriable-status-codes')) retryOn.push('retriable-status-codes');
  return {
    attempts,
    perTryTimeoutMs: durationMs(r.perTryTimeout) ?? 0,
    retryOn,
    retriableStatusCodes: codes.length ? codes : retryOn.includes('retriable-status-codes') && !str(r.retryOn) ? [503] : codes,
    nonIdempotent,
    backoffBaseMs: 25,
  };
}

function faultPolicy(f: Obj | undefined): FaultPolicy | undefined {
  if (!f) return undefined;
  const out: FaultPolicy = {};
  const d = obj(f.delay);
  const fixed = durationMs(d?.fixedDelay);
  if (d && fixed !== undefined) out.delay = { fixedDelayMs: fixed, percent: percent(d.percentage, d.percent, 100) };
  const a = obj(f.abort);
  const status = num(a?.httpStatus);
  if (a && status !== undefined) out.abort = { httpStatus: status, percent: percent(a.percentage, undefined, 100) };
  return out.delay || out.abort ? out : undefined;
}
