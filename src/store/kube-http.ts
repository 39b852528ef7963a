import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type * as K8s from '@kubernetes/client-node';
import type { Dispatcher } from 'undici';
import type { KindInfo } from '../api/kinds.js';
import { ClusterError } from '../core/errors.js';
import { cjs } from '../core/module-interop.js';
import { KubeHttpError, type KubeStatus } from './kube-errors.js';

type ClientNode = typeof K8s;
type Undici = typeof import('undici');

const FIX_KUBECONFIG = 'fix the kubeconfig (--kubeconfig, KUBECONFIG or ~/.kube/config), or use --local DIR for a local mesh';

export interface KubeHttpOptions {
  /** A kubeconfig path, or several joined by ':' as in KUBECONFIG (merged, first wins). */
  kubeconfig?: string | undefined;
  context?: string | undefined;
  env: Record<string, string | undefined>;
  requestTimeoutMs: number;
}

/**
 * The one HTTP client to the API server, shared by the ConfigStore (kube-store.ts) and the
 * installer (kube-apply.ts). client-node does what it is best at — reading kubeconfigs as kubectl
 * does and authenticating each request (exec and OIDC plugins refresh tokens here) — and undici
 * carries plain JSON: client-node's typed models drop `x-kubernetes-*` keys (a CRD would not
 * survive a round trip) and turn timestamps into Dates.
 */
export class KubeHttp {
  readonly k8s: ClientNode;
  readonly kc: K8s.KubeConfig;
  readonly server: string;
  readonly context: string;
  readonly #undici: Undici;
  readonly #timeoutMs: number;
  /** One connection pool for the client's life: client-node makes a new one per request otherwise. */
  #dispatcher: Dispatcher | undefined;

  private constructor(k8s: ClientNode, undici: Undici, kc: K8s.KubeConfig, timeoutMs: number) {
    this.k8s = k8s;
    this.kc = kc;
    this.#undici = undici;
    this.#timeoutMs = timeoutMs;
    this.context = kc.getCurrentContext();
    this.server = kc.getCurrentCluster()?.server ?? '';
  }

  /** Loads client-node and undici (only here: they are the slowest modules to start) and the kubeconfig. */
  static async open(opts: KubeHttpOptions): Promise<KubeHttp> {
    const [k8s, undici] = await Promise.all([import('@kubernetes/client-node').then(cjs), import('undici').then(cjs)]);
    return new KubeHttp(k8s, undici, loadKubeConfig(k8s, opts), opts.requestTimeoutMs);
  }

  async request<T>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    req: { query?: Record<string, string>; body?: unknown; contentType?: string } = {},
  ): Promise<T> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(req.query ?? {})) url.searchParams.set(k, v);
    const ctx = new this.k8s.RequestContext(url.toString(), this.k8s.HttpMethod[method]);
    // Per request: exec and OIDC auth providers refresh expiring tokens here.
    await this.kc.applySecurityAuthentication(ctx);
    this.#dispatcher ??= ctx.getDispatcher() as Dispatcher | undefined;
    const headers: Record<string, string> = { ...ctx.getHeaders(), Accept: 'application/json' };
    if (req.body !== undefined) headers['Content-Type'] = req.contentType ?? 'application/json';
    const res = await this.#undici.fetch(url, {
      method,
      headers,
      // JSON is YAML, so the apply-patch+yaml content type takes it as it is.
      body: req.body === undefined ? undefined : JSON.stringify(req.body),
      signal: AbortSignal.timeout(this.#timeoutMs),
      ...(this.#dispatcher ? { dispatcher: this.#dispatcher } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new KubeHttpError(res.status, parseStatus(text));
    return (text ? JSON.parse(text) : {}) as T;
  }

  async close(): Promise<void> {
    const d = this.#dispatcher;
    this.#dispatcher = undefined;
    // Idle keep-alive sockets would otherwise hold a finished CLI process open for seconds.
    await d?.destroy();
  }
}

export function collectionPath(info: KindInfo, namespace: string | undefined): string {
  const base = info.group ? `/apis/${info.group}/${info.version}` : `/api/${info.version}`;
  return info.namespaced && namespace ? `${base}/namespaces/${encodeURIComponent(namespace)}/${info.plural}` : `${base}/${info.plural}`;
}

export function objectPath(info: KindInfo, namespace: string | undefined, name: string): string {
  return `${collectionPath(info, namespace)}/${encodeURIComponent(name)}`;
}

function parseStatus(text: string): KubeStatus | undefined {
  try {
    const body = JSON.parse(text) as unknown;
    return body && typeof body === 'object' ? (body as KubeStatus) : undefined;
  } catch {
    return text ? { message: text.trim().slice(0, 300) } : undefined;
  }
}

/** Reads kubeconfigs as kubectl does; every failure is a ClusterError naming the file or context. */
export function loadKubeConfig(k8s: ClientNode, opts: Pick<KubeHttpOptions, 'kubeconfig' | 'context' | 'env'>): K8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  const given = opts.kubeconfig ?? opts.env.KUBECONFIG;
  const files = given ? given.split(':').filter(Boolean) : [join(opts.env.HOME ?? homedir(), '.kube', 'config')];
  const present = files.filter((f) => existsSync(f));
  if (present.length === 0) {
    if (!given && opts.env.KUBERNETES_SERVICE_HOST) {
      // Inside a pod (the controller): the service account's token and CA.
      kc.loadFromCluster();
      return kc;
    }
    const where = given ? (files.length === 1 ? `kubeconfig ${files[0]} does not exist` : `none of the kubeconfig files ${files.join(', ')} exists`) : `no kubeconfig: ${files[0]} does not exist`;
    throw new ClusterError(where, FIX_KUBECONFIG, undefined, 'E_KUBECONFIG');
  }
  for (const [i, file] of present.entries()) {
    try {
      if (i === 0) {
        kc.loadFromFile(file);
      } else {
        // As kubectl: the first file to define a name wins, and the first current-context set.
        const more = new k8s.KubeConfig();
        more.loadFromFile(file);
        const add = <T extends { name: string }>(mine: T[], theirs: T[]): T[] => [...mine, ...theirs.filter((t) => !mine.some((m) => m.name === t.name))];
        kc.loadFromOptions({
          clusters: add(kc.getClusters(), more.getClusters()),
          users: add(kc.getUsers(), more.getUsers()),
          contexts: add(kc.getContexts(), more.getContexts()),
          currentContext: kc.getCurrentContext() || more.getCurrentContext(),
        });
      }
    } catch (err) {
      throw new ClusterError(`cannot read kubeconfig ${file}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`, FIX_KUBECONFIG, err, 'E_KUBECONFIG');
    }
  }
  const source = present.join(':');
  const contexts = kc.getContexts().map((c) => c.name);
  const available = contexts.length ? `contexts in it: ${contexts.join(', ')}` : 'it defines no contexts';
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) {
      throw new ClusterError(`context "${opts.context}" not found in kubeconfig ${source}`, `${available}; pick one with --context`, undefined, 'E_KUBECONFIG');
    }
    kc.setCurrentContext(opts.context);
  }
  const current = kc.getCurrentContext();
  if (!current || !kc.getContextObject(current)) {
    throw new ClusterError(
      current ? `the current context "${current}" of kubeconfig ${source} does not exist` : `kubeconfig ${source} has no current context`,
      `${available}; pick one with --context`,
      undefined,
      'E_KUBECONFIG',
    );
  }
  const ctx = kc.getContextObject(current);
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) {
    throw new ClusterError(`context "${current}" in kubeconfig ${source} names cluster "${ctx?.cluster ?? ''}", which is not defined there`, FIX_KUBECONFIG, undefined, 'E_KUBECONFIG');
  }
  if (!URL.canParse(cluster.server)) {
    throw new ClusterError(`cluster "${cluster.name}" in kubeconfig ${source} has a server that is not a URL: "${cluster.server}"`, FIX_KUBECONFIG, undefined, 'E_KUBECONFIG');
  }
  return kc;
}
