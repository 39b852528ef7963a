import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { meshctl } from '../../helpers/run-meshctl.js';

const NET = 'samples/bookinfo/networking';
let jason: string;
let base: string;
let policy: string;

function bookinfoWith(...files: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-explain-'));
  cpSync('samples/bookinfo/bookinfo.yaml', join(dir, 'bookinfo.yaml'));
  cpSync(`${NET}/destination-rule-all.yaml`, join(dir, 'destination-rule-all.yaml'));
  for (const f of files) cpSync(`${NET}/${f}`, join(dir, f));
  return dir;
}

beforeAll(() => {
  jason = bookinfoWith('virtual-service-reviews-jason-v2-v3.yaml');
  base = bookinfoWith('virtual-service-all-v1.yaml');
  policy = bookinfoWith('virtual-service-ratings-test-delay.yaml');
  writeFileSync(
    join(policy, 'policy.yaml'),
    `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ratings-viewer}
spec:
  selector: {matchLabels: {app: ratings}}
  rules:
  - from: [{source: {principals: [cluster.local/ns/default/sa/bookinfo-reviews]}}]
    to: [{operation: {methods: [GET]}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: details}
spec:
  hosts: [details]
  http:
  - timeout: 2s
    retries: {attempts: 3, perTryTimeout: 500ms, retryOn: 5xx}
    mirror: {host: details, subset: v2}
    mirrorPercentage: {value: 10}
    route:
    - {destination: {host: details, subset: v1}, weight: 80}
    - {destination: {host: details, subset: v2}, weight: 20}
`,
  );
});

const json = async (args: string[]) => {
  const r = await meshctl([...args, '-o', 'json']);
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};

describe('meshctl explain', () => {
  test('the header match picks the jason rule; without it the catch-all', async () => {
    const withHeader = await json(['explain', 'reviews', '-f', jason, '--header', 'end-user=jason']);
    expect(withHeader.rule).toBe('http[0]');
    expect(withHeader.matchedBy).toContain('header end-user exact "jason"');
    expect(withHeader.destinations).toMatchObject([{ subset: 'v2', weight: 100, workloads: 1 }]);
    const without = await json(['explain', 'reviews', '-f', jason, '--header', 'end-user=ann']);
    expect(without.rule).toBe('http[1]');
    expect(without.destinations).toMatchObject([{ subset: 'v3', weight: 100 }]);
  });

  test('weights, timeout, retries, mirror, fault, TLS and authorization', async () => {
    const d = await json(['explain', 'details', '-f', policy]);
    expect(d.destinations.map((x: { subset: string; weight: number }) => `${x.subset}:${x.weight}`)).toEqual(['v1:80', 'v2:20']);
    expect(d.timeout).toBe('2s');
    expect(d.retries).toBe('3 attempts, 500ms each on 5xx');
    expect(d.mirror).toContain('details.default.svc.cluster.local subset v2 (10% of requests');
    expect(d.tls).toContain('server STRICT (PeerAuthentication default.istio-system)');
    const ratings = await json(['explain', 'ratings', '-f', policy, '--header', 'end-user=jason', '--source', 'app=reviews']);
    expect(ratings.fault).toBe('delay 7s on 100% of requests');
    expect(ratings.authorization).toBe('ALLOW by ratings-viewer.default rule 0');
    const fromProductpage = await json(['explain', 'ratings', '-f', policy, '--source', 'app=productpage']);
    expect(fromProductpage.authorization).toMatch(/^DENY: ALLOW policies ratings-viewer select the workload and none matches/);
    const post = await json(['explain', 'ratings', '-f', policy, '--source', 'app=reviews', '--method', 'POST']);
    expect(post.authorization).toMatch(/^DENY/);
  });

  test('a host without VirtualService uses the default route', async () => {
    const d = await json(['explain', 'productpage', '-f', jason]);
    expect(d.rule).toBe('default route');
    expect(d.destinations).toMatchObject([{ host: 'productpage.default.svc.cluster.local', weight: 100 }]);
  });

  test('--base prints a before/after diff of the change', async () => {
    const r = await meshctl(['explain', 'reviews', '-f', jason, '--base', base]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('Changes: Rule, Destination');
    expect(r.stdout).toMatch(/^- Destination: +100% {2}reviews\.default\.svc\.cluster\.local subset v1/m);
    expect(r.stdout).toMatch(/^\+ Destination: +100% {2}reviews\.default\.svc\.cluster\.local subset v3/m);
    const same = await meshctl(['explain', 'productpage', '-f', jason, '--base', jason]);
    expect(same.stdout).toContain('No change in how this request is handled.');
  });

  test('from the cluster (a --local mesh) when no files are given', async () => {
    const d = await json(['--local', jason, 'explain', 'reviews.default', '--header', 'end-user=jason']);
    expect(d.rule).toBe('http[0]');
    expect(d.destinations).toMatchObject([{ host: 'reviews.default.svc.cluster.local', subset: 'v2' }]);
  });

  test('a service nothing defines or routes is an error with a guess, not a made-up answer', async () => {
    const r = await meshctl(['explain', 'reviwes', '-f', jason]);
    expect(r.exitCode).toBe(65);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Error: no Service, ServiceEntry or VirtualService for "reviwes\.default\.svc\.cluster\.local" in .* \(did you mean "reviews"\?\)\n$/);
    // Added by the change: new against --base is fine.
    const added = await meshctl(['explain', 'productpage', '-f', jason, '--base', mkdtempSync(join(tmpdir(), 'meshctl-explain-empty-'))]);
    expect(added.exitCode).toBe(0);
    expect(added.stdout).toMatch(/^\+ Service: +Service productpage\.default$/m);
  });

  test('bad flags are usage errors', async () => {
    expect((await meshctl(['explain', 'reviews', '-f', jason, '--header', 'nope'])).exitCode).toBe(64);
    expect((await meshctl(['explain', 'reviews', '-f', jason, '--port', '99999'])).exitCode).toBe(64);
  });
});
