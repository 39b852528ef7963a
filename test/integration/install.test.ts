import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { adminClients, adminKubeconfig, freshNamespace, kubeEnv, limitedKubeconfig } from '../helpers/cluster.js';
import { meshctl } from '../helpers/run-meshctl.js';

/**
 * install -> verify-install -> re-install (no-op) -> upgrade (diff, patch, prune) -> --wait ->
 * uninstall, against the real API server of the integration run. That server already has the
 * Istio CRDs (global setup), as a cluster upgrading from Istio would: install adopts them and
 * uninstall, even with --purge, must leave them and their objects in place.
 */
const repo = new URL('../../', import.meta.url).pathname;
const run = (args: string, env: Record<string, string> = kubeEnv()) => meshctl(args, { env, cwd: repo });
const SELECTOR = 'app.kubernetes.io/managed-by=meshctl,app.kubernetes.io/part-of=meshctl';

/** apiVersion, kind and namespace of everything an install may create. */
const KINDS: [string, string, string | undefined][] = [
  ['v1', 'Namespace', undefined],
  ['apiextensions.k8s.io/v1', 'CustomResourceDefinition', undefined],
  ['v1', 'ServiceAccount', 'meshctl-system'],
  ['rbac.authorization.k8s.io/v1', 'ClusterRole', undefined],
  ['rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', undefined],
  ['rbac.authorization.k8s.io/v1', 'Role', 'meshctl-system'],
  ['rbac.authorization.k8s.io/v1', 'RoleBinding', 'meshctl-system'],
  ['v1', 'ConfigMap', 'meshctl-system'],
  ['v1', 'Secret', 'meshctl-system'],
  ['v1', 'Service', 'meshctl-system'],
  ['apps/v1', 'Deployment', 'meshctl-system'],
  ['autoscaling/v2', 'HorizontalPodAutoscaler', 'meshctl-system'],
  ['policy/v1', 'PodDisruptionBudget', 'meshctl-system'],
  ['security.istio.io/v1', 'PeerAuthentication', 'meshctl-system'],
  ['admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration', undefined],
];

/** `Kind name resourceVersion` of every object carrying meshctl's labels (Terminating ones left out). */
async function ours(): Promise<string[]> {
  const { objects } = await adminClients();
  const out: string[] = [];
  for (const [apiVersion, kind, ns] of KINDS) {
    const list = await objects.list(apiVersion, kind, ns, undefined, undefined, undefined, undefined, SELECTOR);
    // No namespace controller runs in the test cluster: a deleted namespace stays Terminating.
    for (const o of list.items) if (!o.metadata?.deletionTimestamp) out.push(`${kind} ${o.metadata?.name ?? ''} ${o.metadata?.resourceVersion ?? ''}`);
  }
  return out.sort();
}

async function labelled(): Promise<string[]> {
  return (await ours()).map((o) => o.split(' ').slice(0, 2).join(' '));
}

/** Every object of meshctl's with its resourceVersion, and every namespace: what a write would change. */
async function snapshot(): Promise<string[]> {
  const { core } = await adminClients();
  const namespaces = (await core.listNamespace()).items.map((n) => `namespace ${n.metadata?.name ?? ''} ${n.metadata?.resourceVersion ?? ''}`);
  return [...(await ours()), ...namespaces].sort();
}

/** The meshctl-ca Secret (undefined when absent) and the caBundle of meshctl's webhook. */
async function caState(): Promise<{ secret?: { cert: string; annotations: Record<string, string> }; caBundle?: string }> {
  const { core, objects } = await adminClients();
  let secret;
  try {
    const s = await core.readNamespacedSecret({ name: 'meshctl-ca', namespace: 'meshctl-system' });
    secret = { cert: s.data?.['tls.crt'] ?? '', annotations: s.metadata?.annotations ?? {} };
  } catch {
    secret = undefined;
  }
  let caBundle: string | undefined;
  try {
    const w = (await objects.read({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: 'meshctl-sidecar-injector' } })) as { webhooks?: { clientConfig?: { caBundle?: unknown } }[] };
    const b = w.webhooks?.[0]?.clientConfig?.caBundle;
    // The client library may hand bytes back decoded or as base64 text: compare base64 either way.
    caBundle = typeof b === 'string' ? b : b instanceof Uint8Array ? Buffer.from(b).toString('base64') : undefined;
  } catch {
    caBundle = undefined;
  }
  return { ...(secret ? { secret } : {}), ...(caBundle ? { caBundle } : {}) };
}
let installedCA = '';

async function crdLabels(name: string): Promise<Record<string, string>> {
  const { objects } = await adminClients();
  const crd = await objects.read({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name } });
  return { ...(crd.metadata?.labels ?? {}), ...(crd.metadata?.annotations ?? {}) };
}

/**
 * No namespace controller runs in the test cluster: a deleted namespace stays Terminating. Empties
 * its finalizers (what the namespace controller does once the namespace is empty) so it goes.
 */
async function finalizeNamespace(name: string): Promise<void> {
  const { core } = await adminClients();
  for (let i = 0; i < 100; i++) {
    let ns;
    try {
      ns = await core.readNamespace({ name });
    } catch {
      return; // gone
    }
    if (ns.metadata?.deletionTimestamp && (ns.spec?.finalizers?.length ?? 0) > 0) {
      await core.replaceNamespaceFinalize({ name, body: { ...ns, spec: { finalizers: [] } } });
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`namespace ${name} is still there`);
}

/** The built binary (bin/meshctl -> dist/) in a pseudo-terminal, as a person runs it: script(1) gives it a tty. */
async function inTerminal(args: string): Promise<{ code: number | null; out: string }> {
  // A rebuild running beside the tests empties dist/ for a few seconds: wait for it, boundedly.
  for (let i = 0; i < 300 && !existsSync(`${repo}dist/meshctl.js`); i++) await new Promise((r) => setTimeout(r, 100));
  if (!existsSync(`${repo}dist/meshctl.js`)) throw new Error('dist/meshctl.js is missing: run "node scripts/build.mjs" first (npm test does)');
  const env: Record<string, string | undefined> = { ...process.env, ...kubeEnv(), TERM: 'xterm-256color', COLUMNS: '120', LINES: '40' };
  delete env.CI; // the live view is for people: CI turns it off
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qefc', `${process.execPath} ${repo}bin/meshctl ${args}`, '/dev/null'], { env, cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('meshctl install on a real API server', () => {
  it('refuses a user without the permissions (exit 77, names the permission) and applies nothing', async () => {
    const r = await run('install --profile minimal', kubeEnv(limitedKubeconfig()));
    expect(r.stderr).toMatch(/^Error: cannot install in context "[^"]+": missing permission to get namespaces cluster-wide \(and \d+ more: .*\); nothing was changed/m);
    expect(r.exitCode).toBe(77);
    expect(await labelled()).toEqual([]);
  });

  it('refuses a user who may create every object but not grant the controller\'s permissions', async () => {
    // A narrow role: everything an install writes, but not what the controller's roles grant.
    const { rbac } = await adminClients();
    const name = 'meshctl-test-install-objects-only';
    await rbac.createClusterRole({
      body: {
        metadata: { name },
        rules: [
          {
            apiGroups: ['', 'apps', 'rbac.authorization.k8s.io', 'apiextensions.k8s.io', 'autoscaling', 'policy', 'admissionregistration.k8s.io', 'security.istio.io', 'authorization.k8s.io'],
            resources: ['namespaces', 'serviceaccounts', 'configmaps', 'secrets', 'services', 'deployments', 'clusterroles', 'clusterrolebindings', 'roles', 'rolebindings', 'customresourcedefinitions', 'horizontalpodautoscalers', 'poddisruptionbudgets', 'mutatingwebhookconfigurations', 'peerauthentications'],
            verbs: ['get', 'list', 'create', 'patch'],
          },
        ],
      },
    });
    await rbac.createClusterRoleBinding({ body: { metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects: [{ kind: 'User', name: 'limited', apiGroup: 'rbac.authorization.k8s.io' }] } });
    try {
      const r = await run('install', kubeEnv(limitedKubeconfig()));
      expect(r.stderr).toMatch(/^Error: cannot install in context "[^"]+": missing permission to get \*\.networking\.istio\.io cluster-wide \(and \d+ more: .*\); nothing was changed/m);
      expect(r.exitCode).toBe(77);
      expect(await labelled()).toEqual([]);
    } finally {
      // The `limited` user is shared by every test of the run: leave it as it was found.
      await rbac.deleteClusterRoleBinding({ name });
      await rbac.deleteClusterRole({ name });
    }
  });

  it('--dry-run on a cluster without meshctl lists what it would create and creates nothing', async () => {
    const r = await run('install --dry-run');
    expect(r.stderr).not.toContain('Error');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('+ create Namespace meshctl-system');
    expect(r.stdout).toContain('+ create Deployment meshctl-system/meshctl-controller (validated when applied');
    // The Istio CRDs are there already: adopting them is an update, not a create.
    expect(r.stdout).toContain('~ update CustomResourceDefinition virtualservices.networking.istio.io');
    expect(r.stdout).toMatch(/dry run: \d+ created, \d+ updated, 0 pruned, 0 unchanged; nothing was changed/);
    expect(await labelled()).toEqual([]);
    const v = await run('verify-install');
    expect(v.stdout).toMatch(/^meshctl is not installed in context "[^"]+": none of its 13 objects are there \(run meshctl install\)\n$/);
    expect(v.exitCode).toBe(69);
  });

  it('installs the default profile, adopting the CRDs that were already there', async () => {
    // An Istio control plane, as a cluster upgrading from Istio has one (nothing runs it here).
    const { core, apps } = await adminClients();
    await core.createNamespace({ body: { metadata: { name: 'istio-system' } } });
    const labels = { app: 'istiod' };
    await apps.createNamespacedDeployment({
      namespace: 'istio-system',
      body: { metadata: { name: 'istiod' }, spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'discovery', image: 'docker.io/istio/pilot:1.24.0' }] } } } },
    });
    const r = await run('install');
    expect(r.stderr).toContain('Istio is installed (istiod in istio-system, docker.io/istio/pilot:1.24.0): meshctl shares its CRDs and leaves them in place on uninstall');
    expect(r.stderr).toContain('warning: Istio\'s sidecar injector also acts on namespaces labelled istio-injection=enabled; to run both meshes side by side, install with --set injection.namespaceLabel=meshctl-injection');
    await apps.deleteNamespacedDeployment({ name: 'istiod', namespace: 'istio-system' });
    expect(r.stderr).toContain('waiting for 15 CRDs to be Established');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/installed meshctl [\d.]+ \(profile default\) in context "[^"]+": \d+ created, 15 updated, 0 pruned, 0 unchanged/);
    const objs = await labelled();
    expect(objs).toContain('Deployment meshctl-controller');
    expect(objs).toContain('MutatingWebhookConfiguration meshctl-sidecar-injector');
    expect(objs).toContain('PodDisruptionBudget meshctl-controller');
    expect(objs.filter((o) => o.startsWith('CustomResourceDefinition'))).toHaveLength(15);
    expect(await crdLabels('virtualservices.networking.istio.io')).toMatchObject({ 'app.kubernetes.io/managed-by': 'meshctl', 'meshctl.dev/adopted': 'true' });
    // No CA in the values: install generated one, stored it in meshctl-ca, and the webhook trusts it.
    expect(r.stderr).toContain('root CA: none given (ca.cert/ca.key) and none in Secret meshctl-system/meshctl-ca: generated a self-signed one to store there');
    const ca = await caState();
    expect(ca.secret?.annotations['meshctl.dev/generated']).toBe('root CA generated by meshctl install');
    expect(Buffer.from(ca.secret?.cert ?? '', 'base64').toString()).toContain('-----BEGIN CERTIFICATE-----');
    expect(ca.caBundle).toBe(ca.secret?.cert);
    installedCA = ca.secret?.cert ?? '';
  });

  it('verify-install finds every object as rendered', async () => {
    const r = await run('verify-install -o json');
    expect(r.exitCode).toBe(0);
    const out = JSON.parse(r.stdout) as { ok: boolean; checks: { status: string; fatal: boolean }[] };
    expect(out.ok).toBe(true);
    // No kubelet: the controller never becomes ready, a warning, not a failure.
    expect(out.checks.filter((c) => c.status !== 'ok').map((c) => c.status)).toEqual(['not ready']);
  });

  it('re-running the same install changes nothing and says so', async () => {
    const r = await run('install');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/is already installed in context "[^"]+": nothing to change \(\d+ objects unchanged\)/);
    expect(r.stderr).toContain('root CA: using the one in Secret meshctl-system/meshctl-ca (generated by an earlier install)');
    expect((await caState()).secret?.cert).toBe(installedCA);
  });

  it('bad input is one line with its exit code, and nothing in the cluster changes', async () => {
    const { createServer } = await import('node:net');
    const { mkdtempSync, readFileSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    // A port nothing listens on: the kernel picks a free one, which is then closed.
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const dead = `${mkdtempSync(`${tmpdir()}/meshctl-install-`)}/dead.kubeconfig`;
    writeFileSync(dead, readFileSync(adminKubeconfig(), 'utf8').replace(/server: https:\/\/127\.0\.0\.1:\d+/, `server: https://127.0.0.1:${port}`));
    const before = await snapshot();
    const cases: [string, number, RegExp, Record<string, string>?][] = [
      ['install --profile prod', 65, /^Error: unknown profile "prod" \(profiles: default, demo, minimal\)$/],
      ['install --profile defualt', 65, /^Error: unknown profile "defualt" \(did you mean "default"\? profiles: default, demo, minimal\)$/],
      ['install --set a..b=1', 64, /^Error: --set "a\.\.b=1": empty key segment/],
      ['install --set controller.replicas=abc', 65, /^Error: value "controller\.replicas" must be integer, got "abc"/],
      ['install -f no-such-values.yaml', 65, /^Error: cannot read values file no-such-values\.yaml: ENOENT/],
      ['install', 69, /^Error: cannot reach the API server at https:\/\/127\.0\.0\.1:\d+ \(context "[^"]+"\) to get version: connection refused/, kubeEnv(dead)],
      ['uninstall', 69, /^Error: cannot reach the API server/, kubeEnv(dead)],
      ['verify-install', 69, /^Error: cannot reach the API server/, kubeEnv(dead)],
    ];
    for (const [args, code, message, env] of cases) {
      const r = await run(args, env);
      expect(r.stderr.trimEnd().split('\n'), args).toHaveLength(1);
      expect(r.stderr.trimEnd(), args).toMatch(message);
      expect(r.exitCode, args).toBe(code);
      expect(r.stdout, args).toBe('');
    }
    expect(await snapshot()).toEqual(before);
  });

  it('every profile renders objects the API server accepts (server-side dry run)', async () => {
    for (const args of ['--profile minimal', '--profile demo', '-f test/fixtures/manifests/ca-values.yaml --set meshConfig.mtls.mode=STRICT']) {
      const r = await run(`install --dry-run ${args}`);
      expect(r.stderr, args).not.toContain('Error');
      expect(r.exitCode, args).toBe(0);
      expect(r.stdout, args).not.toContain('validated when applied');
    }
  });

  it('upgrading with a changed --set shows the diff, patches and prunes', async () => {
    const set = '--set controller.podDisruptionBudget.enabled=false,meshConfig.mtls.mode=STRICT';
    // On a terminal it asks first (CI=true only turns the live view off); "n" changes nothing.
    const asked = await meshctl(`install ${set}`, { env: { ...kubeEnv(), CI: 'true' }, cwd: repo, isTTY: true, stdin: 'n\n' });
    expect(asked.stderr).toContain('- prune  PodDisruptionBudget meshctl-system/meshctl-controller');
    expect(asked.stderr).toMatch(/Change the existing install \(0 created, 3 updated, 1 pruned, \d+ unchanged\)\? \[y\/N\] $/);
    expect(asked.stdout).toBe('aborted: nothing was changed\n');
    expect(await labelled()).toContain('PodDisruptionBudget meshctl-controller');

    const r = await run(`install ${set}`);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('~ update ConfigMap meshctl-system/meshctl-mesh-config');
    expect(r.stdout).toMatch(/^ {4}- +defaultMtlsMode: PERMISSIVE$/m);
    expect(r.stdout).toMatch(/^ {4}\+ +defaultMtlsMode: STRICT$/m);
    expect(r.stdout).toContain('~ update PeerAuthentication meshctl-system/default');
    expect(r.stdout).toContain('- prune  PodDisruptionBudget meshctl-system/meshctl-controller');
    expect(r.stdout).toMatch(/updated meshctl [\d.]+ \(profile default\) in context "[^"]+": 0 created, 3 updated, 1 pruned, \d+ unchanged/);
    expect(await labelled()).not.toContain('PodDisruptionBudget meshctl-controller');
    // An upgrade keeps the CA: neither the Secret nor the webhook's caBundle changed.
    expect(await caState()).toMatchObject({ secret: { cert: installedCA }, caBundle: installedCA });

    expect((await run(`verify-install ${set}`)).exitCode).toBe(0);
    const stale = await run('verify-install');
    expect(stale.exitCode).toBe(69);
    expect(stale.stdout).toContain('✗ PodDisruptionBudget meshctl-system/meshctl-controller: missing');
    expect(stale.stdout).toContain('✗ ConfigMap meshctl-system/meshctl-mesh-config: drifted (data.mesh: want');
  });

  it('--wait times out while the controller is not ready, and returns once it is', async () => {
    const set = '--set controller.podDisruptionBudget.enabled=false,meshConfig.mtls.mode=STRICT';
    const slow = await run(`install ${set} --wait --timeout 1s`);
    expect(slow.exitCode).toBe(69);
    expect(slow.stderr).toMatch(/Error: Deployment meshctl-controller in namespace "meshctl-system" is not ready after 1s: (the new version has not been picked up yet|0 of \d+ replicas (updated|ready))/);

    // What a kubelet and the deployment controller would report, through the status subresource.
    const { apps } = await adminClients();
    const d = await apps.readNamespacedDeployment({ name: 'meshctl-controller', namespace: 'meshctl-system' });
    const n = d.spec?.replicas ?? 1;
    d.status = { observedGeneration: d.metadata?.generation ?? 1, replicas: n, updatedReplicas: n, readyReplicas: n, availableReplicas: n };
    await apps.replaceNamespacedDeploymentStatus({ name: 'meshctl-controller', namespace: 'meshctl-system', body: d });
    const ok = await run(`install ${set} --wait --timeout 10s`);
    expect(ok.exitCode).toBe(0);
    expect(ok.stderr).toContain('Deployment meshctl-system/meshctl-controller is ready');
  });

  it('uninstall as a user who may not delete: exit 77, nothing deleted', async () => {
    const before = await labelled();
    const r = await run('uninstall', kubeEnv(limitedKubeconfig()));
    expect(r.exitCode).toBe(77);
    expect(r.stderr).toMatch(/^Error: cannot (uninstall|list)/m);
    expect(await labelled()).toEqual(before);
  });

  it('uninstall --purge says how many mesh objects a CRD meshctl created would take with it, and asks', async () => {
    // A CRD meshctl created itself (on a cluster without Istio it creates them all), with objects in it.
    const { kc } = await adminClients();
    const k8s = await import('@kubernetes/client-node');
    const api = kc.makeApiClient(k8s.CustomObjectsApi);
    const crd = { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions' };
    await api.createClusterCustomObject({
      ...crd,
      body: {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: 'widgets.test.meshctl.dev', labels: { 'app.kubernetes.io/managed-by': 'meshctl', 'app.kubernetes.io/part-of': 'meshctl' } },
        spec: {
          group: 'test.meshctl.dev',
          scope: 'Namespaced',
          names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
          versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
        },
      },
    });
    const ns = await freshNamespace('purge');
    for (let i = 0; ; i++) {
      try {
        for (const name of ['a', 'b']) await api.createNamespacedCustomObject({ group: 'test.meshctl.dev', version: 'v1', namespace: ns, plural: 'widgets', body: { apiVersion: 'test.meshctl.dev/v1', kind: 'Widget', metadata: { name } } });
        break;
      } catch (err) {
        if (i > 100) throw err; // not Established yet: the resource is served within a second or two
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const r = await meshctl('uninstall --purge', { env: kubeEnv(), cwd: repo, stdin: 'n\n' });
    expect(r.stderr).toContain('--purge deletes 1 CRDs and with them 2 mesh objects (2 Widget). Continue? [y/N]');
    expect(r.stderr).toContain('Error: uninstall --purge was not confirmed: nothing was deleted');
    expect(r.exitCode).toBe(64);
    expect(await labelled()).toContain('CustomResourceDefinition widgets.test.meshctl.dev');
    expect(await labelled()).toContain('Deployment meshctl-controller');
  });

  it('uninstall --purge removes everything of meshctl\'s and leaves the adopted CRDs and their objects', async () => {
    const dry = await run('uninstall --dry-run');
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toMatch(/dry run: would delete \d+ objects/);
    expect((await labelled()).length).toBeGreaterThan(15);

    const r = await run('uninstall --purge -y');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('left 15 CRDs that existed before meshctl installed');
    expect(r.stdout).toContain('--purge deletes 1 CRDs and with them 2 mesh objects (2 Widget)');
    expect(await labelled()).toEqual([]);
    expect((await caState()).secret, 'the generated root CA is removed').toBeUndefined();
    const labels = await crdLabels('virtualservices.networking.istio.io');
    expect(labels['app.kubernetes.io/managed-by']).toBeUndefined();
    expect(labels['meshctl.dev/adopted']).toBeUndefined();
    expect((await run('uninstall')).stdout).toContain('meshctl is not installed');
  });

  it('in a terminal the built binary draws the live view (✔ steps) and the result', async () => {
    await finalizeNamespace('meshctl-system'); // the previous test's uninstall left it Terminating
    const r = await inTerminal('install --profile minimal --dry-run');
    // eslint-disable-next-line no-control-regex -- strip ANSI escapes to read what the terminal shows
    const text = r.out.replace(/\u001b\[[0-9;?]*[a-zA-Z]/g, '');
    expect(text).not.toContain('internal error');
    expect(r.code, text).toBe(0);
    expect(text).toMatch(/✔ API server \S+ \(context "[^"]+"\) is Kubernetes/);
    expect(text).toMatch(/dry run: \d+ created, \d+ updated, 0 pruned, 0 unchanged; nothing was changed/);
  });

  it('a meshctl-system namespace made before install is adopted; uninstall leaves it and what is in it', async () => {
    const { core } = await adminClients();
    await core.createNamespace({ body: { metadata: { name: 'meshctl-system', labels: { team: 'platform' } } } });
    await core.createNamespacedConfigMap({ namespace: 'meshctl-system', body: { metadata: { name: 'team-config' }, data: { a: 'b' } } });

    const dry = await run('install --profile minimal --dry-run');
    expect(dry.stdout).toContain('~ update Namespace meshctl-system (it existed before meshctl: adopted, and left in place by uninstall)');
    // On a terminal, taking over what is there is asked first; "n" leaves it as it was.
    const asked = await meshctl('install --profile minimal', { env: { ...kubeEnv(), CI: 'true' }, cwd: repo, isTTY: true, stdin: 'n\n' });
    expect(asked.stderr).toMatch(/Install, taking over the objects above that exist already \(\d+ created, \d+ updated, 0 pruned, 0 unchanged\)\? \[y\/N\] $/);
    expect(asked.stdout).toBe('aborted: nothing was changed\n');
    expect((await core.readNamespace({ name: 'meshctl-system' })).metadata?.annotations?.['meshctl.dev/adopted']).toBeUndefined();
    const r = await run('install --profile minimal');
    expect(r.exitCode, r.stderr).toBe(0);
    expect((await core.readNamespace({ name: 'meshctl-system' })).metadata?.annotations?.['meshctl.dev/adopted']).toBe('true');
    // Re-running keeps the mark: the namespace is still not meshctl's.
    expect((await run('install --profile minimal')).stdout).toMatch(/nothing to change/);

    const u = await run('uninstall');
    expect(u.exitCode, u.stderr).toBe(0);
    expect(u.stdout).toContain('left Namespace meshctl-system: it existed before meshctl installed');
    const ns = await core.readNamespace({ name: 'meshctl-system' });
    expect(ns.metadata?.deletionTimestamp).toBeUndefined();
    expect(ns.metadata?.labels).toEqual({ team: 'platform', 'kubernetes.io/metadata.name': 'meshctl-system' });
    expect(ns.metadata?.annotations?.['meshctl.dev/adopted']).toBeUndefined();
    expect((await core.readNamespacedConfigMap({ namespace: 'meshctl-system', name: 'team-config' })).data).toEqual({ a: 'b' });
    // Nothing of meshctl's is left, not even its labels on the CRDs it adopted again.
    expect(await labelled()).toEqual([]);
    await core.deleteNamespacedConfigMap({ namespace: 'meshctl-system', name: 'team-config' });
    await core.deleteNamespace({ name: 'meshctl-system' });
    await finalizeNamespace('meshctl-system');
  });

  it('uninstall keeps a namespace meshctl created once it holds objects meshctl did not install', async () => {
    const r = await run('install --profile minimal');
    expect(r.exitCode, r.stderr).toBe(0);
    // A mesh-wide policy in the root namespace: the user's, not meshctl's.
    const { objects, core } = await adminClients();
    const policy = { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'allow-nothing', namespace: 'meshctl-system' }, spec: {} };
    await objects.create(policy);

    const dry = await run('uninstall --dry-run');
    expect(dry.stdout).toContain('would keep Namespace meshctl-system: it holds 1 object that meshctl did not install (AuthorizationPolicy allow-nothing)');
    const u = await run('uninstall');
    expect(u.exitCode, u.stderr).toBe(0);
    expect(u.stdout).toContain('kept Namespace meshctl-system: it holds 1 object that meshctl did not install (AuthorizationPolicy allow-nothing); removed meshctl\'s labels from it');
    const ns = await core.readNamespace({ name: 'meshctl-system' });
    expect(ns.metadata?.deletionTimestamp).toBeUndefined();
    expect(ns.metadata?.labels?.['app.kubernetes.io/managed-by']).toBeUndefined();
    expect((await objects.read(policy)).metadata?.name).toBe('allow-nothing');
    expect(await labelled()).toEqual([]);
    await objects.delete(policy);
    await core.deleteNamespace({ name: 'meshctl-system' });
    await finalizeNamespace('meshctl-system');
  });

  it('a meshctl-ca Secret made before install is the CA install uses (adopted), and uninstall leaves it', async () => {
    const { core } = await adminClients();
    const { generateRootCA } = await import('../../src/commands/install.js');
    const mine = await generateRootCA(new Date(), 'cluster.local');
    const b64 = (t: string) => Buffer.from(t).toString('base64');
    await core.createNamespace({ body: { metadata: { name: 'meshctl-system' } } });
    await core.createNamespacedSecret({ namespace: 'meshctl-system', body: { metadata: { name: 'meshctl-ca' }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64(mine.certPem), 'tls.key': b64(mine.keyPem) } } });
    const r = await run('install -y');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain('root CA: using the one in Secret meshctl-system/meshctl-ca\n');
    expect(await caState()).toMatchObject({ secret: { cert: b64(mine.certPem) }, caBundle: b64(mine.certPem) });
    expect((await caState()).secret?.annotations['meshctl.dev/adopted']).toBe('true');
    expect((await run('install')).stdout).toMatch(/nothing to change/);
    expect((await run('verify-install')).exitCode).toBe(0);

    const u = await run('uninstall');
    expect(u.exitCode, u.stderr).toBe(0);
    expect(u.stdout).toContain('left Secret meshctl-system/meshctl-ca: it existed before meshctl installed');
    expect((await caState()).secret?.cert).toBe(b64(mine.certPem));
    await core.deleteNamespacedSecret({ namespace: 'meshctl-system', name: 'meshctl-ca' });
    await core.deleteNamespace({ name: 'meshctl-system' });
    await finalizeNamespace('meshctl-system');
  });
});
