/**
 * Every kind meshctl reads or writes, with what a client needs to address it. The Istio kinds use
 * Istio's groups and the storage version of the CRDs in shared/reference/istio-crds.yaml, so the
 * same objects work on an Istio cluster and on meshctl's own mesh.
 */
export interface KindInfo {
  kind: string;
  group: string; // '' for the core group
  version: string;
  plural: string;
  namespaced: boolean;
  /** True for Istio-compatible custom resources (custom objects API, CRD schema validation). */
  mesh: boolean;
}

const mesh = (kind: string, group: string, plural: string, version = 'v1'): KindInfo => ({
  kind,
  group,
  version,
  plural,
  namespaced: true,
  mesh: true,
});

const NETWORKING = 'networking.istio.io';
const SECURITY = 'security.istio.io';

// Sorted by kind: one place to add a kind.
export const KINDS: readonly KindInfo[] = [
  mesh('AuthorizationPolicy', SECURITY, 'authorizationpolicies'),
  { kind: 'ConfigMap', group: '', version: 'v1', plural: 'configmaps', namespaced: true, mesh: false },
  { kind: 'DaemonSet', group: 'apps', version: 'v1', plural: 'daemonsets', namespaced: true, mesh: false },
  { kind: 'Deployment', group: 'apps', version: 'v1', plural: 'deployments', namespaced: true, mesh: false },
  mesh('DestinationRule', NETWORKING, 'destinationrules'),
  { kind: 'EndpointSlice', group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', namespaced: true, mesh: false },
  mesh('Gateway', NETWORKING, 'gateways'),
  { kind: 'Namespace', group: '', version: 'v1', plural: 'namespaces', namespaced: false, mesh: false },
  mesh('PeerAuthentication', SECURITY, 'peerauthentications'),
  { kind: 'Pod', group: '', version: 'v1', plural: 'pods', namespaced: true, mesh: false },
  { kind: 'ReplicaSet', group: 'apps', version: 'v1', plural: 'replicasets', namespaced: true, mesh: false },
  mesh('RequestAuthentication', SECURITY, 'requestauthentications'),
  { kind: 'Secret', group: '', version: 'v1', plural: 'secrets', namespaced: true, mesh: false },
  { kind: 'Service', group: '', version: 'v1', plural: 'services', namespaced: true, mesh: false },
  { kind: 'ServiceAccount', group: '', version: 'v1', plural: 'serviceaccounts', namespaced: true, mesh: false },
  mesh('ServiceEntry', NETWORKING, 'serviceentries'),
  mesh('Sidecar', NETWORKING, 'sidecars'),
  { kind: 'StatefulSet', group: 'apps', version: 'v1', plural: 'statefulsets', namespaced: true, mesh: false },
  mesh('VirtualService', NETWORKING, 'virtualservices'),
  mesh('WorkloadEntry', NETWORKING, 'workloadentries'),
];

const byKind = new Map(KINDS.map((k) => [k.kind, k]));
const byLowerName = new Map<string, KindInfo>();
for (const k of KINDS) {
  byLowerName.set(k.kind.toLowerCase(), k);
  byLowerName.set(k.plural, k);
}

export function kindInfo(kind: string): KindInfo | undefined {
  return byKind.get(kind);
}

/** Accepts `VirtualService`, `virtualservice` and `virtualservices`, as kubectl does. */
export function lookupKind(name: string): KindInfo | undefined {
  return byKind.get(name) ?? byLowerName.get(name.toLowerCase());
}

export function apiVersionOf(info: KindInfo): string {
  return info.group ? `${info.group}/${info.version}` : info.version;
}

export const MESH_KINDS = KINDS.filter((k) => k.mesh).map((k) => k.kind);
