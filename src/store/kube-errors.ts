import type { KindInfo } from '../api/kinds.js';
import { ClusterError, ForbiddenError, InputError, isMeshctlError, NotFoundError } from '../core/errors.js';
import { StoreConflict } from './config-store.js';

/** The body of a failed Kubernetes API call (`kind: Status`). */
export interface KubeStatus {
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; group?: string; kind?: string; causes?: { field?: string; message?: string }[] };
}

/** An API server answer that was not 2xx, with its Status body when it sent one. */
export class KubeHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: KubeStatus | undefined,
  ) {
    super(body?.message ?? `HTTP ${status}`);
    this.name = 'KubeHttpError';
  }
}

/** What was being done when an error happened: everything a one-line message needs to name. */
export interface KubeOperation {
  /** The RBAC verb of the request. */
  verb: 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';
  info: KindInfo;
  /** undefined: every namespace (or a cluster-scoped kind). */
  namespace: string | undefined;
  name?: string | undefined;
  server: string;
  context: string;
}

const FIX_CONNECTION = 'check the kubeconfig and its current context (or pass --context), or use --local DIR for a local mesh';

// Codes of the errors Node and undici raise when no HTTP answer arrives at all.
const UNREACHABLE: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'connection closed',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no answer in time',
  UND_ERR_BODY_TIMEOUT: 'no answer in time',
  UND_ERR_SOCKET: 'connection closed',
  UND_ERR_CLOSED: 'connection closed',
};

/**
 * The one place a failure talking to the API server becomes a meshctl error: a typed error with
 * one line naming what was asked of which server, and the fix. Conflicts become StoreConflict
 * (modify() retries those); anything unrecognised is returned unchanged.
 */
export function toStoreError(err: unknown, op: KubeOperation): Error {
  if (isMeshctlError(err) || err instanceof StoreConflict) return err;
  const what = describe(op);
  if (err instanceof KubeHttpError) return fromStatus(err, op, what);

  const statusCode = (err as { statusCode?: unknown } | null)?.statusCode;
  if (typeof statusCode === 'number') return fromStatus(new KubeHttpError(statusCode, undefined), op, what);

  const cause = networkCause(err);
  if (cause) {
    return new ClusterError(`cannot reach the API server at ${op.server} (context "${op.context}") to ${what}: ${cause}`, FIX_CONNECTION, err, 'E_CLUSTER_UNREACHABLE');
  }
  return err instanceof Error ? err : new Error(String(err));
}

function fromStatus(err: KubeHttpError, op: KubeOperation, what: string): Error {
  const message = err.body?.message ?? `HTTP ${err.status}`;
  switch (err.status) {
    case 401:
      return new ForbiddenError(
        `the API server at ${op.server} rejected the credentials of context "${op.context}" (401 Unauthorized) while trying to ${what}`,
        'log in again, or fix the user of this context in the kubeconfig',
        err,
        'E_UNAUTHORIZED',
      );
    case 403: {
      const where = op.info.namespaced ? (op.namespace ? `in namespace "${op.namespace}"` : 'in all namespaces') : 'cluster-wide';
      const resource = op.info.group ? `${op.info.plural}.${op.info.group}` : op.info.plural;
      return new ForbiddenError(
        `cannot ${what}: ${err.body?.message ?? '403 Forbidden'}`,
        `missing RBAC permission: ${op.verb} ${resource} ${where}; ask a cluster admin for a Role granting it`,
        err,
      );
    }
    case 404: {
      const details = err.body?.details;
      if (details?.kind === 'namespaces' && details.name) {
        return new NotFoundError(`namespace "${details.name}" does not exist (while trying to ${what})`, `create it first: kubectl create namespace ${details.name}`);
      }
      if (!details?.name && op.info.group) {
        // No object name in the answer: the API server does not serve the resource type at all.
        return new ClusterError(
          `the API server at ${op.server} does not serve ${op.info.kind} (${op.info.group}/${op.info.version}) (while trying to ${what})`,
          op.info.mesh ? 'install the mesh CRDs with meshctl install' : 'this Kubernetes version does not have it',
          err,
          'E_KIND_NOT_INSTALLED',
        );
      }
      return new NotFoundError(`${op.info.kind} ${op.name ?? ''} not found${op.namespace ? ` in namespace "${op.namespace}"` : ''}`.replace('  ', ' '), 'check the name and the namespace (-n)');
    }
    case 409:
      return new StoreConflict({ kind: op.info.kind, namespace: op.namespace, name: op.name ?? '' });
    case 500:
      // Server-side apply reports a value of the wrong type (a string where the schema wants a
      // list) as a 500 from building the typed patch, although the input is what is wrong.
      if (message.startsWith('failed to create typed patch object')) {
        return new InputError(`${op.info.kind} "${op.name ?? ''}" is invalid: ${message.replace(/^failed to create typed patch object \([^)]*\): /, '').replace(/&\{([^}]*)\}/g, '"$1"')}`, 'fix the field named above and apply again', 'E_INVALID');
      }
      return serverFailure(err, op, what, message);
    case 400:
    case 422:
      // The message already names the object and the field: `VirtualService.networking.istio.io "x" is invalid: spec.hosts: ...`.
      return new InputError(message, 'fix the field named above and apply again', 'E_INVALID');
    default:
      return serverFailure(err, op, what, message);
  }
}

function serverFailure(err: KubeHttpError, op: KubeOperation, what: string, message: string): ClusterError {
  return new ClusterError(`the API server at ${op.server} failed to ${what}: ${message} (HTTP ${err.status})`, 'try again; if it persists, check the API server', err, 'E_CLUSTER_ERROR');
}

function describe(op: KubeOperation): string {
  const target = op.name ? `${op.info.kind} "${op.name}"` : op.info.plural;
  const where = !op.info.namespaced ? '' : op.namespace ? ` in namespace "${op.namespace}"` : ' in all namespaces';
  return `${op.verb} ${target}${where}`;
}

/** A short reason when `err` (or one of its causes) is a network, TLS or timeout failure. */
function networkCause(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, name, message } = e as { code?: unknown; name?: unknown; message?: unknown };
    if (typeof code === 'string') {
      if (UNREACHABLE[code]) return `${UNREACHABLE[code]} (${code})`;
      if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(code)) return `TLS failed: ${typeof message === 'string' ? message : code}`;
    }
    if (name === 'TimeoutError' || name === 'AbortError') return 'no answer in time';
  }
  // Anything else fetch could not send (a port fetch refuses to use, a malformed server URL).
  if (err instanceof TypeError && err.message === 'fetch failed') {
    const cause = (err as { cause?: { message?: unknown } }).cause;
    return typeof cause?.message === 'string' ? cause.message : 'the request could not be sent';
  }
  return undefined;
}
