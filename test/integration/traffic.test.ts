/**
 * The traffic commands against a real API server: each changes exactly the objects it should
 * (compared by resourceVersion over every object of every namespaced kind meshctl knows, in the
 * namespace), --dry-run changes nothing, and racing writers — in this process and in separate
 * meshctl processes — lose no write.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { KINDS, kindInfo } from '../../src/api/kinds.js';
import type { Resource } from '../../src/api/resource.js';
import { planCanaryShift } from '../../src/core/traffic/canary.js';
import { KubeStore } from '../../src/store/kube-store.js';
import { adminKubeconfig, freshNamespace, kubeEnv } from '../helpers/cluster.js';
import { meshctl } from '../helpers/run-meshctl.js';

const ROOT = join(import.meta.dirname, '../..');

function docs(file: string, ns: string): Resource[] {
  return parseAllDocuments(readFileSync(join(ROOT, file), 'utf8'))
    .map((d) => d.toJS() as Resource | null)
    .filter((r): r is Resource => !!r?.kind && kindInfo(r.kind) !== undefined)
    .map((r) => ({ ...r, metadata: { ...r.metadata, namespace: ns } }));
}

let store: KubeStore;
beforeAll(async () => {
  store = await KubeStore.fromKubeconfig({ kubeconfig: adminKubeconfig(), env: {} });
});
afterAll(async () => {
  await store?.close();
});

/** A namespace holding Bookinfo's Services and Deployments plus the given networking files. */
async function bookinfo(prefix: string, ...networking: string[]): Promise<string> {
  const ns = await freshNamespace(prefix);
  const objects = [
    ...docs('samples/bookinfo/bookinfo.yaml', ns).filter((r) => r.kind === 'Service' || r.kind === 'Deployment'),
    ...networking.flatMap((n) => docs(`samples/bookinfo/networking/${n}.yaml`, ns)),
  ];
  for (const r of objects) await store.apply(r);
  return ns;
}

/**
 * kind/name -> resourceVersion of every object in the namespace, over every namespaced kind meshctl
 * knows (Services, Deployments, ConfigMaps, ... as well as the Istio kinds): a command that touched
 * anything besides its target would show up here.
 */
async function versions(ns: string): Promise<Record<string, string | undefined>> {
  const out: Record<string, string | undefined> = {};
  const kinds = KINDS.filter((k) => k.namespaced).map((k) => k.kind);
  const lists = await Promise.all(kinds.map((kind) => store.list(kind, ns)));
  kinds.forEach((kind, i) => {
    for (const r of lists[i] ?? []) out[`${kind}/${r.metadata.name}`] = r.metadata.resourceVersion;
  });
  return out;
}

function changed(before: Record<string, string | undefined>, after: Record<string, string | undefined>): string[] {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => before[k] !== after[k]).sort();
}

type Http = { name?: string; match?: unknown; route: { destination: { subset?: string }; weight?: number }[]; mirror?: unknown; timeout?: string }[];
async function http(ns: string, name: string): Promise<Http> {
  const vs = await store.get({ kind: 'VirtualService', namespace: ns, name });
  return (vs?.spec as { http: Http }).http;
}

const run = (args: string[], ns: string) => meshctl([...args, '-n', ns], { env: kubeEnv() });

describe('traffic commands on a real API server', () => {
  it('canary shift on a ServiceEntry host creates subsets from its WorkloadEntries and changes nothing else', async () => {
    const ns = await freshNamespace('traffic-se');
    // The fixture's WorkloadEntry in namespace "other" is left out: the test namespace is fresh.
    for (const r of docs('test/fixtures/traffic/inputs/service-entry.yaml', ns).filter((x) => x.metadata.name.startsWith('reviews') && !x.metadata.name.endsWith('v9'))) await store.apply(r);
    const v0 = await versions(ns);
    const r = await run(['canary', 'shift', 'reviews.example.internal', '25%'], ns);
    expect(r.stderr).not.toContain('Error');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('reviews.example.internal: v1 75% / v2 25%');
    expect(r.stderr).toContain('WorkloadEntry reviews-v2 reports no health');
    expect(changed(v0, await versions(ns))).toEqual(['DestinationRule/reviews', 'VirtualService/reviews']);
    const dr = await store.get({ kind: 'DestinationRule', namespace: ns, name: 'reviews' });
    expect((dr?.spec as { host?: string }).host).toBe('reviews.example.internal');
    const routes = await http(ns, 'reviews');
    expect(routes[routes.length - 1]?.route.map((d) => [d.destination.subset, d.weight])).toEqual([['v1', 75], ['v2', 25]]);
    const missing = await run(['canary', 'shift', 'reviews', '25%'], ns);
    expect(missing.exitCode).toBe(65);
    expect(missing.stderr).toContain('did you mean "reviews.example.internal"?');
  });

  it('canary shift changes only the service\'s VirtualService; --dry-run changes nothing', async () => {
    const ns = await bookinfo('traffic-shift', 'destination-rule-all', 'virtual-service-all-v1');
    const v0 = await versions(ns);
    const dry = await run(['canary', 'shift', 'reviews', '10%', '--to', 'v2', '--dry-run'], ns);
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toContain('dry run: nothing written');
    expect(changed(v0, await versions(ns))).toEqual([]);

    const r = await run(['canary', 'shift', 'reviews', '10%', '--to', 'v2'], ns);
    expect(r.stderr).not.toContain('Error');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('reviews: v1 90% / v2 10% (was v1 100%)');
    // Deployments here have no status (no controllers run), which the command says.
    expect(r.stderr).toContain('report no status yet');
    const v1 = await versions(ns);
    expect(changed(v0, v1)).toEqual(['VirtualService/reviews']);
    const routes = await http(ns, 'reviews');
    expect(routes[routes.length - 1]?.route.map((d) => [d.destination.subset, d.weight])).toEqual([['v1', 90], ['v2', 10]]);

    const bad = await run(['canary', 'shift', 'reviews', '110%'], ns);
    expect(bad.exitCode).toBe(64);
    const undefinedSubset = await run(['canary', 'shift', 'reviews', '10', '--to', 'v7'], ns);
    expect(undefinedSubset.exitCode).toBe(65);
    expect(changed(v1, await versions(ns))).toEqual([]);

    expect((await run(['canary', 'promote', 'reviews'], ns)).exitCode).toBe(0);
    const promoted = await http(ns, 'reviews');
    expect(promoted[promoted.length - 1]?.route.map((d) => d.destination.subset)).toEqual(['v2']);
    const v2 = await versions(ns);
    expect(changed(v1, v2)).toEqual(['VirtualService/reviews']);

    // v2 is stable now; a new canary of v3, rolled back.
    expect((await run(['canary', 'shift', 'reviews', '30', '--to', 'v3'], ns)).exitCode).toBe(0);
    const v3 = await versions(ns);
    expect(changed(v2, v3)).toEqual(['VirtualService/reviews']);
    const rb = await run(['canary', 'rollback', 'reviews'], ns);
    expect(rb.exitCode, rb.stderr).toBe(0);
    expect(rb.stdout).toContain('reviews: rolled back to v2 100% (was v2 70% / v3 30%)');
    expect(changed(v3, await versions(ns))).toEqual(['VirtualService/reviews']);
  });

  it('canary shift creates the VirtualService and DestinationRule when none exist', async () => {
    const ns = await bookinfo('traffic-create');
    const v0 = await versions(ns);
    expect(Object.keys(v0)).toContain('Deployment/reviews-v3');
    const dry = await run(['canary', 'shift', 'reviews', '25', '--to', 'v3', '--from', 'v1', '--dry-run'], ns);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('+ VirtualService reviews');
    expect(changed(v0, await versions(ns))).toEqual([]);
    const r = await run(['canary', 'shift', 'reviews', '25', '--to', 'v3', '--from', 'v1'], ns);
    expect(r.exitCode).toBe(0);
    expect(changed(v0, await versions(ns))).toEqual(['DestinationRule/reviews', 'VirtualService/reviews']);
    const dr = await store.get({ kind: 'DestinationRule', namespace: ns, name: 'reviews' });
    expect((dr?.spec as { subsets: { name: string }[] }).subsets.map((s) => s.name)).toEqual(['v1', 'v2', 'v3']);
  });

  it('inject fault, route header, route mirror and resilience set change exactly their objects', async () => {
    const ns = await bookinfo('traffic-misc', 'destination-rule-all', 'virtual-service-all-v1');
    let v = await versions(ns);
    const step = async (args: string[], expected: string[]) => {
      const r = await run(args, ns);
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      const next = await versions(ns);
      expect(changed(v, next), args.join(' ')).toEqual(expected);
      v = next;
    };
    await step(['inject', 'fault', 'ratings', '--abort', '503', '--percent', '50', '--duration', '10m', '--dry-run'], []);
    await step(['inject', 'fault', 'ratings', '--abort', '503', '--percent', '50', '--duration', '10m'], ['VirtualService/ratings']);
    const all = await meshctl(['inject', 'fault', '--list', '-A', '-o', 'json'], { env: kubeEnv() });
    expect(all.exitCode, all.stderr).toBe(0);
    const rows = (JSON.parse(all.stdout) as { namespace: string; route: string; fault: string; expires: string | null; state: string }[]).filter((r) => r.namespace === ns);
    expect(rows).toEqual([expect.objectContaining({ route: expect.stringMatching(/^meshctl-fault-/), fault: 'abort 503 50%', expires: expect.any(String), state: 'active' })]);
    await step(['route', 'header', 'reviews', '--header', 'end-user=jason', '--to', 'v2'], ['VirtualService/reviews']);
    await step(['route', 'mirror', 'reviews', '--to', 'v3', '--percent', '10', '--dry-run'], []);
    await step(['route', 'mirror', 'reviews', '--to', 'v3', '--percent', '10'], ['VirtualService/reviews']);
    await step(['resilience', 'set', 'details', '--max-connections', '10'], ['DestinationRule/details']);
    await step(['resilience', 'set', 'details', '--timeout', '2s', '--retries', '2'], ['VirtualService/details']);
    await step(['inject', 'fault', 'ratings', '--clear'], ['VirtualService/ratings']);
    const list = await run(['inject', 'fault', '--list'], ns);
    expect(list.stdout).toBe(`no faults in namespace "${ns}"\n`);
  });

  it('canary rollout keeps its state on the VirtualService, promotes, and refuses a second rollout', async () => {
    const ns = await bookinfo('traffic-rollout', 'destination-rule-all', 'virtual-service-all-v1');
    // A stand-in proxy metrics endpoint: 20 more healthy v2 requests at every scrape.
    let total = 0;
    const server = createServer((_q, res) => {
      total += 20;
      const l = `reporter="source",destination_service="reviews.${ns}.svc.cluster.local",destination_version="v2"`;
      res.end(`istio_requests_total{${l},response_code="200"} ${total}\nistio_request_duration_milliseconds_bucket{${l},le="50"} ${total}\nistio_request_duration_milliseconds_bucket{${l},le="+Inf"} ${total}\n`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const metrics = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const gates = ['--interval', '30ms', '--max-error-rate', '1%', '--max-p99', '500ms', '--min-requests', '10', '--metrics', metrics];
      const v0 = await versions(ns);
      const r = await run(['canary', 'rollout', 'reviews', '--to', 'v2', '--steps', '50,100', ...gates], ns);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(changed(v0, await versions(ns))).toEqual(['VirtualService/reviews']);
      const vs = await store.get({ kind: 'VirtualService', namespace: ns, name: 'reviews' });
      const state = JSON.parse(vs?.metadata.annotations?.['meshctl.io/rollout'] ?? '{}') as Record<string, { phase: string }>;
      expect(state[`reviews.${ns}.svc.cluster.local`]?.phase).toBe('succeeded');
      const routes = await http(ns, 'reviews');
      expect(routes[routes.length - 1]?.route.map((d) => d.destination.subset)).toEqual(['v2']);

      // A rollout in progress (as an interrupted process leaves it) refuses a second one.
      await store.modify({ kind: 'VirtualService', namespace: ns, name: 'reviews' }, (cur) => {
        const out = structuredClone(cur) as Resource;
        const host = `reviews.${ns}.svc.cluster.local`;
        out.metadata.annotations = { ...out.metadata.annotations, 'meshctl.io/rollout': JSON.stringify({ [host]: { stable: 'v2', canary: 'v3', steps: [10, 100], step: 0, phase: 'progressing', startedAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', inconclusive: 0 } }) };
        return out;
      });
      const v1 = await versions(ns);
      const second = await run(['canary', 'rollout', 'reviews', '--to', 'v3', '--from', 'v2', ...gates], ns);
      expect(second.exitCode).toBe(64);
      expect(second.stderr).toContain('a rollout of reviews is already in progress');
      expect(changed(v1, await versions(ns))).toEqual([]);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('concurrent canary shift and header routes on one service lose no write', async () => {
    const ns = await bookinfo('traffic-race', 'destination-rule-all', 'virtual-service-all-v1');
    const users = ['ann', 'bob', 'cai', 'dee'];
    const results = await Promise.all([
      run(['canary', 'shift', 'reviews', '20', '--to', 'v2'], ns),
      ...users.map((u) => run(['route', 'header', 'reviews', '--header', `end-user=${u}`, '--to', 'v3'], ns)),
    ]);
    expect(results.map((r) => r.exitCode)).toEqual(results.map(() => 0));
    const routes = await http(ns, 'reviews');
    const matched = routes.flatMap((r) => JSON.stringify(r.match ?? '').match(/"exact":"(\w+)"/)?.slice(1) ?? []);
    expect(matched.sort()).toEqual(users);
    expect(routes[routes.length - 1]?.route.map((d) => [d.destination.subset, d.weight])).toEqual([['v1', 80], ['v2', 20]]);
  });
  it('--dry-run writes nothing for every command that has it, though each would change something', async () => {
    const ns = await bookinfo('traffic-dry', 'destination-rule-all', 'virtual-service-all-v1');
    // State in which every command below has something to change.
    for (const args of [
      ['canary', 'shift', 'reviews', '20', '--to', 'v2'],
      ['route', 'header', 'reviews', '--header', 'end-user=jason', '--to', 'v3'],
      ['route', 'mirror', 'reviews', '--to', 'v3', '--percent', '5'],
      ['inject', 'fault', 'ratings', '--delay', '2s', '--percent', '10'],
    ]) {
      const r = await run(args, ns);
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    const v0 = await versions(ns);
    const dryRuns = [
      ['canary', 'shift', 'reviews', '50'],
      ['canary', 'promote', 'reviews'],
      ['canary', 'rollback', 'reviews'],
      ['inject', 'fault', 'ratings', '--abort', '503', '--percent', '50', '--duration', '10m'],
      ['inject', 'fault', 'ratings', '--clear'],
      ['route', 'header', 'reviews', '--cookie', 'user=tester', '--to', 'v2'],
      ['route', 'header', 'reviews', '--header', 'end-user=jason', '--clear'],
      ['route', 'mirror', 'reviews', '--to', 'v2', '--percent', '50'],
      ['route', 'mirror', 'reviews', '--clear'],
      ['resilience', 'set', 'reviews', '--timeout', '2s', '--retries', '3', '--max-connections', '10', '--consecutive-5xx', '5'],
    ];
    for (const args of dryRuns) {
      const r = await run([...args, '--dry-run', '-o', 'json'], ns);
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      const data = JSON.parse(r.stdout) as { dryRun: boolean; written: string[]; changes: { before: unknown; after: unknown }[] };
      expect(data.dryRun, args.join(' ')).toBe(true);
      expect(data.written, args.join(' ')).toEqual([]);
      // The plan does change something: the dry run shows a real diff, not an empty one.
      expect(data.changes.some((c) => JSON.stringify(c.before) !== JSON.stringify(c.after)), args.join(' ')).toBe(true);
      expect(changed(v0, await versions(ns)), args.join(' ')).toEqual([]);
    }
  });

  it('canary shifts racing in separate meshctl processes are serialised: each write builds on the one before', async () => {
    const bin = join(ROOT, 'bin/meshctl');
    if (!existsSync(join(ROOT, 'dist/meshctl.js'))) throw new Error('dist/meshctl.js is missing: run "node scripts/build.mjs" first (npm test does)');
    const ns = await bookinfo('traffic-race-proc', 'destination-rule-all', 'virtual-service-all-v1');
    const v0 = await versions(ns);
    const proc = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [bin, ...args, '-n', ns, '-o', 'json'], { env: { ...process.env, ...kubeEnv(), NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    const weights = [10, 20, 30, 40];
    const results = await Promise.all(weights.map((w) => proc(['canary', 'shift', 'reviews', String(w), '--to', 'v2', '--from', 'v1'])));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    type Out = { written: string[]; before: { subset?: string; weight: number }[]; changes: { before: Resource; after: Resource }[] };
    const outs = results.map((r) => JSON.parse(r.stdout) as Out);
    for (const o of outs) expect(o.written).toEqual(['VirtualService reviews.' + ns]);
    // The canary share in the object each process actually modified (the store's fresh read, not
    // its first snapshot) and in what it wrote. Without optimistic concurrency two processes would
    // start from the same object and one write would be lost; serialised, every "before" is
    // distinct, one is the initial 0 and each other is some process's "after".
    const canaryShare = (vs: Resource | undefined): number => {
      const routes = (vs?.spec as { http: Http }).http;
      return routes[routes.length - 1]?.route.find((d) => d.destination.subset === 'v2')?.weight ?? 0;
    };
    const befores = outs.map((o) => canaryShare(o.changes[0]?.before));
    const afters = outs.map((o) => canaryShare(o.changes[0]?.after));
    // What each reports as "was" is what its write replaced.
    expect(outs.map((o) => o.before.find((w) => w.subset === 'v2')?.weight ?? 0)).toEqual(befores);
    expect(new Set(befores).size).toBe(weights.length);
    expect(befores.filter((b) => b === 0)).toHaveLength(1);
    for (const b of befores) if (b !== 0) expect(afters).toContain(b);
    // The last writer's weights are what the object holds, and nothing else in the namespace changed.
    const last = afters.find((a) => !befores.includes(a));
    const routes = await http(ns, 'reviews');
    expect(routes[routes.length - 1]?.route.map((d) => [d.destination.subset, d.weight])).toEqual([['v1', 100 - (last ?? -1)], ['v2', last]]);
    expect(changed(v0, await versions(ns))).toEqual(['VirtualService/reviews']);
  });
  it('a canary shift whose write loses a race to other meshctl processes redoes it on their result', async () => {
    // Deterministic interleaving: this process (its own KubeStore) reads the VirtualService, and
    // before it writes, two separate meshctl processes run to completion — another canary shift and
    // a header route. Its write must then conflict and be redone on their result, not over it.
    const bin = join(ROOT, 'bin/meshctl');
    if (!existsSync(join(ROOT, 'dist/meshctl.js'))) throw new Error('dist/meshctl.js is missing: run "node scripts/build.mjs" first (npm test does)');
    const ns = await bookinfo('traffic-race-forced', 'destination-rule-all', 'virtual-service-all-v1');
    const own = await KubeStore.fromKubeconfig({ kubeconfig: adminKubeconfig(), env: {} });
    try {
      const list = (kind: string) => own.list(kind, ns);
      const [virtualServices, destinationRules, services, deployments, pods] = await Promise.all(['VirtualService', 'DestinationRule', 'Service', 'Deployment', 'Pod'].map(list));
      const plan = planCanaryShift({ snapshot: { namespace: ns, virtualServices: virtualServices ?? [], destinationRules: destinationRules ?? [], services: services ?? [], deployments: deployments ?? [], pods: pods ?? [] }, service: 'reviews', weight: 50, to: 'v2', from: 'v1' });
      const edit = plan.edits[0];
      if (!edit || plan.edits.length !== 1) throw new Error('expected one edit');
      const others: { status: number | null; stderr: string }[] = [];
      const seen: Resource[] = [];
      const result = await own.modify(edit.ref, (current) => {
        if (current) seen.push(structuredClone(current));
        if (others.length === 0) {
          for (const args of [['canary', 'shift', 'reviews', '20', '--to', 'v2', '--from', 'v1'], ['route', 'header', 'reviews', '--header', 'end-user=jason', '--to', 'v3']]) {
            const r = spawnSync(process.execPath, [bin, ...args, '-n', ns], { env: { ...process.env, ...kubeEnv() }, encoding: 'utf8', timeout: 30_000 });
            others.push({ status: r.status, stderr: r.stderr });
          }
        }
        return edit.mutate(current);
      });
      expect(others.map((o) => o.status), others.map((o) => o.stderr).join('\n')).toEqual([0, 0]);
      expect(result.retries).toBe(1);
      // The redo saw the other processes' writes: their 80/20 split and the header route.
      expect(seen).toHaveLength(2);
      const seenRoutes = (seen[1]?.spec as { http: Http }).http;
      expect(seenRoutes[seenRoutes.length - 1]?.route.map((d) => d.weight)).toEqual([80, 20]);
      const routes = await http(ns, 'reviews');
      expect(routes.map((r) => JSON.stringify(r.match ?? null))).toEqual(['[{"headers":{"end-user":{"exact":"jason"}}}]', 'null']);
      expect(routes[1]?.route.map((d) => [d.destination.subset, d.weight])).toEqual([['v1', 50], ['v2', 50]]);
    } finally {
      await own.close();
    }
  });
});
