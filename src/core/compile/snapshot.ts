/**
 * The per-proxy config snapshot: one plain JSON document, versioned by a content hash, that the
 * proxy (and later the controller's discovery stream) carries. Everything the data plane would
 * otherwise interpret per request is decided here once: short names are resolved to FQDNs,
 * sourceLabels and port matches are settled for this proxy, percentages and durations are numbers.
 * Regexes stay strings (JSON) and are compiled once when the proxy loads a snapshot.
 */
export const SNAPSHOT_FORMAT = 'meshctl.io/snapshot/v1';

export interface Snapshot {
  format: typeof SNAPSHOT_FORMAT;
  /** sha256 of the document without this field: equal config gives an equal version. */
  version: string;
  proxy: ProxyIdentity;
  listeners: Listeners;
  /** Outbound routing, one entry per service host. */
  virtualHosts: VirtualHost[];
  clusters: Cluster[];
  telemetry: Telemetry;
  /** REGISTRY_ONLY answers 404 NR for unknown hosts; ALLOW_ANY passes them through. */
  outboundTrafficPolicy: 'REGISTRY_ONLY' | 'ALLOW_ANY';
  /** Config that was skipped, one line each, naming the object and the reason. */
  warnings: string[];
}

export interface ProxyIdentity {
  workload: string;
  namespace: string;
  labels: Record<string, string>;
}

export interface Listeners {
  outbound: { address: string; port: number };
  inbound: { address: string; port: number; appPort?: number | undefined };
}

export interface Telemetry {
  metrics: boolean;
  accessLog: boolean;
}

export interface VirtualHost {
  /** The service's FQDN, or a wildcard host (`*.example.com`) from a ServiceEntry. */
  host: string;
  /** Names the Host/authority header may carry without a port (short names within the namespace). */
  domains: string[];
  /** Port used when the authority has none: the service's only port, else 80 if it has one, else the first. */
  defaultPort: number;
  ports: PortRoutes[];
}

export interface PortRoutes {
  port: number;
  /** Ordered; the first route whose match matches wins (VirtualService semantics). */
  routes: Route[];
}

export interface StringMatch {
  exact?: string;
  prefix?: string;
  /** RE2 syntax; matched against the whole value (anchored), as Envoy's safe_regex does. */
  regex?: string;
}

export interface HeaderMatch extends StringMatch {
  name: string;
  /** withoutHeaders: the route matches when the header does NOT match (absent counts as not matching). */
  invert?: boolean;
  /** `{}` in a match: only presence is required. */
  present?: boolean;
}

/** All present fields must match (AND). A route's `match` list is OR-ed; an empty list matches all. */
export interface RouteMatch {
  name?: string;
  uri?: StringMatch;
  ignoreUriCase?: boolean;
  method?: StringMatch;
  authority?: StringMatch;
  scheme?: StringMatch;
  headers?: HeaderMatch[];
  queryParams?: HeaderMatch[];
}

export interface HeaderOps {
  set?: [string, string][];
  add?: [string, string][];
  remove?: string[];
}

export interface WeightedCluster {
  cluster: string;
  weight: number;
  requestHeaders?: HeaderOps;
  responseHeaders?: HeaderOps;
}

export interface RetryPolicy {
  /** Retries after the first try (Envoy's num_retries). */
  attempts: number;
  perTryTimeoutMs: number;
  retryOn: string[];
  /** Status codes retried by `retriable-status-codes` (or listed in retryOn as numbers). */
  retriableStatusCodes: number[];
  /** Retry POST/PATCH too (annotation meshctl.io/retry-non-idempotent). connect-failure is always safe. */
  nonIdempotent: boolean;
  backoffBaseMs: number;
}

export interface FaultPolicy {
  delay?: { fixedDelayMs: number; percent: number };
  abort?: { httpStatus: number; percent: number };
}

export interface MirrorPolicy {
  cluster: string;
  percent: number;
}

export interface Route {
  /** `VirtualService name.namespace` plus route name or index, for logs and config_dump. */
  name: string;
  match: RouteMatch[];
  /** One of destinations / redirect / directResponse. */
  destinations?: WeightedCluster[];
  redirect?: { uri?: string; authority?: string; port?: number; scheme?: string; code: number };
  directResponse?: { status: number; body?: string };
  rewrite?: { uri?: string; authority?: string; regex?: { match: string; rewrite: string } };
  requestHeaders?: HeaderOps;
  responseHeaders?: HeaderOps;
  /** 0 = no route timeout (Istio's default for HTTP). */
  timeoutMs: number;
  retries?: RetryPolicy;
  fault?: FaultPolicy;
  mirrors?: MirrorPolicy[];
}

export interface Endpoint {
  address: string;
  port: number;
  labels: Record<string, string>;
  weight: number;
  /** For metrics: the destination workload and its namespace. */
  workload: string;
  namespace: string;
}

export type LbPolicy =
  | { type: 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' }
  | { type: 'CONSISTENT_HASH'; header?: string; cookie?: string; sourceIp?: boolean; queryParam?: string };

export interface ConnectionPool {
  /** Upstream connections per endpoint (undici Pool `connections`). 0 = unlimited. */
  maxConnections: number;
  /** Requests waiting for a connection, per cluster, before 503 UO. 0 = unlimited. */
  maxPendingRequests: number;
  /** Active requests per cluster before 503 UO. 0 = unlimited. */
  maxRequests: number;
  /** 0 = unlimited. */
  maxRequestsPerConnection: number;
  maxRetries: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
}

export interface OutlierDetection {
  consecutive5xxErrors: number;
  consecutiveGatewayErrors: number;
  intervalMs: number;
  baseEjectionTimeMs: number;
  maxEjectionPercent: number;
}

export interface Cluster {
  /** Istio's naming: `outbound|9080|v1|reviews.default.svc.cluster.local`, `inbound|8080||`. */
  name: string;
  direction: 'outbound' | 'inbound';
  service: string;
  serviceName: string;
  serviceNamespace: string;
  port: number;
  subset: string;
  protocol: string;
  endpoints: Endpoint[];
  lb: LbPolicy;
  connectionPool: ConnectionPool;
  outlierDetection?: OutlierDetection;
}
