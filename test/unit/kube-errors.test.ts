import { describe, expect, it } from 'vitest';
import { kindInfo, type KindInfo } from '../../src/api/kinds.js';
import { StoreConflict } from '../../src/store/config-store.js';
import { KubeHttpError, toStoreError, type KubeOperation } from '../../src/store/kube-errors.js';

// The answers a test cluster does not give on demand (a kind whose CRD is not installed, a server
// failing, a timeout); the integration tests cover 401, 403, 422, refused connections and TLS.

const info = (kind: string): KindInfo => {
  const k = kindInfo(kind);
  if (!k) throw new Error(kind);
  return k;
};
const op = (over: Partial<KubeOperation> = {}): KubeOperation => ({
  verb: 'list',
  info: info('VirtualService'),
  namespace: 'shop',
  server: 'https://10.0.0.1:6443',
  context: 'prod',
  ...over,
});

describe('toStoreError', () => {
  it('a 404 without an object name means the kind is not installed: install the CRDs', () => {
    const e = toStoreError(new KubeHttpError(404, { message: '404 page not found' }), op());
    expect(e).toMatchObject({ name: 'ClusterError', exitCode: 69, code: 'E_KIND_NOT_INSTALLED', hint: 'install the mesh CRDs with meshctl install' });
    expect(e.message).toBe('the API server at https://10.0.0.1:6443 does not serve VirtualService (networking.istio.io/v1) (while trying to list virtualservices in namespace "shop")');
  });

  it('a 404 naming a namespace says which namespace is missing', () => {
    const e = toStoreError(new KubeHttpError(404, { reason: 'NotFound', details: { name: 'shop', kind: 'namespaces' } }), op({ verb: 'patch', name: 'reviews' }));
    expect(e).toMatchObject({ name: 'NotFoundError', exitCode: 65, message: 'namespace "shop" does not exist (while trying to patch VirtualService "reviews" in namespace "shop")' });
  });

  it('409 becomes StoreConflict, which modify() retries', () => {
    expect(toStoreError(new KubeHttpError(409, { reason: 'Conflict' }), op({ verb: 'update', name: 'reviews' }))).toBeInstanceOf(StoreConflict);
  });

  it('a server failure is a cluster error with the status and the server', () => {
    const e = toStoreError(new KubeHttpError(503, { message: 'etcdserver: leader changed' }), op({ verb: 'get', name: 'reviews' }));
    expect(e).toMatchObject({ name: 'ClusterError', exitCode: 69 });
    expect(e.message).toBe('the API server at https://10.0.0.1:6443 failed to get VirtualService "reviews" in namespace "shop": etcdserver: leader changed (HTTP 503)');
  });

  it('timeouts and resets deep in the cause chain are "cannot reach", with the fix', () => {
    const timeout = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('Connect Timeout Error'), { code: 'UND_ERR_CONNECT_TIMEOUT' }) });
    const e = toStoreError(timeout, op());
    expect(e).toMatchObject({ name: 'ClusterError', exitCode: 69 });
    expect(e.message).toBe('cannot reach the API server at https://10.0.0.1:6443 (context "prod") to list virtualservices in namespace "shop": connection timed out (UND_ERR_CONNECT_TIMEOUT)');
    expect((e as { hint?: string }).hint).toContain('--local DIR');
    const aborted = toStoreError(new DOMException('The operation was aborted due to timeout', 'TimeoutError'), op());
    expect(aborted.message).toMatch(/no answer in time$/);
  });

  it('403 on a cluster-scoped kind names the permission cluster-wide', () => {
    const e = toStoreError(new KubeHttpError(403, { message: 'namespaces is forbidden: User "x" cannot list resource "namespaces"' }), op({ info: info('Namespace'), namespace: undefined }));
    expect(e).toMatchObject({ name: 'ForbiddenError', exitCode: 77, hint: 'missing RBAC permission: list namespaces cluster-wide; ask a cluster admin for a Role granting it' });
  });

  it('leaves errors it does not recognise alone (they are bugs, reported as internal errors)', () => {
    const bug = new RangeError('boom');
    expect(toStoreError(bug, op())).toBe(bug);
  });
});
