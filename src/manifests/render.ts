import { createHash } from 'node:crypto';
import type { Resource } from '../api/resource.js';
import { InputError } from '../core/errors.js';

/**
 * Rendering: validated values + version + the CRDs -> the ordered list of objects an install
 * consists of. Pure: no kube client, no file system, no clock; the same inputs give the same
 * objects in the same order (the golden tests in test/unit/manifests-golden.test.ts hold it to that).
 */

export const NAMESPACE = 'meshctl-system';
export const CONTROLLER = 'meshctl-controller';
export const WEBHOOK = 'meshctl-sidecar-injector';
export const MESH_CONFIG = 'meshctl-mesh-config';
export const CA_SECRET = 'meshctl-ca';

/** Every object meshctl installs carries these; `INSTALL_SELECTOR` finds them again. */
export const MANAGED_BY = 'app.kubernetes.io/managed-by';
export const PART_OF = 'app.kubernetes.io/part-of';
export const INSTALL_SELECTOR = `${MANAGED_BY}=meshctl,${PART_OF}=meshctl`;

export interface MeshValues {
  image: { registry: string; name: string; tag: string; pullPolicy: string };
  controller: {
    replicas: number;
    logLevel: string;
    resources: { requests: Record<string, string | number>; limits: Record<string, string | number> };
    autoscale: { enabled: boolean; minReplicas: number; maxReplicas: number; targetCPUUtilizationPercentage: number };
    podDisruptionBudget: { enabled: boolean; minAvailable: number };
  };
  crds: { install: boolean };
  injection: { enabled: boolean; namespaceLabel: string; failurePolicy: string };
  meshConfig: {
    trustDomain: string;
    mtls: { mode: string };
    accessLog: { enabled: boolean; encoding: string };
    tracing: { enabled: boolean; sampling: number; zipkinAddress: string };
  };
  ca: { cert: string; key: string };
}

export interface RenderInput {
  /** Values already merged and checked against values.schema.json (resolveValues). */
  values: Record<string, unknown>;
  profile: string;
  /** meshctl's version: the version label, and the image tag when values leave it empty. */
  version: string;
  /** CustomResourceDefinitions from third_party/istio/istio-crds.yaml, in file order. */
  crds: readonly Resource[];
  /**
   * The root CA to use when the values bring none: the one `meshctl install` found in the cluster's
   * meshctl-ca Secret or generated (the installer does that I/O; the renderer stays pure). Without
   * either, no CA Secret is rendered and the webhook gets no caBundle.
   */
  ca?: { cert: string; key: string; generated: boolean } | undefined;
}

/** On a CA Secret meshctl generated (not one the user brought): uninstall removes it with the rest. */
export const GENERATED_CA_ANNOTATION = 'meshctl.dev/generated';

/**
 * Apply order: what others depend on first. CRDs before anything that is a custom resource; RBAC
 * before the workload that uses it; the webhook last, so the API server never calls a webhook
 * whose backend is not there yet. Deletion runs in reverse.
 */
export const KIND_ORDER: readonly string[] = [
  'Namespace',
  'CustomResourceDefinition',
  'ServiceAccount',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
  'ConfigMap',
  'Secret',
  'Service',
  'Deployment',
  'HorizontalPodAutoscaler',
  'PodDisruptionBudget',
  'PeerAuthentication',
  'MutatingWebhookConfiguration',
];

export function kindRank(kind: string): number {
  const i = KIND_ORDER.indexOf(kind);
  return i < 0 ? KIND_ORDER.length : i;
}

export function renderManifests(input: RenderInput): Resource[] {
  const v = input.values as unknown as MeshValues;
  const version = input.version;
  const labels = (name: string): Record<string, string> => ({
    'app.kubernetes.io/name': name,
    [PART_OF]: 'meshctl',
    [MANAGED_BY]: 'meshctl',
    'app.kubernetes.io/version': version,
  });
  const meta = (name: string, namespaced = true): Resource['metadata'] =>
    namespaced ? { name, namespace: NAMESPACE, labels: labels(name) } : { name, labels: labels(name) };

  // The user's CA (values) wins; else the one the installer found or generated; else none.
  const ca = checkCA(v.ca) ? { cert: v.ca.cert, key: v.ca.key, generated: false } : input.ca;
  const hasCA = ca !== undefined;
  const out: Resource[] = [];

  out.push({ apiVersion: 'v1', kind: 'Namespace', metadata: meta(NAMESPACE, false) });

  if (v.crds.install) {
    for (const crd of input.crds) {
      // Only meshctl's labels: Istio's Helm labels (heritage: Tiller, ...) would claim a release
      // that did not install them. An Istio install's own labels stay, owned by its field manager.
      out.push({
        apiVersion: crd.apiVersion,
        kind: crd.kind,
        metadata: { name: crd.metadata.name, labels: labels('mesh-crds') },
        spec: crd.spec,
      });
    }
  }

  const selector = { app: CONTROLLER };
  out.push({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(CONTROLLER) });

  // Only what the controller does today: it reads mesh config and workloads. It writes no status,
  // checks no proxy tokens and runs no leader election yet; each gets its rule when it is built.
  const clusterRules: Record<string, unknown>[] = [
    { apiGroups: ['networking.istio.io', 'security.istio.io', 'telemetry.istio.io', 'extensions.istio.io'], resources: ['*'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: [''], resources: ['namespaces', 'pods', 'services'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
  ];
  out.push({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: meta(CONTROLLER, false), rules: clusterRules });
  out.push({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: meta(CONTROLLER, false),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: CONTROLLER },
    subjects: [{ kind: 'ServiceAccount', name: CONTROLLER, namespace: NAMESPACE }],
  });
  out.push({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: meta(CONTROLLER),
    rules: [
      // No secrets: the kubelet mounts the meshctl-ca Secret into the pod (MESHCTL_CA_DIR) and
      // meshctl install writes it; the controller's own identity never reads or writes Secrets.
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] },
    ],
  });
  out.push({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: meta(CONTROLLER),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: CONTROLLER },
    subjects: [{ kind: 'ServiceAccount', name: CONTROLLER, namespace: NAMESPACE }],
  });

  const meshConfigText = meshConfigYaml(v);
  out.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(MESH_CONFIG), data: { mesh: meshConfigText } });

  if (ca) {
    const metadata = meta(CA_SECRET);
    if (ca.generated) metadata.annotations = { [GENERATED_CA_ANNOTATION]: 'root CA generated by meshctl install' };
    out.push({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata,
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': b64(ca.cert), 'tls.key': b64(ca.key), 'ca.crt': b64(ca.cert) },
    });
  }

  out.push({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(CONTROLLER),
    spec: {
      selector,
      ports: [
        // Discovery is plain HTTP (NDJSON snapshot streams) on 15010; there is no TLS discovery port.
        { name: 'http-xds', port: 15010, targetPort: 15010, protocol: 'TCP' },
        { name: 'https-webhook', port: 443, targetPort: 15017, protocol: 'TCP' },
        { name: 'http-monitoring', port: 15014, targetPort: 15014, protocol: 'TCP' },
      ],
    },
  });

  const image = `${v.image.registry}/${v.image.name}:${v.image.tag || version}`;
  const volumes: Record<string, unknown>[] = [{ name: 'mesh-config', configMap: { name: MESH_CONFIG } }];
  const mounts: Record<string, unknown>[] = [{ name: 'mesh-config', mountPath: '/etc/meshctl/mesh', readOnly: true }];
  if (hasCA) {
    volumes.push({ name: 'ca', secret: { secretName: CA_SECRET } });
    mounts.push({ name: 'ca', mountPath: '/etc/meshctl/ca', readOnly: true });
  }
  const deploymentSpec: Record<string, unknown> = {
    // With autoscaling on, the HPA owns the replica count; applying one here would fight it.
    ...(v.controller.autoscale.enabled ? {} : { replicas: v.controller.replicas }),
    selector: { matchLabels: selector },
    template: {
      metadata: {
        labels: { ...selector, ...labels(CONTROLLER) },
        // Pods restart when the mesh config changes: the hash is part of the pod template.
        // So does a new CA: the controller issues its webhook certificate from it at start-up only.
        annotations: { 'meshctl.dev/mesh-config-hash': sha256(meshConfigText).slice(0, 16), ...(ca ? { 'meshctl.dev/ca-hash': sha256(ca.cert).slice(0, 16) } : {}), 'sidecar.istio.io/inject': 'false' },
      },
      spec: {
        serviceAccountName: CONTROLLER,
        securityContext: { runAsNonRoot: true, runAsUser: 1337, runAsGroup: 1337, fsGroup: 1337 },
        containers: [
          {
            name: 'controller',
            image,
            imagePullPolicy: v.image.pullPolicy,
            args: ['controller'],
            env: [
              { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
              { name: 'MESHCTL_LOG_LEVEL', value: v.controller.logLevel },
              { name: 'MESHCTL_MESH_CONFIG', value: '/etc/meshctl/mesh/mesh' },
              ...(hasCA ? [{ name: 'MESHCTL_CA_DIR', value: '/etc/meshctl/ca' }] : []),
            ],
            ports: [
              { name: 'http-xds', containerPort: 15010, protocol: 'TCP' },
              { name: 'https-webhook', containerPort: 15017, protocol: 'TCP' },
              { name: 'http-monitoring', containerPort: 15014, protocol: 'TCP' },
            ],
            readinessProbe: { httpGet: { path: '/ready', port: 15014 }, periodSeconds: 5, failureThreshold: 3 },
            resources: v.controller.resources,
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
            volumeMounts: mounts,
          },
        ],
        volumes,
      },
    },
  };
  out.push({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta(CONTROLLER), spec: deploymentSpec });

  if (v.controller.autoscale.enabled) {
    const a = v.controller.autoscale;
    if (a.minReplicas > a.maxReplicas) {
      throw new InputError(`value "controller.autoscale.minReplicas" (${a.minReplicas}) is larger than "controller.autoscale.maxReplicas" (${a.maxReplicas})`, 'raise maxReplicas or lower minReplicas');
    }
    out.push({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: meta(CONTROLLER),
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: CONTROLLER },
        minReplicas: a.minReplicas,
        maxReplicas: a.maxReplicas,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: a.targetCPUUtilizationPercentage } } }],
      },
    });
  }
  if (v.controller.podDisruptionBudget.enabled) {
    out.push({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: meta(CONTROLLER),
      spec: { minAvailable: v.controller.podDisruptionBudget.minAvailable, selector: { matchLabels: selector } },
    });
  }

  if (v.injection.enabled) {
    // The mesh-wide mTLS mode, the way Istio spells it: a PeerAuthentication in the root namespace.
    out.push({
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: meta('default'),
      spec: { mtls: { mode: v.meshConfig.mtls.mode } },
    });
    out.push({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: meta(WEBHOOK, false),
      webhooks: [
        {
          name: 'sidecar-injector.meshctl.dev',
          // The API server trusts the controller's serving certificate through this CA. Without one
          // (manifest generate with no ca.cert) there is no caBundle and the controller serves no webhook.
          clientConfig: { service: { name: CONTROLLER, namespace: NAMESPACE, path: '/inject', port: 443 }, ...(ca ? { caBundle: b64(ca.cert) } : {}) },
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
          namespaceSelector: { matchLabels: { [v.injection.namespaceLabel]: 'enabled' } },
          objectSelector: { matchExpressions: [{ key: 'sidecar.istio.io/inject', operator: 'NotIn', values: ['false'] }] },
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
          failurePolicy: v.injection.failurePolicy,
          reinvocationPolicy: 'Never',
          timeoutSeconds: 10,
        },
      ],
    });
  }

  return sortForApply(out);
}

/** Stable sort by KIND_ORDER: objects of one kind keep the order they were rendered in. */
export function sortForApply(resources: readonly Resource[]): Resource[] {
  return resources
    .map((r, i) => ({ r, i }))
    .sort((a, b) => kindRank(a.r.kind) - kindRank(b.r.kind) || a.i - b.i)
    .map((x) => x.r);
}

/** The mesh config the controller and every proxy read; Istio's MeshConfig field names. */
function meshConfigYaml(v: MeshValues): string {
  const m = v.meshConfig;
  const lines = [
    `trustDomain: ${JSON.stringify(m.trustDomain)}`,
    `rootNamespace: ${NAMESPACE}`,
    `defaultMtlsMode: ${m.mtls.mode}`,
    `accessLogFile: ${m.accessLog.enabled ? '/dev/stdout' : '""'}`,
    `accessLogEncoding: ${m.accessLog.encoding}`,
    `enableTracing: ${m.tracing.enabled}`,
    'defaultConfig:',
    '  tracing:',
    `    sampling: ${m.tracing.sampling}`,
    `    zipkin: { address: ${JSON.stringify(m.tracing.zipkinAddress)} }`,
    // Where injected sidecars stream their config from: the controller's plain-HTTP discovery port
    // (the webhook reads this; there is no TLS discovery port to name).
    `  discoveryAddress: ${CONTROLLER}.${NAMESPACE}.svc:15010`,
  ];
  return lines.join('\n') + '\n';
}

function checkCA(ca: MeshValues['ca']): boolean {
  const cert = ca.cert.trim();
  const key = ca.key.trim();
  if (!cert && !key) return false;
  if (!cert || !key) {
    throw new InputError(`value "${cert ? 'ca.key' : 'ca.cert'}" is empty but "${cert ? 'ca.cert' : 'ca.key'}" is set`, 'bring both the root certificate and its key, or neither');
  }
  if (!cert.includes('-----BEGIN CERTIFICATE-----')) throw new InputError('value "ca.cert" is not a PEM certificate', 'pass the PEM file with --set-file ca.cert=root-cert.pem');
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) throw new InputError('value "ca.key" is not a PEM private key', 'pass the PEM key file with --set-file ca.key=root-key.pem');
  return true;
}

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
