/**
 * The traffic commands through the real command tree on a file-backed mesh (`--local DIR`): what
 * they print, what they write (and do not write), exit codes, and concurrent writers.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { Resource } from '../../../src/api/resource.js';
import { FileStore } from '../../../src/store/file-store.js';
import { meshctl } from '../../helpers/run-meshctl.js';

const ROOT = join(import.meta.dirname, '../../..');
const dirs: string[] = [];

function mesh(...networking: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-traffic-'));
  dirs.push(dir);
  copyFileSync(join(ROOT, 'samples/bookinfo/bookinfo.yaml'), join(dir, 'bookinfo.yaml'));
  for (const n of networking) copyFileSync(join(ROOT, `samples/bookinfo/networking/${n}.yaml`), join(dir, `${n}.yaml`));
  return dir;
}

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Every file's bytes, to prove a command wrote nothing. */
function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (f.isFile() && !f.name.startsWith('.')) out[join(f.parentPath, f.name)] = readFileSync(join(f.parentPath, f.name), 'utf8');
  }
  return out;
}

async function object(dir: string, kind: string, name: string): Promise<Resource | undefined> {
  const store = await FileStore.open(dir);
  try {
    return await store.get({ kind, namespace: 'default', name });
  } finally {
    await store.close();
  }
}

type Http = { name?: string; match?: unknown; route: { destination: { subset?: string }; weight?: number }[]; fault?: unknown; mirror?: unknown; timeout?: string }[];
const httpOf = (r: Resource | undefined): Http => (r?.spec as { http: Http }).http;
const weights = (r: Resource | undefined, i = -1): [string | undefined, number | undefined][] => {
  const http = httpOf(r);
  const route = i < 0 ? http[http.length - 1] : http[i];
  return (route?.route ?? []).map((d) => [d.destination.subset, d.weight]);
};

describe('canary shift / promote / rollback', () => {
  test('shift writes the weights, prints before -> after, and reads back', async () => {
    const dir = mesh('destination-rule-all', 'virtual-service-all-v1');
    const r = await meshctl(['canary', 'shift', 'reviews', '10%', '--to', 'v2', '--local', dir]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('reviews: v1 90% / v2 10% (was v1 100%)');
    expect(r.stdout).toMatch(/^\+ +weight: 10$/m);
    expect(r.stdout).toContain('written: VirtualService reviews.default');
    expect(r.stderr).toContain('readiness cannot be checked');
    expect(weights(await object(dir, 'VirtualService', 'reviews'))).toEqual([['v1', 90], ['v2', 10]]);
    // Other services' VirtualServices are untouched.
    expect(weights(await object(dir, 'VirtualService', 'ratings'))).toEqual([['v1', undefined]]);
  });

  test('"10" and "10%" mean the same; the canary is remembered, so promote and rollback need no flags', async () => {
    const dir = mesh('destination-rule-all', 'virtual-service-all-v1');
    expect((await meshctl(['canary', 'shift', 'reviews', '10', '--to', 'v3', '--local', dir])).exitCode).toBe(0);
    const again = await meshctl(['canary', 'shift', 'reviews', '10%', '--local', dir]);
    expect(again.stdout).toContain('nothing to change');
    const more = await meshctl(['canary', 'shift', 'reviews', '50', '--local', dir, '-o', 'json']);
    expect(JSON.parse(more.stdout)).toMatchObject({ stable: 'v1', canary: 'v3', after: [{ subset: 'v1', weight: 50 }, { subset: 'v3', weight: 50 }], written: ['VirtualService reviews.default'] });
    const rollback = await meshctl(['canary', 'rollback', 'reviews', '--local', dir]);
    expect(rollback.exitCode).toBe(0);
    expect(weights(await object(dir, 'VirtualService', 'reviews'))).toEqual([['v1', undefined]]);
    await meshctl(['canary', 'shift', 'reviews', '20', '--to', 'v2', '--local', dir]);
    const promote = await meshctl(['canary', 'promote', 'reviews', '--local', dir]);
    expect(promote.stdout).toContain('promoted v2 to 100%');
    expect(weights(await object(dir, 'VirtualService', 'reviews'))).toEqual([['v2', undefined]]);
  });

  test('--dry-run prints the diff and writes nothing', async () => {
    const dir = mesh('destination-rule-all', 'virtual-service-all-v1');
    const before = files(dir);
    const r = await meshctl(['canary', 'shift', 'reviews', '25', '--to', 'v2', '--dry-run', '--local', dir]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('+          weight: 25');
    expect(r.stdout).toContain('dry run: nothing written');
    expect(files(dir)).toEqual(before);
  });

  test('creates the VirtualService and DestinationRule subsets from version labels', async () => {
    const dir = mesh();
    const r = await meshctl(['canary', 'shift', 'reviews', '10', '--to', 'v2', '--from', 'v1', '--local', dir]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('+ DestinationRule reviews.default (created)');
    expect(r.stdout).toContain('+ VirtualService reviews.default (created)');
    const dr = await object(dir, 'DestinationRule', 'reviews');
    expect((dr?.spec as { subsets: { name: string }[] }).subsets.map((s) => s.name)).toEqual(['v1', 'v2', 'v3']);
    expect(weights(await object(dir, 'VirtualService', 'reviews'))).toEqual([['v1', 90], ['v2', 10]]);
  });

  test.each([
    [['110%'], 64, 'invalid weight "110%"'],
    [['abc'], 64, 'invalid weight "abc"'],
    [['10.5%'], 64, 'weights are whole numbers'],
    [['-5'], 64, 'invalid weight "-5"'],
    [['10', '--to', 'v9'], 65, 'subset "v9" (--to) is not defined'],
    [['10'], 64, 'cannot tell which subset of reviews is the canary'],
  ])('bad input %j: one line, exit %i, nothing written', async (rest, code, message) => {
    const dir = mesh('destination-rule-all', 'virtual-service-all-v1');
    const before = files(dir);
    const r = await meshctl(['canary', 'shift', 'reviews', ...rest, '--local', dir]);
    expect(r.exitCode).toBe(code);
    expect(r.stderr).toContain(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
    expect(files(dir)).toEqual(before);
  });

  test('an unknown service is exit 65 with a suggestion', async () => {
    const dir = mesh('destination-rule-all');
    const r = await meshctl(['canary', 'shift', 'reveiws', '10', '--local', dir]);
    expect(r.exitCode).toBe(65);
    expect(r.stderr).toBe('Error: service "reveiws" not found in namespace "default": no Service "reveiws" and no ServiceEntry with host "reveiws.default.svc.cluster.local" (did you mean "reviews"?)\n');
  });
});

describe('inject fault', () => {
  const now = () => new Date('2026-01-02T03:00:00.000Z');

  test('adds an expiring rule ahead of the routes, lists it, and clears it', async () => {
    const dir = mesh('destination-rule-all', 'virtual-service-all-v1');
    const r = await meshctl(['inject', 'fault', 'ratings', '--abort', '503', '--percent', '50', '--duration', '10m', '--local', dir], { now });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('ratings: abort 503 on 50% of requests, until 2026-01-02T03:10:00.000Z');
    const vs = await object(dir, 'VirtualService', 'ratings');
    const http = httpOf(vs);
    expect(http[0]?.name).toMatch(/^meshctl-fault-[0-9a-f]{8}$/);
    expect(http[0]?.fault).toEqual({ abort: { httpStatus: 503, percentage: { value: 50 } } });
    expect(http[0]?.route).toEqual(http[1]?.route);
    expect(JSON.parse(vs?.metadata.annotations?.['meshctl.io/fault-expires'] ?? '{}')).toEqual({ [http[0]?.name ?? '']: '2026-01-02T03:10:00.000Z' });

    const active = await meshctl(['inject', 'fault', '--list', '--local', dir], { now });
    expect(active.stdout).toMatch(/ratings +meshctl-fault-\w+ +abort 503 50% +\* +2026-01-02T03:10:00.000Z +active/);
    const later = await meshctl(['inject', 'fault', '--list', '--local', dir], { now: () => new Date('2026-01-02T03:10:00.000Z') });
    expect(later.stdout).toContain('expired (remove with --clear)');

    const cleared = await meshctl(['inject', 'fault', 'ratings', '--clear', '--local', dir]);
    expect(cleared.exitCode).toBe(0);
    const after = await object(dir, 'VirtualService', 'ratings');
    expect(httpOf(after)).toHaveLength(1);
    expect(after?.metadata.annotations?.['meshctl.io/fault-expires']).toBeUndefined();
  });

  test('bad flags are usage errors and write nothing', async () => {
    const dir = mesh('destination-rule-all', 'virtual-service-all-v1');
    const before = files(dir);
    for (const [args, text] of [
      [['ratings', '--percent', '10'], 'needs --delay DURATION or --abort STATUS'],
      [['ratings', '--delay', '5', '--percent', '10'], 'invalid --delay "5"'],
      [['ratings', '--abort', '99'], 'invalid --abort "99"'],
      [['ratings', '--abort', '503', '--percent', '101'], 'invalid --percent "101"'],
      [['ratings', '--abort', '503', '--match', 'end-user=jason'], 'invalid --match'],
    ] as const) {
      const r = await meshctl(['inject', 'fault', ...args, '--local', dir]);
      expect(r.exitCode, args.join(' ')).toBe(64);
      expect(r.stderr).toContain(text);
    }
    expect(files(dir)).toEqual(before);
  });
});

describe('route and resilience', () => {
  test('route header --dry-run shows the new route, then writes it ahead of the others', async () => {
    const dir = mesh('destination-rule-all', 'virtual-service-reviews-jason-v2-v3');
    const before = files(dir);
    const dry = await meshctl(['route', 'header', 'reviews', '--header', 'end-user=alice', '--to', 'v1', '--dry-run', '--local', dir]);
    expect(dry.stdout).toContain('+              exact: alice');
    expect(files(dir)).toEqual(before);
    expect((await meshctl(['route', 'header', 'reviews', '--header', 'end-user=alice', '--to', 'v1', '--local', dir])).exitCode).toBe(0);
    const http = httpOf(await object(dir, 'VirtualService', 'reviews'));
    expect(http.map((r) => r.route[0]?.destination.subset)).toEqual(['v1', 'v2', 'v3']);
  });

  test('route mirror and resilience set write only the fields asked for', async () => {
    const dir = mesh('destination-rule-all', 'virtual-service-all-v1');
    expect((await meshctl(['route', 'mirror', 'reviews', '--to', 'v2', '--percent', '5', '--local', dir])).exitCode).toBe(0);
    expect(httpOf(await object(dir, 'VirtualService', 'reviews'))[0]?.mirror).toEqual({ host: 'reviews', subset: 'v2' });
    const r = await meshctl(['resilience', 'set', 'reviews', '--timeout', '2s', '--max-connections', '100', '--consecutive-5xx', '5', '--local', dir]);
    expect(r.exitCode).toBe(0);
    expect(httpOf(await object(dir, 'VirtualService', 'reviews'))[0]?.timeout).toBe('2s');
    const dr = await object(dir, 'DestinationRule', 'reviews');
    expect((dr?.spec as { trafficPolicy: unknown }).trafficPolicy).toEqual({ connectionPool: { tcp: { maxConnections: 100 } }, outlierDetection: { consecutive5xxErrors: 5 } });
    const bad = await meshctl(['resilience', 'set', 'reviews', '--retry-on', '5xx,sometimes', '--local', dir]);
    expect(bad.exitCode).toBe(64);
    expect(bad.stderr).toContain('invalid --retry-on condition "sometimes"');
  });
});

describe('concurrent writers', () => {
  test('two canary shifts racing on one service: both succeed, the last write wins whole', async () => {
    const dir = mesh('destination-rule-all', 'virtual-service-all-v1');
    const [a, b] = await Promise.all([
      meshctl(['canary', 'shift', 'reviews', '10', '--to', 'v2', '--local', dir]),
      meshctl(['canary', 'shift', 'reviews', '30', '--to', 'v2', '--local', dir]),
    ]);
    expect([a.exitCode, b.exitCode]).toEqual([0, 0]);
    expect([[['v1', 90], ['v2', 10]], [['v1', 70], ['v2', 30]]]).toContainEqual(weights(await object(dir, 'VirtualService', 'reviews')));
  });

  test('a canary shift racing header routes, a fault and a mirror on one service loses no write', async () => {
    const dir = mesh('destination-rule-all', 'virtual-service-all-v1');
    const users = ['ann', 'bob', 'cai', 'dee', 'eve'];
    const results = await Promise.all([
      meshctl(['canary', 'shift', 'reviews', '20', '--to', 'v2', '--local', dir]),
      ...users.map((u) => meshctl(['route', 'header', 'reviews', '--header', `end-user=${u}`, '--to', 'v3', '--local', dir])),
      meshctl(['inject', 'fault', 'reviews', '--delay', '1s', '--percent', '1', '--match', 'header:x-chaos=1', '--local', dir]),
      meshctl(['route', 'mirror', 'reviews', '--to', 'v3', '--percent', '1', '--local', dir]),
    ]);
    expect(results.map((r) => r.exitCode)).toEqual(results.map(() => 0));
    const http = httpOf(await object(dir, 'VirtualService', 'reviews'));
    const headerUsers = http.flatMap((r) => JSON.stringify(r.match ?? '').match(/"exact":"(\w+)"/)?.slice(1) ?? []);
    expect(headerUsers.sort()).toEqual(['1', ...users].sort());
    expect(http[0]?.name).toMatch(/^meshctl-fault-/);
    const last = http[http.length - 1];
    expect(last?.route.map((d) => [d.destination.subset, d.weight])).toEqual([['v1', 80], ['v2', 20]]);
    expect(last?.mirror).toEqual({ host: 'reviews', subset: 'v3' });
  });
});

describe('help', () => {
  test('groups and commands read naturally, each with examples', async () => {
    const canary = await meshctl('canary --help');
    expect(canary.exitCode).toBe(0);
    for (const c of ['promote', 'rollback', 'rollout', 'shift', 'status']) expect(canary.stdout).toMatch(new RegExp(`^  canary ${c} <service>`, 'm'));
    expect(canary.stdout).not.toContain('At each step'); // long descriptions only in the command's own help
    for (const path of ['canary shift', 'canary status', 'canary promote', 'canary rollback', 'canary rollout', 'inject fault', 'route header', 'route mirror', 'resilience set']) {
      const r = await meshctl(`${path} --help`);
      expect(r.exitCode, path).toBe(0);
      expect(r.stdout, path).toContain(`Examples:\n  meshctl ${path}`);
    }
  });
});

describe('services defined by ServiceEntry + WorkloadEntry (--local, no Kubernetes Service)', () => {
  function seMesh(): string {
    const dir = mkdtempSync(join(tmpdir(), 'meshctl-traffic-se-'));
    dirs.push(dir);
    copyFileSync(join(ROOT, 'test/fixtures/traffic/inputs/service-entry.yaml'), join(dir, 'service-entry.yaml'));
    return dir;
  }

  test('shift, status, fault, header route, resilience and promote on a ServiceEntry host', async () => {
    const dir = seMesh();
    const shift = await meshctl(['canary', 'shift', 'reviews.example.internal', '10%', '--local', dir]);
    expect(shift.exitCode).toBe(0);
    expect(shift.stdout).toContain('reviews.example.internal: v1 90% / v2 10% (was no default route: all versions)');
    // WorkloadEntries report no readiness: said on stderr, not a failure.
    expect(shift.stderr).toContain('WorkloadEntry reviews-v2 reports no health (no health check), so treated as ready');
    const dr = await object(dir, 'DestinationRule', 'reviews');
    expect(dr?.spec).toEqual({ host: 'reviews.example.internal', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] });
    expect(weights(await object(dir, 'VirtualService', 'reviews'))).toEqual([['v1', 90], ['v2', 10]]);

    const status = await meshctl(['canary', 'status', 'reviews.example.internal', '-o', 'json', '--local', dir]);
    expect(status.exitCode).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ host: 'reviews.example.internal', stable: 'v1', canary: 'v2' });

    for (const args of [
      ['inject', 'fault', 'reviews.example.internal', '--abort', '503', '--percent', '5'],
      ['route', 'header', 'reviews.example.internal', '--header', 'end-user=jason', '--to', 'v2'],
      ['resilience', 'set', 'reviews.example.internal', '--timeout', '2s'],
      ['canary', 'promote', 'reviews.example.internal'],
    ]) {
      const r = await meshctl([...args, '--local', dir]);
      expect(r.stderr + r.stdout).not.toContain('Error');
      expect(r.exitCode).toBe(0);
    }
    const http = httpOf(await object(dir, 'VirtualService', 'reviews'));
    expect(http.some((h) => h.fault !== undefined)).toBe(true);
    expect(http.some((h) => h.match !== undefined && h.route[0]?.destination.subset === 'v2')).toBe(true);
    expect(weights(await object(dir, 'VirtualService', 'reviews'))).toEqual([['v2', undefined]]);
  });

  test('a short name resolves to the ServiceEntry host in the namespace; a failing health check refuses the shift', async () => {
    const dir = seMesh();
    const before = files(dir);
    const r = await meshctl(['canary', 'shift', 'ratings', '10', '--local', dir]);
    expect(r.exitCode).toBe(65);
    expect(r.stderr).toBe('Error: subset v2 selects 1 WorkloadEntry(s) and the health checks of all of them fail: traffic sent to it would fail (deploy it first, or pass --force to shift anyway)\n');
    expect(files(dir)).toEqual(before);
    const ok = await meshctl(['canary', 'shift', 'ratings', '10', '--to', 'v1', '--from', 'v2', '--local', dir]);
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toContain('ratings: v2 90% / v1 10%');
  });

  test('the short name of a ServiceEntry host is not found, and the hint names the host, not the same name again', async () => {
    const dir = seMesh();
    const r = await meshctl(['canary', 'shift', 'reviews', '10%', '--local', dir]);
    expect(r.exitCode).toBe(65);
    expect(r.stderr).toBe(
      'Error: service "reviews" not found in namespace "default": no Service "reviews" and no ServiceEntry with host "reviews.default.svc.cluster.local" (did you mean "reviews.example.internal"?)\n',
    );
    expect(r.stderr).not.toContain('did you mean "reviews"?');
  });

  test('a ServiceEntry host written short is named as the cause, not suggested back', async () => {
    const dir = seMesh();
    writeFileSync(
      join(dir, 'short.yaml'),
      'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: details, namespace: default}\nspec: {hosts: [details], ports: [{number: 80, name: http}], workloadSelector: {labels: {app: details}}}\n',
    );
    const r = await meshctl(['canary', 'shift', 'details', '10%', '--local', dir]);
    expect(r.exitCode).toBe(65);
    expect(r.stderr).toContain('ServiceEntry details has the short host "details", which routes cannot name');
    expect(r.stderr).not.toContain('did you mean "details"');
  });
});
