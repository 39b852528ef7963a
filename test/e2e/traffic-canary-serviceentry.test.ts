/**
 * End to end for a service outside Kubernetes: `reviews.example.internal` is a ServiceEntry whose
 * workloadSelector picks two WorkloadEntries (v1 and v2, local processes on 127.0.0.1) — no
 * Service, Pod or EndpointSlice. A real `meshctl proxy --config DIR` serves the directory that
 * `meshctl --local DIR` edits. `canary shift reviews.example.internal 20%` creates the subsets from
 * the WorkloadEntries' version labels; 4,000 requests then split 20/80 within 4 binomial standard
 * deviations; `canary promote` sends all of them to v2.
 * Spawns the built binary for the proxy: run `node scripts/build.mjs` first (npm test does).
 */
import { Agent } from 'node:http';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { countResponses, get, startProxyMesh, stopProxyMesh, withinFourSigma, type MeshctlProcess, type ProxyMesh } from '../helpers/processes.js';
import { meshctl } from '../helpers/run-meshctl.js';

const HOST = 'reviews.example.internal';

let dir: string;
let proc: MeshctlProcess;
let mesh: ProxyMesh | undefined;
let outbound = 0;
let stats = 0;
/** Requests per version before the shift: the proxy's counters include them. */
const unshifted = new Map<string, number>();
const agent = new Agent({ keepAlive: true, maxSockets: 16 });

/** The service as a VM / local-process mesh defines it: a ServiceEntry and its WorkloadEntries. */
function entries(v1Port: number, v2Port: number): string {
  const we = (v: string, port: number): string => `
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-${v}, namespace: default}
spec: {address: 127.0.0.1, ports: {http: ${port}}, labels: {app: reviews, version: ${v}}}
`;
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: default}
spec:
  hosts: [${HOST}]
  ports: [{number: 9080, name: http, protocol: HTTP}]
  resolution: STATIC
  location: MESH_INTERNAL
  workloadSelector: {labels: {app: reviews}}
---${we('v1', v1Port)}---${we('v2', v2Port)}`;
}

const load = (n: number): Promise<Map<string, number>> => countResponses(n, () => get(outbound, HOST, '/', agent));

/** Runs a meshctl command on the directory and waits for the proxy to load the new config. */
async function change(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const from = proc.lines.length;
  const r = await meshctl([...args, '--local', dir]);
  expect(r.exitCode, r.stderr).toBe(0);
  await proc.waitFor((l) => l.includes('"event":"reload"'), from);
  return r;
}

beforeAll(async () => {
  mesh = await startProxyMesh('meshctl-traffic-se-e2e-', entries);
  ({ dir, proc, outbound, stats } = mesh);
});

afterAll(() => {
  agent.destroy();
  stopProxyMesh(mesh);
});

test('before any shift both WorkloadEntries get traffic (the ServiceEntry routes without subsets)', { timeout: 60_000 }, async () => {
  const counts = await load(400);
  expect((counts.get('200 v1') ?? 0) + (counts.get('200 v2') ?? 0)).toBe(400);
  expect(counts.get('200 v1') ?? 0).toBeGreaterThan(0);
  expect(counts.get('200 v2') ?? 0).toBeGreaterThan(0);
  for (const v of ['v1', 'v2']) unshifted.set(v, counts.get(`200 ${v}`) ?? 0);
});

test('canary shift on a ServiceEntry host: 4,000 requests split 20/80 within 4 sigma; promote sends all to v2', { timeout: 120_000 }, async () => {
  const shift = await change(['canary', 'shift', HOST, '20%']);
  expect(shift.stderr).toContain('treated as ready');
  const n = 4_000;
  const counts = await load(n);
  const canary = counts.get('200 v2') ?? 0;
  const stable = counts.get('200 v1') ?? 0;
  console.log(`ServiceEntry canary shift 20%: v2 ${canary}, v1 ${stable} of ${n} (expected 800 ± ${Math.round(4 * Math.sqrt(n * 0.2 * 0.8))})`);
  expect(canary + stable).toBe(n);
  expect(withinFourSigma(canary, n, 0.2), `v2 got ${canary} of ${n}`).toBe(true);

  // canary status reads the proxy's counters (since it started) per version label of the WorkloadEntries.
  const status = await meshctl(['canary', 'status', HOST, '--metrics', `http://127.0.0.1:${stats}`, '--window', '0', '-o', 'json', '--local', dir]);
  expect(status.exitCode, status.stderr).toBe(0);
  const subsets = (JSON.parse(status.stdout) as { subsets: { subset: string; role: string; weight: number; requests: number }[] }).subsets;
  expect(subsets.map((x) => [x.subset, x.role, x.weight, x.requests])).toEqual([
    ['v1', 'stable', 80, stable + (unshifted.get('v1') ?? 0)],
    ['v2', 'canary', 20, canary + (unshifted.get('v2') ?? 0)],
  ]);

  await change(['canary', 'promote', HOST]);
  const after = await load(500);
  expect(after.get('200 v2') ?? 0).toBe(500);
});
