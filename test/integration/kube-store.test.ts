import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '../../src/api/resource.js';
import { StoreConflict, type WatchEvent } from '../../src/store/config-store.js';
import { KubeStore } from '../../src/store/kube-store.js';
import { adminKubeconfig, freshNamespace } from '../helpers/cluster.js';

const vs = (ns: string, name: string, host = name): Resource => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name, namespace: ns },
  spec: { hosts: [host], http: [{ route: [{ destination: { host } }] }] },
});

const svc = (ns: string, name: string): Resource => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: ns, labels: { app: name } },
  spec: { selector: { app: name }, ports: [{ name: 'http', port: 9080 }] },
});

/** Polls until `check` passes (events arrive asynchronously); bounded so a failure is a failure. */
async function eventually(check: () => void, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe('KubeStore on a real API server', () => {
  let store: KubeStore;
  beforeAll(async () => {
    store = await KubeStore.fromKubeconfig({ kubeconfig: adminKubeconfig(), env: {} });
  });
  afterAll(async () => {
    await store?.close();
  });

  it('knows its context and default namespace', () => {
    expect(store.backend).toBe('kube');
    expect(store.location).toBe('context "meshctl-test-admin"');
    expect(store.defaultNamespace).toBe('default');
  });

  it('creates, reads, updates, lists and deletes a VirtualService', async () => {
    const ns = await freshNamespace('crud');
    const created = await store.apply(vs(ns, 'reviews'));
    expect(created).toMatchObject({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'reviews', namespace: ns } });
    expect(created.metadata.resourceVersion).toMatch(/^\d+$/);

    const got = await store.get({ kind: 'VirtualService', namespace: ns, name: 'reviews' });
    expect(got?.spec).toEqual(vs(ns, 'reviews').spec);
    expect(typeof got?.metadata.creationTimestamp).toBe('string');

    const updated = await store.apply({ ...vs(ns, 'reviews'), spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v2' } }] }] } });
    expect(Number(updated.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));
    expect(updated.spec).toMatchObject({ http: [{ route: [{ destination: { subset: 'v2' } }] }] });

    await store.apply(vs(ns, 'ratings'));
    const listed = await store.list('VirtualService', ns);
    expect(listed.map((r) => r.metadata.name).sort()).toEqual(['ratings', 'reviews']);
    // List items come from the server without apiVersion/kind; the store fills them in.
    for (const r of listed) expect(r).toMatchObject({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService' });

    expect(await store.delete({ kind: 'VirtualService', namespace: ns, name: 'reviews' })).toBe(true);
    expect(await store.get({ kind: 'VirtualService', namespace: ns, name: 'reviews' })).toBeUndefined();
    expect(await store.delete({ kind: 'VirtualService', namespace: ns, name: 'reviews' })).toBe(false);
  });

  it('creates, updates, lists and deletes a Service (a core kind), keeping server-set fields', async () => {
    const ns = await freshNamespace('crud-svc');
    const created = await store.apply(svc(ns, 'details'));
    expect(created).toMatchObject({ apiVersion: 'v1', kind: 'Service' });
    const clusterIP = (created.spec as { clusterIP?: string }).clusterIP;
    expect(clusterIP).toMatch(/^10\.96\./);

    // A second apply that changes a port leaves the allocated cluster IP alone.
    const changed = svc(ns, 'details');
    (changed.spec as { ports: { name: string; port: number }[] }).ports = [{ name: 'http', port: 8080 }];
    const updated = await store.apply(changed);
    expect(updated.spec).toMatchObject({ clusterIP, ports: [{ port: 8080 }] });

    const listed = await store.list('Service', ns);
    expect(listed.map((r) => `${r.kind}/${r.metadata.name}`)).toEqual(['Service/details']);
    expect(await store.delete({ kind: 'Service', namespace: ns, name: 'details' })).toBe(true);
    expect(await store.list('Service', ns)).toEqual([]);
  });

  it('lists across all namespaces when no namespace is given', async () => {
    const a = await freshNamespace('all-a');
    const b = await freshNamespace('all-b');
    await store.apply(vs(a, 'one'));
    await store.apply(vs(b, 'two'));
    const all = await store.list('VirtualService');
    const mine = all.filter((r) => r.metadata.namespace === a || r.metadata.namespace === b).map((r) => `${r.metadata.namespace}/${r.metadata.name}`);
    expect(mine.sort()).toEqual([`${a}/one`, `${b}/two`]);
  });

  it('writes nothing on dry run, yet returns what would be stored', async () => {
    const ns = await freshNamespace('dry');
    const would = await store.apply(vs(ns, 'reviews'), { dryRun: true });
    expect(would.metadata.name).toBe('reviews');
    expect(await store.get({ kind: 'VirtualService', namespace: ns, name: 'reviews' })).toBeUndefined();

    await store.apply(vs(ns, 'reviews'));
    expect(await store.delete({ kind: 'VirtualService', namespace: ns, name: 'reviews' }, { dryRun: true })).toBe(true);
    expect(await store.get({ kind: 'VirtualService', namespace: ns, name: 'reviews' })).toBeDefined();

    const m = await store.modify({ kind: 'VirtualService', namespace: ns, name: 'reviews' }, (cur) => cur && { ...cur, metadata: { ...cur.metadata, labels: { dry: 'yes' } } }, { dryRun: true });
    expect(m.changed).toBe(true);
    expect(m.after?.metadata.labels).toEqual({ dry: 'yes' });
    expect((await store.get({ kind: 'VirtualService', namespace: ns, name: 'reviews' }))?.metadata.labels).toBeUndefined();
  });

  it('refuses an apply carrying a stale resourceVersion with StoreConflict', async () => {
    const ns = await freshNamespace('stale');
    const first = await store.apply(vs(ns, 'reviews'));
    await store.apply({ ...vs(ns, 'reviews'), metadata: { name: 'reviews', namespace: ns, labels: { v: '2' } } });
    const stale = { ...vs(ns, 'reviews'), metadata: { name: 'reviews', namespace: ns, labels: { v: 'stale' }, resourceVersion: first.metadata.resourceVersion } };
    await expect(store.apply(stale)).rejects.toBeInstanceOf(StoreConflict);
    expect((await store.get({ kind: 'VirtualService', namespace: ns, name: 'reviews' }))?.metadata.labels).toEqual({ v: '2' });
  });

  it('refuses an apply carrying the resourceVersion of an object deleted since with StoreConflict', async () => {
    const ns = await freshNamespace('stale-deleted');
    const first = await store.apply(vs(ns, 'reviews'));
    await store.delete({ kind: 'VirtualService', namespace: ns, name: 'reviews' });
    await expect(store.apply({ ...vs(ns, 'reviews'), metadata: { ...vs(ns, 'reviews').metadata, resourceVersion: first.metadata.resourceVersion } })).rejects.toBeInstanceOf(StoreConflict);
    expect(await store.get({ kind: 'VirtualService', namespace: ns, name: 'reviews' })).toBeUndefined();
  });

  it('rejects an invalid object with the server field message (InputError, exit 65)', async () => {
    const ns = await freshNamespace('invalid');
    const bad = { ...vs(ns, 'bad'), spec: { hosts: 'reviews' } };
    // A value of the wrong type: server-side apply answers 500 "failed to create typed patch object".
    await expect(store.apply(bad)).rejects.toMatchObject({ name: 'InputError', exitCode: 65, message: 'VirtualService "bad" is invalid: .spec.hosts: expected list, got "reviews"' });
    // A schema violation: 422 with the field.
    const dr = { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'dr', namespace: ns }, spec: { host: 'x', trafficPolicy: { loadBalancer: { simple: 'NOPE' } } } };
    await expect(store.apply(dr)).rejects.toMatchObject({ name: 'InputError', exitCode: 65, message: expect.stringContaining('spec.trafficPolicy.loadBalancer.simple: Unsupported value: "NOPE"') });
    expect(await store.list('DestinationRule', ns)).toEqual([]);
  });

  it('loses no update when two stores race ten concurrent modify() calls', async () => {
    const ns = await freshNamespace('race');
    const other = await KubeStore.fromKubeconfig({ kubeconfig: adminKubeconfig(), env: {} });
    try {
      const ref = { kind: 'VirtualService', namespace: ns, name: 'counter' };
      const bump = (cur: Resource | undefined): Resource => {
        const base = cur ?? vs(ns, 'counter');
        const count = Number(base.metadata.annotations?.count ?? '0');
        return { ...base, metadata: { ...base.metadata, annotations: { ...base.metadata.annotations, count: String(count + 1) } } };
      };
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? store : other).modify(ref, bump)));
      const final = await store.get(ref);
      expect(final?.metadata.annotations?.count).toBe('10');
      expect(results.every((r) => r.changed)).toBe(true);
      // The race was real: at least one writer had to redo its write on fresh data.
      expect(results.reduce((n, r) => n + r.retries, 0)).toBeGreaterThan(0);
    } finally {
      await other.close();
    }
  });

  it('modify() leaves an object alone when mutate changes nothing', async () => {
    const ns = await freshNamespace('noop');
    const stored = await store.apply(vs(ns, 'reviews'));
    const r = await store.modify({ kind: 'VirtualService', namespace: ns, name: 'reviews' }, (cur) => cur);
    expect(r).toMatchObject({ changed: false, retries: 0 });
    expect((await store.get({ kind: 'VirtualService', namespace: ns, name: 'reviews' }))?.metadata.resourceVersion).toBe(stored.metadata.resourceVersion);
  });

  it('watch sees the existing objects, then ADDED, MODIFIED and DELETED', async () => {
    const ns = await freshNamespace('watch');
    await store.apply(vs(ns, 'before'));
    const events: WatchEvent[] = [];
    const errors: Error[] = [];
    const w = await store.watch('VirtualService', ns, (e) => events.push(e), (e) => errors.push(e));
    try {
      expect(events.map((e) => `${e.type} ${e.resource.metadata.name}`)).toEqual(['ADDED before']);
      await store.apply(vs(ns, 'reviews'));
      await store.apply({ ...vs(ns, 'reviews'), metadata: { name: 'reviews', namespace: ns, labels: { changed: 'yes' } } });
      await store.delete({ kind: 'VirtualService', namespace: ns, name: 'reviews' });
      await eventually(() =>
        expect(events.map((e) => `${e.type} ${e.resource.metadata.name}`)).toEqual(['ADDED before', 'ADDED reviews', 'MODIFIED reviews', 'DELETED reviews']),
      );
      expect(events.every((e) => e.resource.kind === 'VirtualService' && e.resource.apiVersion === 'networking.istio.io/v1')).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await w.stop();
    }
    // Nothing arrives after stop().
    const n = events.length;
    await store.apply(vs(ns, 'after-stop'));
    await new Promise((r) => setTimeout(r, 300));
    expect(events.length).toBe(n);
  });

  it('watch resumes after the server ends the stream (timeoutSeconds) without losing events', async () => {
    const ns = await freshNamespace('watch-timeout');
    const short = await KubeStore.fromKubeconfig({ kubeconfig: adminKubeconfig(), env: {}, watchTimeoutSeconds: 1 });
    const events: string[] = [];
    const w = await short.watch('VirtualService', ns, (e) => events.push(`${e.type} ${e.resource.metadata.name}`));
    try {
      // Writes spread over three server-side closes of the watch.
      for (const name of ['a', 'b', 'c']) {
        await store.apply(vs(ns, name));
        await new Promise((r) => setTimeout(r, 1_100));
      }
      await eventually(() => expect(events).toEqual(['ADDED a', 'ADDED b', 'ADDED c']));
    } finally {
      await w.stop();
      await short.close();
    }
  });

  it('watch survives a dropped connection and delivers what changed while it was down', async () => {
    const ns = await freshNamespace('watch-drop');
    const proxy = await startTcpProxy(new URL(await serverOf(adminKubeconfig())));
    const dir = await mkdtemp(join(tmpdir(), 'meshctl-kube-'));
    const kubeconfig = join(dir, 'proxied.kubeconfig');
    await writeFile(kubeconfig, (await readFile(adminKubeconfig(), 'utf8')).replace(/server: .*/, `server: https://127.0.0.1:${proxy.port}`));
    const proxied = await KubeStore.fromKubeconfig({ kubeconfig, env: {}, watchBackoff: { initialMs: 50, maxMs: 200 } });
    const events: string[] = [];
    const errors: Error[] = [];
    const w = await proxied.watch('VirtualService', ns, (e) => events.push(`${e.type} ${e.resource.metadata.name}`), (e) => errors.push(e));
    try {
      await store.apply(vs(ns, 'one'));
      await eventually(() => expect(events).toEqual(['ADDED one']));

      // Cut every connection and refuse new ones; change things meanwhile; then let it back in.
      proxy.pause();
      await eventually(() => expect(errors.length).toBeGreaterThan(0));
      await store.apply(vs(ns, 'two'));
      await store.delete({ kind: 'VirtualService', namespace: ns, name: 'one' });
      proxy.resume();

      await eventually(() => expect(events).toEqual(['ADDED one', 'ADDED two', 'DELETED one']));
      expect(errors[0]).toMatchObject({ name: 'ClusterError', exitCode: 69 });
      await store.apply(vs(ns, 'three'));
      await eventually(() => expect(events.at(-1)).toBe('ADDED three'));
    } finally {
      await w.stop();
      await proxied.close();
      await proxy.close();
    }
  });
});

async function serverOf(kubeconfig: string): Promise<string> {
  const m = /server: (\S+)/.exec(await readFile(kubeconfig, 'utf8'));
  if (!m?.[1]) throw new Error(`no server in ${kubeconfig}`);
  return m[1];
}

/** A TCP relay in front of the API server whose connections a test can cut (TLS passes through). */
async function startTcpProxy(target: URL): Promise<{ port: number; pause(): void; resume(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let paused = false;
  const server: Server = createServer((client) => {
    if (paused) return client.destroy();
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('proxy has no port');
  const pause = (): void => {
    paused = true;
    for (const s of sockets) s.destroy();
  };
  return {
    port: addr.port,
    pause,
    resume: () => {
      paused = false;
    },
    close: async () => {
      pause();
      await new Promise((r) => server.close(r));
    },
  };
}
