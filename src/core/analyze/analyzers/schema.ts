import { crdKinds, crdSchema, servedVersions, validateResource } from '../../../api/validate.js';
import { CelValidator } from '../cel.js';
import type { Analyzer, FieldPath } from '../types.js';

/**
 * What the API server would refuse, found offline: the CRD's openAPIV3Schema (unknown fields, wrong
 * types, enums: IST0106 as istioctl), its CEL rules (MSH0301; istioctl does not run them), and
 * apiVersions the CRD marks deprecated (IST0002).
 */
export const schema: Analyzer = {
  name: 'schema.validation',
  codes: ['IST0002', 'IST0106', 'MSH0301'],
  description: 'Mesh resources match their CRD schema and CEL rules; deprecated apiVersions are flagged',
  inputs: ['AuthorizationPolicy', 'Deployment', 'DestinationRule', 'Gateway', 'PeerAuthentication', 'RequestAuthentication', 'ServiceEntry', 'Sidecar', 'VirtualService', 'WorkloadEntry'],
  async analyze(ctx, report) {
    for (const [kind, versions] of REMOVED_APIS) {
      for (const input of ctx.of(kind)) {
        const hit = versions.find(([v]) => v === input.resource.apiVersion);
        if (hit) report.report('IST0002', input, ['apiVersion'], `${input.resource.apiVersion} ${kind} ${hit[1]}`);
      }
    }
    const kinds = new Set(crdKinds());
    const cel = new CelValidator();
    for (const kind of kinds) {
      for (const input of ctx.of(kind)) {
        const r = input.resource;
        const issues = await validateResource(r);
        for (const issue of issues) report.report('IST0106', input, parsePath(issue.path), `${issue.path}: ${issue.message}`);
        if (issues.some((i) => i.keyword === 'apiVersion' || i.keyword === 'kind')) continue;
        const version = r.apiVersion.slice(r.apiVersion.indexOf('/') + 1);
        const served = servedVersions(kind).find((v) => v.name === version);
        if (served?.deprecated) {
          const latest = servedVersions(kind).find((v) => v.storage)?.name;
          report.report('IST0002', input, ['apiVersion'], served.deprecationWarning ?? `${r.apiVersion} ${kind} is deprecated${latest ? `; use ${r.apiVersion.split('/')[0]}/${latest}` : ''}`);
        }
        const s = crdSchema(kind, version) as { properties?: Record<string, unknown> } | undefined;
        const spec = s?.properties?.spec;
        if (!spec || r.spec === undefined) continue;
        for (const v of cel.validate(spec, r.spec, ['spec'])) {
          // Durations are MSH0202's (config.durations-percentages), with a clearer message.
          if (v.rule.startsWith('duration(self)')) continue;
          report.report('MSH0301', input, v.path, pathText(v.path), v.message);
        }
      }
    }
    if (cel.unevaluated.size) report.skip(`${cel.unevaluated.size} CEL rule(s) use functions not available offline (e.g. url()) and were not evaluated`);
  },
};

/**
 * API versions the inputs may still carry from old charts, and what replaced them. Istio's own CRD
 * versions come from the CRDs' `deprecated` flags above; these are Kubernetes' removed betas and
 * Istio's removed pre-1.6 security APIs, which no current server accepts.
 */
const REMOVED_APIS: readonly (readonly [string, readonly (readonly [string, string])[]])[] = [
  ['CronJob', [['batch/v1beta1', 'was removed in Kubernetes 1.25; use batch/v1']]],
  ['DaemonSet', [['extensions/v1beta1', 'was removed in Kubernetes 1.16; use apps/v1'], ['apps/v1beta2', 'was removed in Kubernetes 1.16; use apps/v1']]],
  ['Deployment', [['extensions/v1beta1', 'was removed in Kubernetes 1.16; use apps/v1'], ['apps/v1beta1', 'was removed in Kubernetes 1.16; use apps/v1'], ['apps/v1beta2', 'was removed in Kubernetes 1.16; use apps/v1']]],
  ['HorizontalPodAutoscaler', [['autoscaling/v2beta1', 'was removed in Kubernetes 1.25; use autoscaling/v2'], ['autoscaling/v2beta2', 'was removed in Kubernetes 1.26; use autoscaling/v2']]],
  ['Ingress', [['extensions/v1beta1', 'was removed in Kubernetes 1.22; use networking.k8s.io/v1'], ['networking.k8s.io/v1beta1', 'was removed in Kubernetes 1.22; use networking.k8s.io/v1']]],
  ['MeshPolicy', [['authentication.istio.io/v1alpha1', 'was removed in Istio 1.6; use a PeerAuthentication in the root namespace (security.istio.io/v1)']]],
  ['PodDisruptionBudget', [['policy/v1beta1', 'was removed in Kubernetes 1.25; use policy/v1']]],
  ['Policy', [['authentication.istio.io/v1alpha1', 'was removed in Istio 1.6; use PeerAuthentication/RequestAuthentication (security.istio.io/v1)']]],
  ['ServiceRole', [['rbac.istio.io/v1alpha1', 'was removed in Istio 1.6; use AuthorizationPolicy (security.istio.io/v1)']]],
  ['ServiceRoleBinding', [['rbac.istio.io/v1alpha1', 'was removed in Istio 1.6; use AuthorizationPolicy (security.istio.io/v1)']]],
  ['StatefulSet', [['apps/v1beta1', 'was removed in Kubernetes 1.16; use apps/v1'], ['apps/v1beta2', 'was removed in Kubernetes 1.16; use apps/v1']]],
];

/** `spec.http[0].route[1].weight` -> ['spec', 'http', 0, 'route', 1, 'weight']. */
export function parsePath(path: string): FieldPath {
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (m[2] !== undefined) out.push(Number(m[2]));
    else if (m[1] !== undefined) out.push(m[1]);
  }
  return out;
}

function pathText(path: FieldPath): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i ? `.${p}` : p)).join('');
}
