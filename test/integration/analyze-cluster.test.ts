import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { adminClients, freshNamespace, kubeEnv, limitedKubeconfig } from '../helpers/cluster.js';
import { meshctl } from '../helpers/run-meshctl.js';

/**
 * `meshctl analyze` and `meshctl cluster snapshot` against the real API server (kube backend),
 * not the --local file store the unit tests use: listing every kind the analyzers read, -n scoping,
 * the overlay of a pull request's files on live state, and the offline snapshot round trip.
 */

interface JsonMessage {
  code: string;
  resource: { kind: string; name: string; namespace?: string };
  field?: string;
  text: string;
  origin?: { file: string; line: number };
}

const findings = (stdout: string): string[] =>
  (JSON.parse(stdout) as { messages: JsonMessage[] }).messages.map((m) => `${m.code} ${m.resource.kind}/${m.resource.name} ${m.field ?? ''} ${m.text}`).sort();

let ns: string;
let dir: string;

beforeAll(async () => {
  ns = await freshNamespace('analyze');
  dir = await mkdtemp(join(tmpdir(), 'meshctl-analyze-cluster-'));
  const { core, apps, objects } = await adminClients();
  await core.createNamespacedService({
    namespace: ns,
    body: { metadata: { name: 'reviews' }, spec: { selector: { app: 'reviews' }, ports: [{ name: 'http', port: 9080 }] } },
  });
  // No controllers run, so the Deployment never gets pods: its pod template is the workload.
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: {
      metadata: { name: 'reviews-v1' },
      spec: {
        selector: { matchLabels: { app: 'reviews', version: 'v1' } },
        template: { metadata: { labels: { app: 'reviews', version: 'v1' } }, spec: { containers: [{ name: 'reviews', image: 'reviews:1' }] } },
      },
    },
  });
  await objects.create({
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'reviews', namespace: ns },
    spec: { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }] },
  });
  // The broken state: subset v3 is defined nowhere.
  await objects.create({
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'reviews', namespace: ns },
    spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v3' } }] }] },
  });
});

describe('meshctl analyze against a real API server', () => {
  it('analyze -n NS finds the broken VirtualService in the cluster, with no file position', async () => {
    const r = await meshctl(['analyze', '-n', ns, '-o', 'json'], { env: kubeEnv() });
    expect(r.stderr).toBe('');
    expect(findings(r.stdout)).toEqual([`IST0101 VirtualService/reviews spec.http[0].route[0].destination.subset Referenced host+subset in destinationrule not found: "reviews+v3"`]);
    const [msg] = (JSON.parse(r.stdout) as { messages: JsonMessage[] }).messages;
    expect(msg?.resource.namespace).toBe(ns);
    expect(msg?.origin).toBeUndefined();
    // The namespace's own objects (Namespace, Service, Deployment, DestinationRule, VirtualService), not the whole cluster's.
    expect((JSON.parse(r.stdout) as { summary: { resources: number } }).summary.resources).toBe(5);
    expect(r.exitCode).toBe(79);

    const human = await meshctl(['analyze', '-n', ns], { env: kubeEnv() });
    expect(human.exitCode).toBe(79);
    expect(human.stdout).toContain(`[IST0101] (VirtualService reviews.${ns})`);
  });

  it('files overlaid on the cluster: the pull request that fixes the route analyzes clean', async () => {
    const fix = join(dir, 'fix.yaml');
    // No namespace in the file: -n places it, as `kubectl apply -n` would.
    await writeFile(fix, 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: reviews\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n');
    const r = await meshctl(['analyze', '--cluster', '-n', ns, '-o', 'json', fix], { env: kubeEnv() });
    expect(findings(r.stdout)).toEqual([]);
    expect(r.exitCode).toBe(0);
    // istioctl's spelling of the same thing.
    expect((await meshctl(['analyze', '--use-kube=true', '-n', ns, fix], { env: kubeEnv() })).exitCode).toBe(0);

    // A change that breaks it again is judged against what the cluster has (the DestinationRule is only there).
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: reviews\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v2}\n');
    const b = await meshctl(['analyze', '--cluster', '-n', ns, '-o', 'json', bad], { env: kubeEnv() });
    const [m] = (JSON.parse(b.stdout) as { messages: JsonMessage[] }).messages;
    expect(m?.code).toBe('IST0101');
    expect(m?.origin).toEqual({ file: bad, line: 9, column: '    - destination: {host: reviews, subset: v2}'.indexOf('subset') + 1 });
    expect(b.exitCode).toBe(79);
  });

  it('a namespace that does not exist is an error (exit 65), not a clean run', async () => {
    const r = await meshctl(['analyze', '-n', `${ns}-missing`], { env: kubeEnv() });
    expect(r.exitCode).toBe(65);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^Error: namespace "${ns}-missing" not found`));
  });

  it('cluster snapshot, then analyze --snapshot offline, gives the same findings', async () => {
    const live = await meshctl(['analyze', '-n', ns, '-o', 'json'], { env: kubeEnv() });
    const snap = await meshctl(['cluster', 'snapshot'], { env: kubeEnv() });
    expect(snap.exitCode).toBe(0);
    expect(snap.stdout).toContain(`namespace: ${ns}`);
    expect(snap.stdout).not.toMatch(/resourceVersion|managedFields/);
    const file = join(dir, 'snap.yaml');
    await writeFile(file, snap.stdout);

    // No credentials at all: the snapshot stands in for the cluster.
    const offline = await meshctl(['analyze', '--snapshot', file, '-n', ns, '-o', 'json'], { env: { KUBECONFIG: join(dir, 'none') } });
    expect(findings(offline.stdout)).toEqual(findings(live.stdout));
    expect(findings(offline.stdout)).toHaveLength(1);
    expect(offline.exitCode).toBe(79);
    expect((await meshctl(['analyze', '--snapshot', file, '-n', `${ns}-missing`], { env: { KUBECONFIG: join(dir, 'none') } })).exitCode).toBe(65);
  });

  it('explain walks a request through the live config', async () => {
    const r = await meshctl(['explain', 'reviews', '-n', ns, '-o', 'json'], { env: kubeEnv() });
    expect(r.stderr).toBe('');
    const d = JSON.parse(r.stdout) as { virtualService: { name: string; namespace: string }; rule: string; destinations: { host: string; subset?: string }[] };
    expect(d.virtualService).toEqual({ kind: 'VirtualService', name: 'reviews', namespace: ns });
    expect(d.rule).toBe('http[0]');
    expect(d.destinations).toMatchObject([{ host: `reviews.${ns}.svc.cluster.local`, subset: 'v3' }]);
    expect((await meshctl(['explain', 'reviwes', '-n', ns], { env: kubeEnv() })).exitCode).toBe(65);
  });

  it('a CI account that may only read its own namespace analyzes that namespace, skipping what it cannot see', async () => {
    const { rbac } = await adminClients();
    await rbac.createNamespacedRole({ namespace: ns, body: { metadata: { name: 'analyze-reader' }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['get', 'list'] }] } });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'analyze-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'analyze-reader' },
        subjects: [{ kind: 'User', name: 'limited', apiGroup: 'rbac.authorization.k8s.io' }],
      },
    });
    const env = kubeEnv(limitedKubeconfig());
    // A reference into a namespace the account cannot read: skipped, never reported missing.
    const pr = join(dir, 'cross-ns.yaml');
    await writeFile(pr, 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: ratings\nspec:\n  hosts: [ratings.other.svc.cluster.local]\n  http:\n  - route:\n    - destination: {host: ratings.other.svc.cluster.local}\n');
    // RBAC reaches the authorizer through an informer: allow it a moment.
    let r = await meshctl(['analyze', '-n', ns, '-o', 'json'], { env });
    for (let i = 0; i < 50 && r.exitCode === 77; i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = await meshctl(['analyze', '-n', ns, '-o', 'json'], { env });
    }
    expect(r.stderr).toContain(`listing every namespace is forbidden for this user: analyzed namespace ${ns} only`);
    expect(findings(r.stdout)).toEqual([`IST0101 VirtualService/reviews spec.http[0].route[0].destination.subset Referenced host+subset in destinationrule not found: "reviews+v3"`]);
    expect(r.exitCode).toBe(79);

    const cross = await meshctl(['analyze', '--cluster', '-n', ns, '-o', 'json', pr], { env });
    const report = JSON.parse(cross.stdout) as { messages: JsonMessage[]; skipped: { analyzer: string }[] };
    expect(report.messages.filter((m) => m.resource.name === 'ratings')).toEqual([]);
    expect(report.skipped.map((k) => k.analyzer)).toContain('virtualservice.destination-hosts');

    const explained = await meshctl(['explain', 'reviews', '-n', ns, '-o', 'json'], { env });
    expect(explained.exitCode).toBe(0);
    expect((JSON.parse(explained.stdout) as { destinations: { subset?: string }[] }).destinations).toMatchObject([{ subset: 'v3' }]);

    // A namespace it may not read at all: the refusal, exit 77.
    const other = await freshNamespace('analyze-other');
    const denied = await meshctl(['analyze', '-n', other], { env });
    expect(denied.exitCode).toBe(77);
    expect(denied.stderr).toMatch(/^Error: .*forbidden/i);
  });
});
