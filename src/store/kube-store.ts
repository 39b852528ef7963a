import { isDeepStrictEqual } from 'node:util';
import { apiVersionOf, KINDS, kindInfo, lookupKind, type KindInfo } from '../api/kinds.js';
import type { Resource, ResourceRef } from '../api/resource.js';
import { ConflictError, InputError } from '../core/errors.js';
import {
  MAX_MODIFY_RETRIES,
  StoreConflict,
  type ApplyOptions,
  type ConfigStore,
  type ModifyResult,
  type WatchEvent,
  type Watcher,
} from './config-store.js';
import { KubeHttpError, toStoreError, type KubeOperation } from './kube-errors.js';
import { collectionPath, KubeHttp, objectPath } from './kube-http.js';
import { ListWatch, type BackoffOptions, type ListWatchSource, type RawWatchEvent } from './kube-watch.js';


export interface KubeStoreOptions {
  /** A kubeconfig path, or several joined by ':' as in KUBECONFIG (merged, first wins). */
  kubeconfig?: string | undefined;
  context?: string | undefined;
  env: Record<string, string | undefined>;
  /** Per-request limit for everything but watches. */
  requestTimeoutMs?: number;
  /** Ask the server to end each watch after this long (tests use it to force reconnects). */
  watchTimeoutSeconds?: number;
  watchBackoff?: BackoffOptions;
}

const FIELD_MANAGER = 'meshctl';
const APPLY_PATCH = 'application/apply-patch+yaml';
// Read-only metadata the server owns; sending it in an apply would only cause errors or noise.
const SERVER_METADATA = ['managedFields', 'creationTimestamp', 'uid', 'generation', 'selfLink', 'deletionTimestamp', 'deletionGracePeriodSeconds'] as const;

/**
 * ConfigStore on a real Kubernetes API server. Requests go through client-node's KubeConfig (auth
 * providers, TLS, proxies) and undici, with plain JSON in and out for every kind: client-node's
 * typed models would turn timestamps into Date objects and drop fields they do not know
 * (`x-kubernetes-*` keys, newer API fields), and mesh objects are plain JSON anyway.
 * Writes use field manager "meshctl": server-side apply for an object the caller owns (no
 * resourceVersion), an update carrying the resourceVersion for read-modify-write (apply with a
 * resourceVersion, modify), and a create when modify finds nothing, so every race is a 409.
 */
export class KubeStore implements ConfigStore {
  readonly backend = 'kube' as const;
  readonly location: string;
  readonly defaultNamespace: string;
  readonly #http: KubeHttp;
  readonly #opts: Required<Pick<KubeStoreOptions, 'requestTimeoutMs' | 'watchBackoff'>> & Pick<KubeStoreOptions, 'watchTimeoutSeconds'>;
  readonly #watchers = new Set<Watcher>();

  private constructor(http: KubeHttp, opts: KubeStoreOptions) {
    this.#http = http;
    this.location = `context "${http.context}"`;
    this.defaultNamespace = http.kc.getContextObject(http.context)?.namespace || 'default';
    this.#opts = {
      requestTimeoutMs: opts.requestTimeoutMs ?? 30_000,
      watchBackoff: opts.watchBackoff ?? { initialMs: 100, maxMs: 5_000 },
      watchTimeoutSeconds: opts.watchTimeoutSeconds,
    };
  }

  /**
   * Loads the kubeconfig the way kubectl does: the given path(s), else KUBECONFIG, else
   * ~/.kube/config, else the in-cluster service account. Fails with a ClusterError naming the
   * file or context (and the contexts that exist) when that cannot work.
   */
  static async fromKubeconfig(opts: KubeStoreOptions): Promise<KubeStore> {
    return new KubeStore(await KubeHttp.open({ ...opts, requestTimeoutMs: opts.requestTimeoutMs ?? 30_000 }), opts);
  }

  async list(kind: string, namespace?: string): Promise<Resource[]> {
    return (await this.#list(infoOf(kind), namespace)).items;
  }

  async get(ref: ResourceRef): Promise<Resource | undefined> {
    const info = infoOf(ref.kind);
    const namespace = this.#namespaceFor(info, ref.namespace);
    const op = this.#op('get', info, namespace, ref.name);
    try {
      return withType(await this.#http.request<Resource>('GET', objectPath(info, namespace, ref.name)), info);
    } catch (err) {
      if (isObjectNotFound(err)) return undefined;
      throw toStoreError(err, op);
    }
  }

  async apply(resource: Resource, opts: ApplyOptions = {}): Promise<Resource> {
    const info = infoOf(resource.kind);
    const namespace = this.#namespaceFor(info, resource.metadata?.namespace);
    const name = resource.metadata?.name;
    if (!name) throw new InputError(`${resource.kind} without metadata.name cannot be applied`, 'set metadata.name');
    const body = toSend(resource, info, namespace);
    const dryRun: Record<string, string> = opts.dryRun ? { dryRun: 'All' } : {};
    const path = objectPath(info, namespace, name);
    if (body.metadata.resourceVersion) {
      // The caller read the object and writes back all of it: an update (PUT) carrying the
      // resourceVersion. The server refuses it with 409 when the object changed since, and with 404
      // when it was deleted since. (A server-side apply would check the version too, but it
      // silently re-creates an object deleted meanwhile.)
      const op = this.#op('update', info, namespace, name);
      try {
        return withType(await this.#http.request<Resource>('PUT', path, { query: { fieldManager: FIELD_MANAGER, ...dryRun }, body }), info);
      } catch (err) {
        if (isObjectNotFound(err)) throw new StoreConflict({ kind: info.kind, namespace, name });
        throw toStoreError(err, op);
      }
    }
    // The caller owns the fields it sends: server-side apply, taking them over from other managers.
    const op = this.#op('patch', info, namespace, name);
    try {
      return withType(await this.#http.request<Resource>('PATCH', path, { query: { fieldManager: FIELD_MANAGER, force: 'true', ...dryRun }, body, contentType: APPLY_PATCH }), info);
    } catch (err) {
      throw toStoreError(err, op);
    }
  }

  async modify(ref: ResourceRef, mutate: (current: Resource | undefined) => Resource | undefined, opts: ApplyOptions = {}): Promise<ModifyResult> {
    const info = infoOf(ref.kind);
    const namespace = this.#namespaceFor(info, ref.namespace);
    for (let retries = 0; ; retries++) {
      const before = await this.get({ kind: info.kind, namespace, name: ref.name });
      const desired = mutate(before === undefined ? undefined : structuredClone(before));
      if (desired === undefined || (before !== undefined && isDeepStrictEqual(desired, before))) {
        return { before, after: before, changed: false, retries };
      }
      const next: Resource = { ...desired, kind: info.kind, metadata: { ...desired.metadata, name: ref.name, ...(info.namespaced ? { namespace } : {}) } };
      try {
        let after: Resource;
        if (before) {
          next.metadata.resourceVersion = before.metadata.resourceVersion;
          after = await this.apply(next, opts);
        } else {
          // Create, not apply: an apply would silently merge into an object someone else created
          // meanwhile; a create fails with 409 and the loop starts over on fresh data.
          after = await this.#create(next, info, namespace, opts);
        }
        return { before, after, changed: true, retries };
      } catch (err) {
        if (!(err instanceof StoreConflict)) throw err;
        if (retries >= MAX_MODIFY_RETRIES) {
          throw new ConflictError(
            `${info.kind} ${ref.name} in namespace "${namespace ?? ''}" kept changing: ${retries + 1} writes in a row lost a race`,
            'something else writes to it constantly; try again later',
          );
        }
        // Random spread so writers that collided do not collide again in lock-step.
        await new Promise((r) => setTimeout(r, Math.random() * 10 * (retries + 1)));
      }
    }
  }

  async delete(ref: ResourceRef, opts: { dryRun?: boolean } = {}): Promise<boolean> {
    const info = infoOf(ref.kind);
    const namespace = this.#namespaceFor(info, ref.namespace);
    const op = this.#op('delete', info, namespace, ref.name);
    try {
      await this.#http.request('DELETE', objectPath(info, namespace, ref.name), { query: opts.dryRun ? { dryRun: 'All' } : {} });
      return true;
    } catch (err) {
      if (isObjectNotFound(err)) return false;
      throw toStoreError(err, op);
    }
  }

  /** Emits the current objects as ADDED first (like a watch without a resourceVersion), then changes. */
  async watch(kind: string, namespace: string | undefined, onEvent: (event: WatchEvent) => void, onError: (err: Error) => void = () => {}): Promise<Watcher> {
    const info = infoOf(kind);
    const ns = info.namespaced ? namespace : undefined;
    const op = this.#op('watch', info, ns);
    const source: ListWatchSource = {
      list: () => this.#list(info, ns),
      watch: (resourceVersion, onRaw, onClose) => this.#openWatch(info, ns, resourceVersion, onRaw, onClose),
      toError: (err) => toStoreError(err, op),
    };
    const lw = new ListWatch(source, (e) => onEvent({ type: e.type, resource: withType(e.resource, info) }), onError, this.#opts.watchBackoff);
    await lw.start();
    const watcher: Watcher = {
      stop: async () => {
        this.#watchers.delete(watcher);
        await lw.stop();
      },
    };
    this.#watchers.add(watcher);
    return watcher;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#watchers].map((w) => w.stop()));
    await this.#http.close();
  }

  async #list(info: KindInfo, namespace: string | undefined): Promise<{ items: Resource[]; resourceVersion: string }> {
    const ns = info.namespaced ? namespace : undefined;
    const op = this.#op('list', info, ns);
    const items: Resource[] = [];
    let resourceVersion = '';
    let token: string | undefined;
    try {
      // Pages keep each answer small on big clusters; the continue token pins one consistent snapshot.
      do {
        const page = await this.#http.request<{ items?: Resource[]; metadata?: { resourceVersion?: string; continue?: string } }>('GET', collectionPath(info, ns), {
          query: { limit: '500', ...(token ? { continue: token } : {}) },
        });
        for (const item of page.items ?? []) items.push(withType(item, info));
        resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
        token = page.metadata?.continue || undefined;
      } while (token);
    } catch (err) {
      throw toStoreError(err, op);
    }
    return { items, resourceVersion };
  }

  async #create(resource: Resource, info: KindInfo, namespace: string | undefined, opts: ApplyOptions): Promise<Resource> {
    const op = this.#op('create', info, namespace, resource.metadata.name);
    const body = toSend(resource, info, namespace);
    delete body.metadata.resourceVersion;
    try {
      return withType(
        await this.#http.request<Resource>('POST', collectionPath(info, namespace), { query: { fieldManager: FIELD_MANAGER, ...(opts.dryRun ? { dryRun: 'All' } : {}) }, body }),
        info,
      );
    } catch (err) {
      throw toStoreError(err, op);
    }
  }

  async #openWatch(info: KindInfo, namespace: string | undefined, resourceVersion: string, onEvent: (e: RawWatchEvent) => void, onClose: (err: unknown) => void): Promise<{ abort(): void }> {
    const w = new this.#http.k8s.Watch(this.#http.kc);
    const query: Record<string, string | number | boolean | undefined> = { resourceVersion, allowWatchBookmarks: true };
    if (this.#opts.watchTimeoutSeconds !== undefined) query.timeoutSeconds = this.#opts.watchTimeoutSeconds;
    const controller = await w.watch(collectionPath(info, namespace), query, (type: string, object: unknown) => onEvent({ type, object }), onClose);
    return { abort: () => controller.abort() };
  }

  #op(verb: KubeOperation['verb'], info: KindInfo, namespace: string | undefined, name?: string): KubeOperation {
    return { verb, info, namespace, name, server: this.#http.server, context: this.#http.context };
  }

  #namespaceFor(info: KindInfo, namespace: string | undefined): string | undefined {
    return info.namespaced ? namespace || this.defaultNamespace : undefined;
  }
}

function infoOf(kind: string): KindInfo {
  const info = kindInfo(kind) ?? lookupKind(kind);
  if (!info) throw new InputError(`unknown kind "${kind}"`, `meshctl knows ${KINDS.map((k) => k.kind).join(', ')}`, 'E_UNKNOWN_KIND');
  return info;
}

/** List items come without apiVersion and kind; every Resource the store returns has both. */
function withType(r: Resource, info: KindInfo): Resource {
  r.apiVersion = apiVersionOf(info);
  r.kind = info.kind;
  return r;
}

/** The object as an apply or create sends it: our version of the kind, no status, no server-owned metadata. */
function toSend(resource: Resource, info: KindInfo, namespace: string | undefined): Resource {
  const { status: _status, ...rest } = structuredClone(resource);
  const metadata = { ...rest.metadata };
  for (const key of SERVER_METADATA) delete metadata[key];
  if (namespace !== undefined) metadata.namespace = namespace;
  return { ...rest, apiVersion: apiVersionOf(info), kind: info.kind, metadata };
}

function isObjectNotFound(err: unknown): boolean {
  // A 404 naming the object means "no such object"; without a name the whole kind is missing.
  return err instanceof KubeHttpError && err.status === 404 && Boolean(err.body?.details?.name) && err.body?.details?.kind !== 'namespaces';
}

