import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { meshctl } from '../../helpers/run-meshctl.js';

/**
 * Cluster mode through the ConfigStore: a --local file-backed mesh stands in for the cluster (the
 * command only ever calls ctx.store(), so the kube backend goes through the same code).
 */
const STATE = `apiVersion: v1
kind: Namespace
metadata: {name: prod}
---
apiVersion: v1
kind: Namespace
metadata: {name: default}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: prod}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v1-abc, namespace: prod, labels: {app: reviews, version: v1}}
spec: {containers: [{name: reviews, image: reviews:1}, {name: istio-proxy, image: proxyv2:1.22.0}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: prod}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: prod}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews, subset: v1}}]}]
`;
// A policy whose selector has a typo protects nothing.
const TYPO = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews-viewers, namespace: prod}
spec:
  selector: {matchLabels: {app: reveiws}}
  rules: [{from: [{source: {namespaces: [prod]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews-ok, namespace: prod}
spec:
  selector: {matchLabels: {app: reviews}}
  rules: [{from: [{source: {namespaces: [prod]}}]}]
`;
// The pull request: shift reviews to v2, which has no pods yet, and route to a host the cluster lacks.
const PR = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: prod}
spec:
  hosts: [reviews]
  http:
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 50}
    - {destination: {host: reviews, subset: v2}, weight: 50}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: payments, namespace: prod}
spec:
  hosts: [payments]
  http: [{route: [{destination: {host: payments}}]}]
`;

let mesh: string;
let pr: string;
beforeAll(() => {
  mesh = mkdtempSync(join(tmpdir(), 'meshctl-analyze-cluster-'));
  writeFileSync(join(mesh, 'state.yaml'), STATE);
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-analyze-pr-'));
  pr = join(dir, 'pr.yaml');
  writeFileSync(pr, PR);
});

describe('analyze against a cluster', () => {
  test('the live state is clean', async () => {
    const r = await meshctl(['--local', mesh, 'analyze', '-n', 'prod']);
    expect(r.stdout).toContain('No validation issues');
    expect(r.exitCode).toBe(0);
  });

  test('without -n only the current namespace is reported; -A reports every namespace', async () => {
    const broken = join(mkdtempSync(join(tmpdir(), 'meshctl-analyze-cluster-')), 'state.yaml');
    writeFileSync(broken, STATE.replace('subset: v1}}]}]', 'subset: v9}}]}]'));
    const dir = join(broken, '..');
    expect((await meshctl(['--local', dir, 'analyze'])).exitCode).toBe(0);
    const all = await meshctl(['--local', dir, 'analyze', '-A']);
    expect(all.exitCode).toBe(79);
    expect(all.stdout).toMatch(/^cluster\n {2}Error {4}\[IST0101\] \(VirtualService reviews\.prod\) .* at spec\.http\[0\]\.route\[0\]\.destination\.subset$/m);
  });

  test('a policy selector that matches no pod (IST0127) is found against the cluster, skipped offline', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'meshctl-analyze-pr-')), 'typo.yaml');
    writeFileSync(file, TYPO);
    const live = await meshctl(['--local', mesh, 'analyze', '--cluster', '-o', 'json', file]);
    const got = JSON.parse(live.stdout).messages.map((m: { code: string; resource: { name: string }; field: string }) => `${m.code} ${m.resource.name} ${m.field}`);
    expect(got).toEqual(['IST0127 reviews-viewers spec.selector.matchLabels']);
    const offline = JSON.parse((await meshctl(['analyze', '-o', 'json', file])).stdout);
    expect(offline.messages).toEqual([]);
    expect(offline.skipped.map((s: { analyzer: string }) => s.analyzer)).toContain('selector.no-workloads');
  });

  test('files on the cluster without -n: findings in namespaces the change does not touch are counted, not shown', async () => {
    const broken = join(mkdtempSync(join(tmpdir(), 'meshctl-analyze-cluster-')), 'state.yaml');
    writeFileSync(broken, STATE.replace('subset: v1}}]}]', 'subset: v9}}]}]'));
    const change = join(mkdtempSync(join(tmpdir(), 'meshctl-analyze-pr-')), 'default.yaml');
    writeFileSync(change, 'apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec: {selector: {app: web}, ports: [{name: http, port: 80}]}\n');
    const dir = join(broken, '..');
    const r = await meshctl(['--local', dir, 'analyze', '--cluster', change]);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain('1 finding in namespaces the files do not touch not shown (-A shows every namespace)');
    expect((await meshctl(['--local', dir, 'analyze', '--cluster', '-A', change])).exitCode).toBe(79);
    // The same through a snapshot.
    const snap = join(dir, 'snap.yaml');
    writeFileSync(snap, (await meshctl(['--local', dir, 'cluster', 'snapshot'])).stdout);
    expect((await meshctl(['analyze', '--snapshot', snap, change])).exitCode).toBe(0);
    expect((await meshctl(['analyze', '--snapshot', snap, '-n', 'prod', change])).exitCode).toBe(79);
  });

  test('a namespace that does not exist is an error', async () => {
    const r = await meshctl(['--local', mesh, 'analyze', '-n', 'staging']);
    expect(r.exitCode).toBe(65);
    expect(r.stderr).toContain('namespace "staging" not found');
  });

  test('files overlaid on the cluster: the change is judged against live state', async () => {
    const r = await meshctl(['--local', mesh, 'analyze', '--cluster', '-o', 'json', pr]);
    const got = JSON.parse(r.stdout).messages.map((m: { code: string; resource: { name: string } }) => `${m.code} ${m.resource.name}`).sort();
    // payments is missing in the cluster (a fact there, not a guess); subset v2 selects no running pod.
    expect(got).toEqual(['IST0101 payments', 'MSH0101 reviews']);
    expect(r.exitCode).toBe(79);
  });

  test('the same file alone (offline) cannot know about payments in prod, and says so', async () => {
    const r = await meshctl(['analyze', '-o', 'json', pr]);
    const report = JSON.parse(r.stdout);
    expect(report.messages).toEqual([]);
    expect(report.skipped.length).toBeGreaterThan(0);
  });

  test('cluster snapshot round-trips: analyze --snapshot finds what --cluster finds', async () => {
    const snap = await meshctl(['--local', mesh, 'cluster', 'snapshot']);
    expect(snap.exitCode).toBe(0);
    expect(snap.stdout).toContain('kind: List');
    expect(snap.stdout).not.toContain('resourceVersion');
    const file = join(mesh, '..', `snap-${Date.now()}.yaml`);
    writeFileSync(file, snap.stdout);
    const r = await meshctl(['analyze', '--snapshot', file, '-o', 'json', pr]);
    const got = JSON.parse(r.stdout).messages.map((m: { code: string; resource: { name: string } }) => `${m.code} ${m.resource.name}`).sort();
    expect(got).toEqual(['IST0101 payments', 'MSH0101 reviews']);
    expect(r.exitCode).toBe(79);
    expect((await meshctl(['analyze', '--snapshot', file, '-n', 'staging', pr])).exitCode).toBe(65);
  });
});
