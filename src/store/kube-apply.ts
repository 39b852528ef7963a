import type { KindInfo } from '../api/kinds.js';
import { kindInfo } from '../api/kinds.js';
import type { Resource } from '../api/resource.js';
import { ClusterError, InputError, MeshctlError } from '../core/errors.js';
import { KubeHttpError, toStoreError, type KubeOperation } from './kube-errors.js';
import { collectionPath, KubeHttp, objectPath } from './kube-http.js';

/**
 * Generic server-side apply of arbitrary objects (CRDs, RBAC, webhook configurations, HPAs,
 * PDBs...) for `meshctl install` and `uninstall`. The ConfigStore knows only the kinds mesh
 * commands use; an install needs every kind it renders, dry runs, label-selected listing for
 * pruning, permission pre-checks and waiting. Plain JSON over client-node's auth and undici, as
 * KubeStore does: client-node's typed models drop fields such as `x-kubernetes-int-or-string`.
 */

export const FIELD_MANAGER = 'meshctl';

const ns = (kind: string, group: string, version: string, plural: string): KindInfo => ({ kind, group, version, plural, namespaced: true, mesh: false });
const cluster = (kind: string, group: string, version: string, plural: string): KindInfo => ({ kind, group, version, plural, namespaced: false, mesh: false });

/** The kinds an install renders, beyond those in src/api/kinds.ts. */
const INSTALL_KINDS: readonly KindInfo[] = [
  cluster('ClusterRole', 'rbac.authorization.k8s.io', 'v1', 'clusterroles'),
  cluster('ClusterRoleBinding', 'rbac.authorization.k8s.io', 'v1', 'clusterrolebindings'),
  cluster('CustomResourceDefinition', 'apiextensions.k8s.io', 'v1', 'customresourcedefinitions'),
  ns('HorizontalPodAutoscaler', 'autoscaling', 'v2', 'horizontalpodautoscalers'),
  cluster('MutatingWebhookConfiguration', 'admissionregistration.k8s.io', 'v1', 'mutatingwebhookconfigurations'),
  ns('PodDisruptionBudget', 'policy', 'v1', 'poddisruptionbudgets'),
  ns('Role', 'rbac.authorization.k8s.io', 'v1', 'roles'),
  ns('RoleBinding', 'rbac.authorization.k8s.io', 'v1', 'rolebindings'),
  ns('ServiceAccount', '', 'v1', 'serviceaccounts'),
];

export function installKindInfo(kind: string): KindInfo {
  const info = INSTALL_KINDS.find((k) => k.kind === kind) ?? kindInfo(kind);
  if (!info) throw new InputError(`meshctl cannot apply objects of kind "${kind}"`, 'this is a bug in the install templates');
  return info;
}

/** Every kind an install may create, for listing what is installed (uninstall, prune). */
export function allInstallKinds(kinds: readonly string[]): KindInfo[] {
  return kinds.map(installKindInfo);
}

/** The RBAC resource name kubectl shows: `deployments.apps`, `secrets`. */
export function resourceName(info: KindInfo): string {
  return info.group ? `${info.plural}.${info.group}` : info.plural;
}

export interface AccessCheck {
  verb: string;
  info: KindInfo;
  namespace?: string | undefined;
  name?: string | undefined;
  subresource?: string | undefined;
}

export interface ServerVersion {
  major: string;
  minor: string;
  gitVersion: string;
}

export interface KubeApplierOptions {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  env: Record<string, string | undefined>;
  requestTimeoutMs?: number;
}

export class KubeApplier {
  readonly #http: KubeHttp;
  readonly server: string;
  readonly context: string;

  private constructor(http: KubeHttp) {
    this.#http = http;
    this.server = http.server;
    this.context = http.context;
  }

  static async open(opts: KubeApplierOptions): Promise<KubeApplier> {
    return new KubeApplier(await KubeHttp.open({ kubeconfig: opts.kubeconfig, context: opts.context, env: opts.env, requestTimeoutMs: opts.requestTimeoutMs ?? 30_000 }));
  }

  async close(): Promise<void> {
    await this.#http.close();
  }

  /** GET /version: also the reachability check, with the unreachable-server message of kube-errors. */
  async version(): Promise<ServerVersion> {
    try {
      return await this.#http.request<ServerVersion>('GET', '/version');
    } catch (err) {
      const mapped = this.#error(err, { verb: 'get', info: cluster('version', '', '', 'version'), namespace: undefined });
      if (mapped instanceof MeshctlError) throw mapped;
      // The first request: anything client-node refuses here (TLS settings, auth plugins) is a kubeconfig problem.
      throw new ClusterError(`cannot talk to the API server at ${this.server} (context "${this.context}"): ${mapped.message}`, 'fix the cluster or user of this context in the kubeconfig', err, 'E_KUBECONFIG');
    }
  }

  /** SelfSubjectAccessReview: may the current user do this? (No write happens.) */
  async allowed(check: AccessCheck): Promise<boolean> {
    const body = {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: {
        resourceAttributes: {
          verb: check.verb,
          group: check.info.group,
          version: check.info.version,
          resource: check.info.plural,
          ...(check.info.namespaced && check.namespace ? { namespace: check.namespace } : {}),
          ...(check.name ? { name: check.name } : {}),
          ...(check.subresource ? { subresource: check.subresource } : {}),
        },
      },
    };
    try {
      const res = await this.#http.request<{ status?: { allowed?: boolean } }>('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', { body });
      return res.status?.allowed === true;
    } catch (err) {
      throw this.#error(err, { verb: 'create', info: cluster('SelfSubjectAccessReview', 'authorization.k8s.io', 'v1', 'selfsubjectaccessreviews'), namespace: undefined });
    }
  }

  async get(r: { kind: string; namespace?: string | undefined; name: string }): Promise<Resource | undefined> {
    const info = installKindInfo(r.kind);
    try {
      const got = await this.#http.request<Resource>('GET', objectPath(info, r.namespace, r.name));
      return withType(got, info);
    } catch (err) {
      if (err instanceof KubeHttpError && err.status === 404) return undefined;
      throw this.#error(err, { verb: 'get', info, namespace: r.namespace, name: r.name });
    }
  }

  /** Objects of one kind with a label selector; namespace undefined lists cluster-wide. */
  async list(info: KindInfo, opts: { namespace?: string | undefined; labelSelector?: string } = {}): Promise<Resource[]> {
    const query: Record<string, string> = opts.labelSelector ? { labelSelector: opts.labelSelector } : {};
    try {
      const res = await this.#http.request<{ items?: Resource[] }>('GET', collectionPath(info, opts.namespace), { query });
      return (res.items ?? []).map((r) => withType(r, info));
    } catch (err) {
      if (err instanceof KubeHttpError && err.status === 404 && !err.body?.details?.name) return []; // kind not served
      throw this.#error(err, { verb: 'list', info, namespace: opts.namespace });
    }
  }

  /**
   * Server-side apply with field manager meshctl. `force` takes over fields another manager owns
   * (adopting CRDs an Istio install created); dryRun validates and returns the result unstored.
   */
  async apply(obj: Resource, opts: { dryRun?: boolean; force?: boolean } = {}): Promise<Resource> {
    const info = installKindInfo(obj.kind);
    const query: Record<string, string> = { fieldManager: FIELD_MANAGER };
    if (opts.force !== false) query.force = 'true';
    if (opts.dryRun) query.dryRun = 'All';
    try {
      const res = await this.#http.request<Resource>('PATCH', objectPath(info, obj.metadata.namespace, obj.metadata.name), {
        query,
        body: obj,
        contentType: 'application/apply-patch+yaml',
      });
      return withType(res, info);
    } catch (err) {
      throw this.#error(err, { verb: 'patch', info, namespace: obj.metadata.namespace, name: obj.metadata.name });
    }
  }

  /** A JSON merge patch: used to drop meshctl's labels from an adopted CRD it leaves behind. */
  async mergePatch(r: { kind: string; namespace?: string | undefined; name: string }, patch: unknown): Promise<void> {
    const info = installKindInfo(r.kind);
    try {
      await this.#http.request('PATCH', objectPath(info, r.namespace, r.name), { body: patch, contentType: 'application/merge-patch+json' });
    } catch (err) {
      throw this.#error(err, { verb: 'patch', info, namespace: r.namespace, name: r.name });
    }
  }

  /** Returns false when it was already gone. Background propagation: the API server's GC cleans up. */
  async delete(r: { kind: string; namespace?: string | undefined; name: string }, opts: { dryRun?: boolean } = {}): Promise<boolean> {
    const info = installKindInfo(r.kind);
    const query: Record<string, string> = { propagationPolicy: 'Background' };
    if (opts.dryRun) query.dryRun = 'All';
    try {
      await this.#http.request('DELETE', objectPath(info, r.namespace, r.name), { query });
      return true;
    } catch (err) {
      if (err instanceof KubeHttpError && err.status === 404) return false;
      throw this.#error(err, { verb: 'delete', info, namespace: r.namespace, name: r.name });
    }
  }

  /** Custom resources of a CRD in every namespace, for telling a user what --purge would destroy. */
  async countCustomObjects(crd: Resource): Promise<number> {
    const spec = crd.spec as { group: string; names: { plural: string; kind: string }; scope: string; versions: { name: string; served?: boolean; storage?: boolean }[] };
    const version = (spec.versions.find((v) => v.storage) ?? spec.versions[0])?.name ?? 'v1';
    const info: KindInfo = { kind: spec.names.kind, group: spec.group, version, plural: spec.names.plural, namespaced: spec.scope === 'Namespaced', mesh: true };
    return (await this.list(info)).length;
  }

  /**
   * Polls until `ready` says the object is ready, or throws a ClusterError after `timeoutMs` naming
   * what was awaited. `sleep` is injectable so the loop stays bounded and testable.
   */
  async waitFor(
    r: { kind: string; namespace?: string | undefined; name: string },
    ready: (obj: Resource | undefined) => string | true,
    opts: { timeoutMs: number; intervalMs?: number; now?: () => number; onWait?: (why: string, elapsedMs: number) => void },
  ): Promise<void> {
    const now = opts.now ?? Date.now;
    const start = now();
    const deadline = start + opts.timeoutMs;
    let why: string;
    for (;;) {
      const verdict = ready(await this.get(r));
      if (verdict === true) return;
      why = verdict;
      opts.onWait?.(why, now() - start);
      if (now() >= deadline) break;
      await new Promise((res) => setTimeout(res, Math.min(opts.intervalMs ?? 250, Math.max(0, deadline - now()))));
    }
    const where = r.namespace ? ` in namespace "${r.namespace}"` : '';
    throw new ClusterError(`${r.kind} ${r.name}${where} is not ready after ${Math.round(opts.timeoutMs / 1000)}s: ${why}`, 'check its events (kubectl describe), or wait longer with --timeout', undefined, 'E_TIMEOUT');
  }

  #error(err: unknown, op: Omit<KubeOperation, 'server' | 'context'>): Error {
    return toStoreError(err, { ...op, server: this.server, context: this.context });
  }

}

function withType(r: Resource, info: KindInfo): Resource {
  r.apiVersion = info.group ? `${info.group}/${info.version}` : info.version;
  r.kind = info.kind;
  return r;
}

/** Established=True: the API server serves the CRD's resource. */
export function crdEstablished(obj: Resource | undefined): string | true {
  if (!obj) return 'not found';
  const conditions = ((obj.status as { conditions?: { type: string; status: string; message?: string }[] } | undefined)?.conditions ?? []);
  const est = conditions.find((c) => c.type === 'Established');
  if (est?.status === 'True') return true;
  return est?.message ?? 'not Established yet';
}

/** kubectl rollout status's rule: the current generation observed and every replica updated and ready. */
export function deploymentReady(obj: Resource | undefined): string | true {
  if (!obj) return 'not found';
  const spec = obj.spec as { replicas?: number } | undefined;
  const status = (obj.status ?? {}) as { observedGeneration?: number; updatedReplicas?: number; readyReplicas?: number; availableReplicas?: number };
  const want = spec?.replicas ?? 1;
  if ((status.observedGeneration ?? 0) < (obj.metadata.generation ?? 0)) return 'the new version has not been picked up yet';
  const ready = status.readyReplicas ?? 0;
  const updated = status.updatedReplicas ?? 0;
  if (updated < want) return `${updated} of ${want} replicas updated`;
  if (ready < want) return `${ready} of ${want} replicas ready`;
  return true;
}
