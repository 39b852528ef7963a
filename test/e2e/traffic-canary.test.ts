/**
 * End to end with a real proxy: `meshctl proxy --config DIR` serves the directory that
 * `meshctl --local DIR` edits. After `canary shift reviews 10%`, 10,000 requests split 10/90 within
 * 4 binomial standard deviations; after `inject fault --abort 503 --percent 50` about half fail
 * with 503 (same bound); `inject fault --clear` stops it.
 * Spawns the built binary for the proxy: run `node scripts/build.mjs` first (npm test does).
 */
import { Agent } from 'node:http';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { countResponses, get, startProxyMesh, stopProxyMesh, withinFourSigma, type MeshctlProcess, type ProxyMesh } from '../helpers/processes.js';
import { meshctl } from '../helpers/run-meshctl.js';

const HOST = 'reviews.default.svc.cluster.local';

let dir: string;
let proc: MeshctlProcess;
let mesh: ProxyMesh | undefined;
let outbound = 0;
let stats = 0;
const agent = new Agent({ keepAlive: true, maxSockets: 16 });

/** Bookinfo-style reviews with two versions, as a controller would leave them: Pods + EndpointSlices. */
function workloads(v1Port: number, v2Port: number): string {
  const version = (v: string, port: number) => `
apiVersion: v1
kind: Pod
metadata: {name: reviews-${v}, namespace: default, labels: {app: reviews, version: ${v}}}
spec: {containers: [{name: reviews, image: reviews:${v}}]}
status: {podIP: 127.0.0.1, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: reviews-${v}, namespace: default, labels: {kubernetes.io/service-name: reviews}}
addressType: IPv4
ports: [{name: http, port: ${port}}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}, targetRef: {kind: Pod, name: reviews-${v}, namespace: default}}]
`;
  return `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec: {selector: {app: reviews}, ports: [{name: http, port: 9080}]}
---${version('v1', v1Port)}---${version('v2', v2Port)}`;
}

const load = (n: number): Promise<Map<string, number>> => countResponses(n, () => get(outbound, HOST, '/', agent));

/** Runs a meshctl command on the directory and waits for the proxy to load the new config. */
async function change(args: string[]): Promise<void> {
  const from = proc.lines.length;
  const r = await meshctl([...args, '--local', dir]);
  expect(r.exitCode, r.stderr).toBe(0);
  await proc.waitFor((l) => l.includes('"event":"reload"'), from);
}

beforeAll(async () => {
  mesh = await startProxyMesh('meshctl-traffic-e2e-', workloads);
  ({ dir, proc, outbound, stats } = mesh);
});

afterAll(() => {
  agent.destroy();
  stopProxyMesh(mesh);
});

test('canary shift 10%: 10,000 requests split 10/90 within 4 sigma', { timeout: 120_000 }, async () => {
  // No VirtualService or DestinationRule yet: shift creates both, subsets from the Pods' versions.
  await change(['canary', 'shift', 'reviews', '10%']);
  const n = 10_000;
  const counts = await load(n);
  const canary = counts.get('200 v2') ?? 0;
  const stable = counts.get('200 v1') ?? 0;
  console.log(`canary shift 10%: v2 ${canary}, v1 ${stable} of ${n} (expected 1000 ± ${Math.round(4 * Math.sqrt(n * 0.1 * 0.9))})`);
  expect(canary + stable).toBe(n);
  expect(withinFourSigma(canary, n, 0.1), `v2 got ${canary} of ${n}`).toBe(true);

  // canary status reads the same numbers from the proxy's /stats/prometheus.
  const status = await meshctl(['canary', 'status', 'reviews', '--metrics', `http://127.0.0.1:${stats}`, '--window', '0', '-o', 'json', '--local', dir]);
  expect(status.exitCode, status.stderr).toBe(0);
  const subsets = (JSON.parse(status.stdout) as { subsets: { subset: string; role: string; weight: number; requests: number; successRate: number }[] }).subsets;
  expect(subsets.map((x) => [x.subset, x.role, x.weight, x.requests, x.successRate])).toEqual([
    ['v1', 'stable', 90, stable, 1],
    ['v2', 'canary', 10, canary, 1],
  ]);
});

test('inject fault --abort 503 --percent 50: about half fail with 503; --clear stops it', { timeout: 120_000 }, async () => {
  await change(['inject', 'fault', 'reviews', '--abort', '503', '--percent', '50']);
  const n = 4_000;
  const counts = await load(n);
  const aborted = counts.get('503') ?? 0;
  console.log(`inject fault --abort 503 --percent 50: ${aborted} of ${n} got 503 (expected 2000 ± ${Math.round(4 * Math.sqrt(n * 0.25))})`);
  expect(withinFourSigma(aborted, n, 0.5), `503 on ${aborted} of ${n}`).toBe(true);
  // The fault rule keeps the canary split for the requests it lets through.
  const ok = (counts.get('200 v1') ?? 0) + (counts.get('200 v2') ?? 0);
  expect(ok + aborted).toBe(n);

  await change(['inject', 'fault', 'reviews', '--clear']);
  const after = await load(500);
  expect(after.get('503') ?? 0).toBe(0);
});
