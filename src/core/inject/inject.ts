/**
 * Sidecar injection: a pod (template) in, the same pod with the `meshctl proxy` container out, plus
 * the JSON Patch an admission webhook answers with. Pure: no clock, no I/O.
 *
 * The sidecar streams its config from the controller (`--discovery`), names its workload as Istio
 * does (the Deployment behind a ReplicaSet owner, else the pod), and passes the pod's labels so
 * `sourceLabels` matches work before the Pod object reaches the controller's index. Pods of one
 * Deployment get the same arguments, so the controller compiles one snapshot for all of them.
 */

export const SIDECAR_NAME = 'meshctl-proxy';
export const INJECT_ANNOTATION = 'sidecar.istio.io/inject';
export const STATUS_ANNOTATION = 'sidecar.meshctl.dev/status';

export interface InjectOptions {
  /** The sidecar image, e.g. ghcr.io/meshctl/meshctl:0.1.0. */
  image: string;
  /** http://HOST:PORT of the controller's discovery port. */
  discoveryAddress: string;
  /** The namespace the pod is created in (AdmissionRequest.namespace when the pod has none). */
  namespace: string;
}

export interface JsonPatchOp {
  op: 'add' | 'replace';
  path: string;
  value: unknown;
}

export type InjectResult = { injected: true; pod: PodLike; patch: JsonPatchOp[] } | { injected: false; reason: string };

export interface PodLike {
  metadata?: {
    name?: string;
    generateName?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind?: string; name?: string }[];
  };
  spec?: { containers?: ContainerLike[]; hostNetwork?: boolean; [k: string]: unknown };
  [k: string]: unknown;
}

interface ContainerLike {
  name?: string;
  ports?: { containerPort?: number; protocol?: string }[];
  [k: string]: unknown;
}

/** Labels Kubernetes adds per ReplicaSet: passing them on would give each rollout its own snapshot key. */
const VOLATILE_LABELS = new Set(['pod-template-hash', 'controller-revision-hash', 'statefulset.kubernetes.io/pod-name']);

export function workloadName(pod: PodLike): string {
  const owner = pod.metadata?.ownerReferences?.find((o) => o.name);
  if (owner?.name && owner.kind === 'ReplicaSet') return owner.name.replace(/-[a-z0-9]{5,10}$/, '');
  if (owner?.name) return owner.name;
  if (pod.metadata?.name) return pod.metadata.name;
  // A pod made by a controller before its name is set: generateName is `<owner>-`.
  return (pod.metadata?.generateName ?? 'pod').replace(/-$/, '').replace(/-[a-z0-9]{5,10}$/, '');
}

export function injectPod(pod: PodLike, opts: InjectOptions): InjectResult {
  const annotations = pod.metadata?.annotations ?? {};
  const containers = pod.spec?.containers ?? [];
  if (annotations[INJECT_ANNOTATION] === 'false' || pod.metadata?.labels?.[INJECT_ANNOTATION] === 'false') return { injected: false, reason: `${INJECT_ANNOTATION}: "false"` };
  if (pod.spec?.hostNetwork) return { injected: false, reason: 'hostNetwork pods share the node network: a sidecar would take node ports' };
  if (containers.some((c) => c.name === SIDECAR_NAME) || annotations[STATUS_ANNOTATION]) return { injected: false, reason: 'already injected' };
  if (containers.length === 0) return { injected: false, reason: 'the pod has no containers' };

  const namespace = pod.metadata?.namespace ?? opts.namespace;
  const workload = workloadName(pod);
  // The first TCP port of the first container is the app's: the inbound listener forwards to it.
  const appPort = containers.flatMap((c) => c.ports ?? []).find((p) => p.containerPort && (p.protocol ?? 'TCP') === 'TCP')?.containerPort;
  const labels = Object.entries(pod.metadata?.labels ?? {})
    .filter(([k]) => !VOLATILE_LABELS.has(k))
    .sort(([a], [b]) => a.localeCompare(b));
  const args = ['proxy', '--discovery', opts.discoveryAddress, '--workload', workload, '-n', namespace, ...(appPort ? ['--app-port', String(appPort)] : []), ...labels.flatMap(([k, v]) => ['--label', `${k}=${v}`])];
  const sidecar = {
    name: SIDECAR_NAME,
    image: opts.image,
    args,
    ports: [
      { name: 'http-envoy-prom', containerPort: 15090, protocol: 'TCP' },
      { name: 'health', containerPort: 15021, protocol: 'TCP' },
    ],
    readinessProbe: { httpGet: { path: '/healthz/ready', port: 15021 }, periodSeconds: 2, failureThreshold: 30 },
    securityContext: { runAsUser: 1337, runAsGroup: 1337, runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
    resources: { requests: { cpu: '10m', memory: '40Mi' }, limits: { cpu: '1', memory: '256Mi' } },
  };
  const status = JSON.stringify({ containers: [SIDECAR_NAME], workload, discovery: opts.discoveryAddress });
  const patch: JsonPatchOp[] = [{ op: 'add', path: '/spec/containers/-', value: sidecar }];
  if (!pod.metadata?.annotations) patch.push({ op: 'add', path: '/metadata/annotations', value: { [STATUS_ANNOTATION]: status } });
  else patch.push({ op: 'add', path: `/metadata/annotations/${escapePointer(STATUS_ANNOTATION)}`, value: status });
  const out: PodLike = {
    ...pod,
    metadata: { ...pod.metadata, annotations: { ...annotations, [STATUS_ANNOTATION]: status } },
    spec: { ...pod.spec, containers: [...containers, sidecar] },
  };
  return { injected: true, pod: out, patch };
}

/** RFC 6901: `~` and `/` in a key are escaped in a JSON Pointer. */
function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}
