import { describe, expect, it } from 'vitest';
import type { Resource } from '../../../src/api/resource.js';
import { SnapshotHub, keyString, type StreamMessage } from '../../../src/controller/hub.js';
import { parseKey } from '../../../src/controller/run.js';

const se: Resource = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'ServiceEntry',
  metadata: { name: 'reviews', namespace: 'default' },
  spec: { hosts: ['reviews.local'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'STATIC', endpoints: [{ address: '10.0.0.1', labels: { version: 'v1' } }, { address: '10.0.0.2', labels: { version: 'v2' } }] },
};
const dr: Resource = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { name: 'reviews', namespace: 'default' },
  spec: { host: 'reviews.local', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] },
};
const vs = (subset: string, extra: { fault?: unknown; expires?: string } = {}): Resource => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'reviews', namespace: 'default', ...(extra.expires ? { annotations: { 'meshctl.io/fault-expires': JSON.stringify({ f1: extra.expires }) } } : {}) },
  spec: { hosts: ['reviews.local'], http: [{ name: 'f1', ...(extra.fault ? { fault: extra.fault } : {}), route: [{ destination: { host: 'reviews.local', subset } }] }] },
});

function snapshotOf(line: string): Extract<StreamMessage, { type: 'snapshot' }> {
  const m = JSON.parse(line) as StreamMessage;
  if (m.type !== 'snapshot') throw new Error(`not a snapshot: ${line}`);
  return m;
}
const clusterOf = (line: string) => snapshotOf(line).snapshot.virtualHosts.find((v) => v.host === 'reviews.local')?.ports[0]?.routes[0]?.destinations?.[0]?.cluster;

function hub(now = new Date('2026-11-22T03:00:00Z')) {
  const clock = { now };
  const h = new SnapshotHub({ now: () => clock.now });
  for (const r of [se, dr, vs('v1')]) h.apply('ADDED', r);
  h.refresh();
  return { h, clock };
}

describe('SnapshotHub', () => {
  it('sends the current snapshot on subscribe and compiles once per key, not once per proxy', () => {
    const { h } = hub();
    const a: string[] = [];
    const b: string[] = [];
    h.subscribe({ workload: 'productpage', namespace: 'default' }, (l) => a.push(l));
    h.subscribe({ workload: 'productpage', namespace: 'default' }, (l) => b.push(l));
    expect(a).toHaveLength(1);
    expect(b).toEqual(a);
    expect(clusterOf(a[0]!)).toBe('outbound|80|v1|reviews.local');
    expect(h.stats()).toMatchObject({ compiles: 1, keys: 1, subscribers: 2 });

    h.apply('MODIFIED', vs('v2'));
    h.refresh();
    expect(h.stats().compiles).toBe(2);
    expect(a).toHaveLength(2);
    expect(clusterOf(a[1]!)).toBe('outbound|80|v2|reviews.local');
    expect(b[1]).toBe(a[1]);
    expect(snapshotOf(a[1]!).snapshot.version).not.toBe(snapshotOf(a[0]!).snapshot.version);
  });

  it('does not push when a change leaves the content hash of a proxy unchanged', () => {
    const { h } = hub();
    const a: string[] = [];
    h.subscribe({ workload: 'productpage', namespace: 'default' }, (l) => a.push(l));
    h.apply('ADDED', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'unrelated', namespace: 'default' }, data: { x: '1' } });
    h.refresh();
    expect(a).toHaveLength(1);
    expect(h.stats().compiles).toBe(2);
    expect(h.stats().pushes).toBe(1);
  });

  it('keeps distinct keys apart (labels decide sourceLabels matches) and forgets a key with no proxy left', () => {
    const { h } = hub();
    const a: string[] = [];
    const b: string[] = [];
    const offA = h.subscribe({ workload: 'w', namespace: 'default', labels: { app: 'x' } }, (l) => a.push(l));
    h.subscribe({ workload: 'w', namespace: 'default', labels: { app: 'y' }, appPort: 9080 }, (l) => b.push(l));
    expect(h.stats().keys).toBe(2);
    expect(snapshotOf(b[0]!).snapshot.clusters.some((c) => c.name === 'inbound|9080||')).toBe(true);
    expect(snapshotOf(a[0]!).snapshot.clusters.some((c) => c.direction === 'inbound')).toBe(false);
    offA();
    expect(h.stats()).toMatchObject({ keys: 1, subscribers: 1 });
    h.apply('DELETED', vs('v1'));
    h.refresh();
    expect(a).toHaveLength(1);
    expect(b).toHaveLength(2);
  });

  it('label order does not make a new key', () => {
    expect(keyString({ workload: 'w', namespace: 'n', labels: { a: '1', b: '2' } })).toBe(keyString({ workload: 'w', namespace: 'n', labels: { b: '2', a: '1' } }));
    expect(keyString({ workload: 'w', namespace: 'n' })).not.toBe(keyString({ workload: 'w', namespace: 'm' }));
  });

  it('ships the snapshot after a coming fault expiry, and drops the fault at the refresh after it', () => {
    const { h, clock } = hub();
    const expires = '2026-11-22T03:10:00.000Z';
    h.apply('MODIFIED', vs('v1', { fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }, expires }));
    expect(h.refresh()?.toISOString()).toBe(expires);
    const a: string[] = [];
    h.subscribe({ workload: 'productpage', namespace: 'default' }, (l) => a.push(l));
    const m = snapshotOf(a[0]!);
    const route = (s: typeof m.snapshot) => s.virtualHosts.find((v) => v.host === 'reviews.local')?.ports[0]?.routes[0];
    expect(route(m.snapshot)?.fault?.abort?.httpStatus).toBe(503);
    expect(m.upcoming.map((u) => u.at)).toEqual([expires]);
    expect(route(m.upcoming[0]!.snapshot)?.fault).toBeUndefined();

    clock.now = new Date('2026-11-22T03:10:00.001Z');
    expect(h.refresh()).toBeUndefined();
    expect(a).toHaveLength(2);
    const after = snapshotOf(a[1]!);
    expect(route(after.snapshot)?.fault).toBeUndefined();
    expect(after.snapshot.version).toBe(m.upcoming[0]!.snapshot.version);
    expect(after.upcoming).toEqual([]);
  });

  it('heartbeats carry the generation', () => {
    const { h } = hub();
    expect(JSON.parse(h.heartbeat())).toMatchObject({ type: 'heartbeat', generation: 1 });
  });
});

describe('parseKey', () => {
  it('reads workload, namespace, labels and app port', () => {
    expect(parseKey(new URLSearchParams('workload=w&namespace=n&label=app=x&label=version=v2&appPort=9080'))).toEqual({ workload: 'w', namespace: 'n', labels: { app: 'x', version: 'v2' }, appPort: 9080 });
    expect(parseKey(new URLSearchParams('workload=w'))).toEqual({ workload: 'w', namespace: 'default' });
  });
  it('names what is wrong', () => {
    expect(parseKey(new URLSearchParams('namespace=n'))).toMatch(/workload is required/);
    expect(parseKey(new URLSearchParams('workload=w&label=oops'))).toMatch(/label oops is not key=value/);
    expect(parseKey(new URLSearchParams('workload=w&appPort=70000'))).toMatch(/appPort 70000 is not a port/);
  });
});
