import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { adminClients, freshNamespace, limitedKubeconfig } from '../helpers/cluster.js';

// The harness itself: the API server that every integration test relies on is real, has the Istio
// CRDs installed, enforces RBAC, and allocates Service cluster IPs without a controller-manager.
describe('test cluster', () => {
  it('serves the Istio CRDs and stores a VirtualService in a fresh namespace', async () => {
    const ns = await freshNamespace('harness');
    const { objects } = await adminClients();
    const created = await objects.create<KubernetesObject & { spec: unknown }>({
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'reviews', namespace: ns },
      spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] },
    });
    expect(created.metadata?.resourceVersion).toMatch(/^\d+$/);
  });

  it('rejects an invalid VirtualService with the CRD schema (422)', async () => {
    const ns = await freshNamespace('harness');
    const { objects } = await adminClients();
    await expect(
      objects.create({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'bad', namespace: ns }, spec: { hosts: 'not-a-list' } }),
    ).rejects.toMatchObject({ code: 422 });
  });

  it('allocates a cluster IP for a Service and creates Pods without a ServiceAccount', async () => {
    const ns = await freshNamespace('harness');
    const { core } = await adminClients();
    const svc = await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'web' }, spec: { ports: [{ port: 80 }] } } });
    expect(svc.spec?.clusterIP).toMatch(/^10\.96\./);
    const pod = await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } });
    expect(pod.metadata?.uid).toBeTruthy();
  });

  it('issues service-account tokens that the API server accepts (the signing key pair works)', async () => {
    const ns = await freshNamespace('harness');
    const { core, kc } = await adminClients();
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'robot' } } });
    const req = await core.createNamespacedServiceAccountToken({ namespace: ns, name: 'robot', body: { spec: { audiences: [] } } });
    const token = req.status?.token;
    expect(token).toBeTruthy();
    const k8s = await import('@kubernetes/client-node');
    const robot = new k8s.KubeConfig();
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('no cluster');
    robot.loadFromClusterAndUser(cluster, { name: 'robot', token });
    const review = await robot.makeApiClient(k8s.AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    expect(review.status?.userInfo?.username).toBe(`system:serviceaccount:${ns}:robot`);
  });

  it('enforces RBAC: user limited may not list services until bound to a Role', async () => {
    const ns = await freshNamespace('harness');
    const k8s = await import('@kubernetes/client-node');
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(limitedKubeconfig());
    const limited = kc.makeApiClient(k8s.CoreV1Api);
    await expect(limited.listNamespacedService({ namespace: ns })).rejects.toMatchObject({ code: 403 });

    const { rbac } = await adminClients();
    await rbac.createNamespacedRole({ namespace: ns, body: { metadata: { name: 'read-services' }, rules: [{ apiGroups: [''], resources: ['services'], verbs: ['list'] }] } });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: { metadata: { name: 'limited-reads' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-services' }, subjects: [{ kind: 'User', name: 'limited', apiGroup: 'rbac.authorization.k8s.io' }] },
    });
    // RBAC changes reach the authorizer through an informer: allow it a moment.
    let items: unknown[] | undefined;
    for (let i = 0; i < 50 && !items; i++) {
      items = await limited.listNamespacedService({ namespace: ns }).then((l) => l.items, () => undefined);
      if (!items) await new Promise((r) => setTimeout(r, 100));
    }
    expect(items).toEqual([]);
  });
});
