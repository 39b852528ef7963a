import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';

/**
 * Access to the real API server that test/integration/global-setup.ts starts once per run.
 * Only for tests in the `integration` project (elsewhere `inject` has nothing to give).
 */

/** Admin kubeconfig (group system:masters). */
export function adminKubeconfig(): string {
  return provided('kubeconfig');
}

/** Kubeconfig of user `limited`, which has no RBAC bindings until a test creates some. */
export function limitedKubeconfig(): string {
  return provided('limitedKubeconfig');
}

/** Kubeconfig of user `nobody`: no RBAC bindings; never bind anything to it. */
export function nobodyKubeconfig(): string {
  return provided('nobodyKubeconfig');
}

/** Env for `meshctl(...)` (test/helpers/run-meshctl.ts) so it talks to the test cluster as admin. */
export function kubeEnv(kubeconfig: string = adminKubeconfig()): Record<string, string> {
  return { KUBECONFIG: kubeconfig };
}

/**
 * Creates a namespace nobody else uses and returns its name. Namespaces are never deleted: no
 * namespace controller runs, so a deleted namespace would stay Terminating forever anyway.
 */
export async function freshNamespace(prefix: string): Promise<string> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(adminKubeconfig());
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const base = prefix.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 50) || 'test';
  const name = `${base}-${randomBytes(4).toString('hex')}`;
  await core.createNamespace({ body: { metadata: { name, labels: { 'meshctl.dev/test': 'true' } } } });
  return name;
}

/** Admin client-node API clients, for tests that set up state the way a controller or kubectl would. */
export async function adminClients(): Promise<{
  kc: import('@kubernetes/client-node').KubeConfig;
  core: import('@kubernetes/client-node').CoreV1Api;
  apps: import('@kubernetes/client-node').AppsV1Api;
  rbac: import('@kubernetes/client-node').RbacAuthorizationV1Api;
  objects: import('@kubernetes/client-node').KubernetesObjectApi;
}> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(adminKubeconfig());
  return {
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    rbac: kc.makeApiClient(k8s.RbacAuthorizationV1Api),
    objects: k8s.KubernetesObjectApi.makeApiClient(kc),
  };
}

function provided(key: 'kubeconfig' | 'limitedKubeconfig' | 'nobodyKubeconfig'): string {
  const value = inject(key);
  if (!value) throw new Error(`no test cluster: "${key}" was not provided; run this test in the vitest "integration" project`);
  return value;
}
