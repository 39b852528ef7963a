import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin kubeconfig (group system:masters) of the run's API server. */
    kubeconfig: string;
    /** Kubeconfig of user `limited`: no RBAC bindings; tests bind Roles to it. */
    limitedKubeconfig: string;
    /** Kubeconfig of user `nobody`: no RBAC bindings, and tests should keep it that way. */
    nobodyKubeconfig: string;
    /** The directory holding the cluster's certificates, tokens and logs. */
    clusterDir: string;
  }
}

const exec = promisify(execFile);
const repo = new URL('../../', import.meta.url).pathname;
const script = join(repo, 'scripts/test-cluster');
const crdsFile = join(repo, 'third_party/istio/istio-crds.yaml');

/**
 * Starts one real API server (etcd + kube-apiserver, scripts/test-cluster) for the whole
 * integration run, installs the Istio CRDs and hands the kubeconfigs to tests via `inject`.
 * A cluster that cannot start fails the run: integration tests never skip silently.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'meshctl-cluster-'));
  const started = Date.now();
  const stop = async (): Promise<void> => {
    await exec(script, ['stop', dir]).catch((err: unknown) => console.error(`test-cluster stop failed: ${String(err)}`));
  };
  try {
    // The build of kube-apiserver on a cold cache takes minutes; a cached start takes seconds.
    await exec(script, ['start', dir], { timeout: 15 * 60_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    await stop();
    const e = err as { stderr?: string; message?: string };
    throw new Error(`integration tests need a real API server and scripts/test-cluster start ${dir} failed:\n${e.stderr ?? e.message ?? String(err)}`, { cause: err });
  }
  const kubeconfig = join(dir, 'admin.kubeconfig');
  const apiServerMs = Date.now() - started;
  try {
    await installCrds(kubeconfig);
  } catch (err) {
    await stop();
    throw new Error(`could not install the Istio CRDs into the test cluster: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  // If vitest dies without running the teardown (Ctrl-C twice, a crash), do not leave etcd and
  // kube-apiserver running: kill them by pid as the process exits.
  const pids = await Promise.all(['apiserver.pid', 'etcd.pid'].map(async (f) => Number(await readFile(join(dir, f), 'utf8'))));
  const killOnExit = (): void => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
    }
  };
  process.once('exit', killOnExit);
  if (process.env.MESHCTL_TEST_CLUSTER_VERBOSE) console.error(`test cluster ready in ${Date.now() - started}ms (API server ${apiServerMs}ms, then CRDs): ${dir}`);

  project.provide('kubeconfig', kubeconfig);
  project.provide('limitedKubeconfig', join(dir, 'limited.kubeconfig'));
  project.provide('nobodyKubeconfig', join(dir, 'nobody.kubeconfig'));
  project.provide('clusterDir', dir);

  return async () => {
    process.off('exit', killOnExit);
    await stop();
    // MESHCTL_KEEP_CLUSTER_DIR=1 keeps the logs of a failed run for a look.
    if (!process.env.MESHCTL_KEEP_CLUSTER_DIR) await rm(dir, { recursive: true, force: true });
  };
}

async function installCrds(kubeconfig: string): Promise<void> {
  const k8s = await import('@kubernetes/client-node');
  const { parseAllDocuments } = await import('yaml');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  // The custom objects client sends the YAML as it is. The typed ApiextensionsV1Api would map it
  // through its model first and drop keys such as `x-kubernetes-int-or-string`, which the API
  // server then rejects.
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  const crd = { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions' };
  const docs = parseAllDocuments(await readFile(crdsFile, 'utf8'))
    .map((d) => d.toJS() as CrdDoc | null)
    .filter((d): d is CrdDoc => d?.kind === 'CustomResourceDefinition');
  await Promise.all(docs.map((body) => api.createClusterCustomObject({ ...crd, body })));
  const names = docs.map((d) => d.metadata.name);
  // Established means the API server serves the new resource; until then creating one is a 404.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const crds = await Promise.all(names.map((name) => api.getClusterCustomObject({ ...crd, name }) as Promise<CrdDoc>));
    const pending = crds.filter((c) => !c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True')).map((c) => c.metadata.name);
    if (pending.length === 0) return;
    if (Date.now() > deadline) throw new Error(`CRDs not Established after 60s: ${pending.join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface CrdDoc {
  kind: string;
  metadata: { name: string };
  status?: { conditions?: { type: string; status: string }[] };
}
