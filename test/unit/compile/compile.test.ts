import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { Resource } from '../../../src/api/resource.js';
import { compileSnapshot, type Snapshot } from '../../../src/core/compile/index.js';
import { RouteTable, type RequestView } from '../../../src/proxy/router.js';

const root = new URL('../../../samples/bookinfo/', import.meta.url);

function load(path: string, ns = 'default'): Resource[] {
  const docs = parseAllDocuments(readFileSync(new URL(path, root), 'utf8'));
  return docs
    .map((d) => d.toJS() as Resource | null)
    .filter((r): r is Resource => !!r && typeof r.kind === 'string')
    .map((r) => ({ ...r, metadata: { ...r.metadata, namespace: r.metadata.namespace ?? ns } }));
}

/** Bookinfo's Services plus one Pod per version, as a cluster would have them. */
function bookinfo(...networking: string[]): Resource[] {
  const base = load('bookinfo.yaml').filter((r) => r.kind === 'Service');
  const pods: Resource[] = [];
  let ip = 10;
  for (const [app, versions] of [['productpage', ['v1']], ['details', ['v1']], ['reviews', ['v1', 'v2', 'v3']], ['ratings', ['v1']]] as const) {
    for (const v of versions) {
      pods.push({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `${app}-${v}-abc`, namespace: 'default', labels: { app, version: v } }, status: { podIP: `10.0.0.${ip++}` } });
    }
  }
  return [...base, ...pods, ...networking.flatMap((n) => load(`networking/${n}`))];
}

const req = (authority: string, url = '/', headers: Record<string, string> = {}, method = 'GET'): RequestView => ({ authority, url, incoming: headers, method });

function compile(resources: Resource[], workload = 'productpage-v1-abc'): Snapshot {
  return compileSnapshot(resources, { workload, namespace: 'default' });
}

function clusterOf(t: RouteTable, r: RequestView): string | undefined {
  const m = t.match(r);
  return m ? RouteTable.pick(m.route, 0)?.cluster : undefined;
}

describe('compileSnapshot', () => {
  it('routes every service to itself when there is no VirtualService (Istio default route)', () => {
    const s = compile(bookinfo());
    const t = new RouteTable(s);
    expect(clusterOf(t, req('reviews:9080'))).toBe('outbound|9080||reviews.default.svc.cluster.local');
    // Short names, name.namespace and the FQDN all resolve, with or without the port.
    for (const a of ['reviews', 'reviews.default', 'reviews.default.svc', 'reviews.default.svc.cluster.local:9080']) {
      expect(clusterOf(t, req(a)), a).toBe('outbound|9080||reviews.default.svc.cluster.local');
    }
    expect(t.match(req('unknown.example.com'))).toBeUndefined();
    expect(t.match(req('reviews:9999'))).toBeUndefined();
    const c = s.clusters.find((x) => x.name === 'outbound|9080||reviews.default.svc.cluster.local');
    expect(c?.endpoints.map((e) => e.address).sort()).toEqual(['10.0.0.12', '10.0.0.13', '10.0.0.14']);
    expect(c?.lb).toEqual({ type: 'LEAST_REQUEST' });
    expect(s.proxy.labels).toEqual({ app: 'productpage', version: 'v1' });
  });

  it('is deterministic: same input in another order gives the same version', () => {
    const a = compile(bookinfo('virtual-service-all-v1.yaml', 'destination-rule-all.yaml'));
    const b = compile(bookinfo('virtual-service-all-v1.yaml', 'destination-rule-all.yaml').reverse());
    expect(a.version).toBe(b.version);
    expect(a.version).toMatch(/^[0-9a-f]{16}$/);
    const c = compile(bookinfo('virtual-service-reviews-v3.yaml', 'destination-rule-all.yaml'));
    expect(c.version).not.toBe(a.version);
  });

  it('virtual-service-all-v1 with destination-rule-all: every service goes to subset v1', () => {
    const s = compile(bookinfo('virtual-service-all-v1.yaml', 'destination-rule-all.yaml'));
    const t = new RouteTable(s);
    expect(clusterOf(t, req('reviews:9080'))).toBe('outbound|9080|v1|reviews.default.svc.cluster.local');
    const v1 = s.clusters.find((c) => c.name === 'outbound|9080|v1|reviews.default.svc.cluster.local');
    expect(v1?.endpoints.map((e) => e.labels.version)).toEqual(['v1']);
    expect(s.warnings).toEqual([]);
  });

  it('jason goes to v2, everyone else to v3: first match wins, header match is exact', () => {
    const s = compile(bookinfo('virtual-service-reviews-jason-v2-v3.yaml', 'destination-rule-reviews.yaml'));
    const t = new RouteTable(s);
    expect(clusterOf(t, req('reviews:9080', '/reviews/0', { 'end-user': 'jason' }))).toContain('|v2|');
    expect(clusterOf(t, req('reviews:9080', '/reviews/0', { 'end-user': 'jason2' }))).toContain('|v3|');
    expect(clusterOf(t, req('reviews:9080', '/reviews/0'))).toContain('|v3|');
    expect(s.clusters.find((c) => c.name.includes('|v2|reviews'))?.lb).toEqual({ type: 'RANDOM' });
  });

  it('80/20 weights: picks by cumulative weight', () => {
    const s = compile(bookinfo('virtual-service-reviews-80-20.yaml', 'destination-rule-reviews.yaml'));
    const t = new RouteTable(s);
    const m = t.match(req('reviews'))!;
    expect(m.route.total).toBe(100);
    expect(RouteTable.pick(m.route, 0)?.cluster).toContain('|v1|');
    expect(RouteTable.pick(m.route, 0.7999)?.cluster).toContain('|v1|');
    expect(RouteTable.pick(m.route, 0.8)?.cluster).toContain('|v2|');
    expect(RouteTable.pick(m.route, 0.9999)?.cluster).toContain('|v2|');
    // Over many picks the split is near 80/20.
    let v1 = 0;
    for (let i = 0; i < 10_000; i++) if (RouteTable.pick(m.route, Math.random())?.cluster.includes('|v1|')) v1++;
    expect(v1).toBeGreaterThan(7600);
    expect(v1).toBeLessThan(8400);
  });

  it('fault injection for jason only: delay and abort compile to numbers', () => {
    const s = compile(bookinfo('virtual-service-ratings-test-delay.yaml', 'destination-rule-all.yaml'));
    const r = s.virtualHosts.find((v) => v.host.startsWith('ratings.'))!.ports[0]!.routes;
    expect(r[0]!.fault).toEqual({ delay: { fixedDelayMs: 7000, percent: 100 } });
    expect(r[1]!.fault).toBeUndefined();
    const a = compile(bookinfo('virtual-service-ratings-test-abort.yaml', 'destination-rule-all.yaml'));
    const ra = a.virtualHosts.find((v) => v.host.startsWith('ratings.'))!.ports[0]!.routes;
    expect(ra[0]!.fault?.abort).toEqual({ httpStatus: 500, percent: 100 });
  });

  it('gateway-bound VirtualServices do not apply to sidecars', () => {
    const s = compile(bookinfo('bookinfo-gateway.yaml'));
    const t = new RouteTable(s);
    expect(clusterOf(t, req('productpage:9080', '/productpage'))).toBe('outbound|9080||productpage.default.svc.cluster.local');
  });

  it('a subset no DestinationRule defines is a warning and the route has no live cluster', () => {
    const s = compile(bookinfo('virtual-service-reviews-v3.yaml'));
    expect(s.warnings.join('\n')).toMatch(/subset v3/);
    const t = new RouteTable(s);
    expect(clusterOf(t, req('reviews'))).toMatch(/^unknown\|/);
  });
});

const svc = (name: string, port = 80): Resource => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { ports: [{ name: 'http', port }], selector: { app: name } } });
const vs = (name: string, spec: Record<string, unknown>, extra: Partial<Resource['metadata']> = {}): Resource => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name, namespace: 'default', ...extra },
  spec,
});
const to = (host: string, extra: Record<string, unknown> = {}) => ({ destination: { host }, ...extra });

describe('route matching semantics', () => {
  it('uri exact / prefix / regex, method, query params, withoutHeaders, in order', () => {
    const s = compile([
      svc('web'),
      svc('a'),
      svc('b'),
      svc('c'),
      svc('d'),
      svc('e'),
      vs('web', {
        hosts: ['web'],
        http: [
          { match: [{ uri: { exact: '/exact' } }], route: [to('a')] },
          { match: [{ uri: { prefix: '/api/' }, method: { exact: 'POST' } }], route: [to('b')] },
          { match: [{ uri: { regex: '/items/[0-9]+' } }, { queryParams: { debug: { exact: '1' } } }], route: [to('c')] },
          { match: [{ withoutHeaders: { 'x-canary': {} } }], route: [to('d')] },
          { route: [to('e')] },
        ],
      }),
    ]);
    const t = new RouteTable(s);
    const c = (url: string, method = 'GET', headers: Record<string, string> = { 'x-canary': '1' }) => clusterOf(t, req('web', url, headers, method))?.split('|')[3]?.split('.')[0];
    expect(c('/exact')).toBe('a');
    expect(c('/exact?x=1')).toBe('a'); // the query is not part of the path
    expect(c('/exact/more')).toBe('e');
    expect(c('/api/x', 'POST')).toBe('b');
    expect(c('/api/x', 'GET')).toBe('e');
    expect(c('/items/42')).toBe('c');
    expect(c('/items/42x')).toBe('e'); // regex is anchored, as RE2 full match
    expect(c('/other?debug=1')).toBe('c');
    expect(c('/other?debug=2')).toBe('e');
    expect(c('/other', 'GET', {})).toBe('d');
  });

  it('sourceLabels and port are settled at compile time for this proxy', () => {
    const resources = [
      svc('web'),
      svc('a'),
      svc('b'),
      vs('web', { hosts: ['web'], http: [{ match: [{ sourceLabels: { app: 'tester' } }], route: [to('a')] }, { match: [{ port: 8080 }], route: [to('a')] }, { route: [to('b')] }] }),
    ];
    const asTester = new RouteTable(compileSnapshot(resources, { workload: 'x', namespace: 'default', labels: { app: 'tester' } }));
    const asOther = new RouteTable(compileSnapshot(resources, { workload: 'x', namespace: 'default', labels: { app: 'other' } }));
    expect(clusterOf(asTester, req('web'))).toContain('|a.default');
    expect(clusterOf(asOther, req('web'))).toContain('|b.default');
  });

  it('no matching route means no route (Envoy NR), not the default route', () => {
    const t = new RouteTable(compile([svc('web'), svc('a'), vs('web', { hosts: ['web'], http: [{ match: [{ uri: { prefix: '/a' } }], route: [to('a')] }] })]));
    expect(t.match(req('web', '/b'))).toBeUndefined();
    expect(t.match(req('web', '/a'))).toBeDefined();
  });

  it('the oldest VirtualService wins for a host', () => {
    const s = compile([
      svc('web'),
      svc('a'),
      svc('b'),
      vs('new', { hosts: ['web'], http: [{ route: [to('b')] }] }, { creationTimestamp: '2024-02-01T00:00:00Z' }),
      vs('old', { hosts: ['web'], http: [{ route: [to('a')] }] }, { creationTimestamp: '2024-01-01T00:00:00Z' }),
    ]);
    expect(clusterOf(new RouteTable(s), req('web'))).toContain('|a.default');
  });

  it('delegate: child routes apply within the root match', () => {
    const s = compile([
      svc('web'),
      svc('a'),
      svc('b'),
      vs('root', { hosts: ['web'], http: [{ match: [{ uri: { prefix: '/shop' } }], delegate: { name: 'shop' } }, { route: [to('b')] }] }),
      vs('shop', { http: [{ match: [{ headers: { 'x-v': { exact: '2' } } }], route: [to('a')] }, { route: [to('b', { weight: 100 })] }] }),
    ]);
    const t = new RouteTable(s);
    expect(clusterOf(t, req('web', '/shop/x', { 'x-v': '2' }))).toContain('|a.default');
    expect(clusterOf(t, req('web', '/other', { 'x-v': '2' }))).toContain('|b.default');
    expect(clusterOf(t, req('web', '/shop/x'))).toContain('|b.default');
  });

  it('retries, timeout, mirror, rewrite, headers, redirect, directResponse compile', () => {
    const s = compile([
      svc('web'),
      svc('a'),
      svc('shadow'),
      vs('web', {
        hosts: ['web'],
        http: [
          { match: [{ uri: { prefix: '/old' } }], redirect: { uri: '/new', redirectCode: 302 } },
          { match: [{ uri: { exact: '/hi' } }], directResponse: { status: 418, body: { string: 'teapot' } } },
          {
            route: [to('a', { headers: { response: { set: { 'x-dest': 'a' } } } })],
            timeout: '1.5s',
            retries: { attempts: 3, perTryTimeout: '200ms', retryOn: '5xx,connect-failure,429' },
            mirror: { host: 'shadow' },
            mirrorPercentage: { value: 25 },
            rewrite: { uri: '/v2' },
            headers: { request: { set: { 'X-Set': '1' }, add: { 'x-add': '2' }, remove: ['x-drop'] } },
          },
        ],
      }),
    ]);
    const routes = s.virtualHosts.find((v) => v.host.startsWith('web.'))!.ports[0]!.routes;
    expect(routes[0]!.redirect).toEqual({ uri: '/new', code: 302 });
    expect(routes[1]!.directResponse).toEqual({ status: 418, body: 'teapot' });
    const r = routes[2]!;
    expect(r.timeoutMs).toBe(1500);
    expect(r.retries).toMatchObject({ attempts: 3, perTryTimeoutMs: 200, retryOn: ['5xx', 'connect-failure', 'retriable-status-codes'], retriableStatusCodes: [429] });
    expect(r.mirrors).toEqual([{ cluster: 'outbound|80||shadow.default.svc.cluster.local', percent: 25 }]);
    expect(r.requestHeaders).toEqual({ set: [['x-set', '1']], add: [['x-add', '2']], remove: ['x-drop'] });
    expect(r.destinations![0]!.responseHeaders).toEqual({ set: [['x-dest', 'a']] });
  });
});

describe('clusters from ServiceEntry + WorkloadEntry (no Kubernetes)', () => {
  const resources: Resource[] = [
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'ServiceEntry',
      metadata: { name: 'api', namespace: 'default' },
      spec: { hosts: ['api.local'], ports: [{ number: 80, name: 'http', protocol: 'HTTP', targetPort: 8080 }], resolution: 'STATIC', workloadSelector: { labels: { app: 'api' } } },
    },
    { apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', metadata: { name: 'api-1', namespace: 'default' }, spec: { address: '127.0.0.1', labels: { app: 'api', version: 'v1' }, ports: { http: 9001 } } },
    { apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', metadata: { name: 'api-2', namespace: 'default' }, spec: { address: '127.0.0.2', labels: { app: 'api', version: 'v2' } } },
    { apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', metadata: { name: 'other', namespace: 'default' }, spec: { address: '127.0.0.3', labels: { app: 'other' } } },
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'api', namespace: 'default' },
      spec: {
        host: 'api.local',
        trafficPolicy: {
          loadBalancer: { consistentHash: { httpHeaderName: 'X-User' } },
          connectionPool: { tcp: { maxConnections: 1, connectTimeout: '250ms' }, http: { http1MaxPendingRequests: 2 } },
          outlierDetection: { consecutive5xxErrors: 3, interval: '1s', baseEjectionTime: '2s', maxEjectionPercent: 50 },
        },
        subsets: [{ name: 'v2', labels: { version: 'v2' }, trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } }],
      },
    },
  ];

  it('selects WorkloadEntries by label, uses the named port or targetPort, and applies the DestinationRule', () => {
    const s = compileSnapshot([...resources, vs('api', { hosts: ['api.local'], http: [{ route: [{ destination: { host: 'api.local', subset: 'v2' }, weight: 10 }, to('api.local', { weight: 90 })] }] })], {
      workload: 'api-1',
      namespace: 'default',
    });
    const all = s.clusters.find((c) => c.name === 'outbound|80||api.local')!;
    expect(all.endpoints.map((e) => `${e.address}:${e.port}/${e.workload}`)).toEqual(['127.0.0.1:9001/api-1', '127.0.0.2:8080/api-2']);
    expect(all.lb).toEqual({ type: 'CONSISTENT_HASH', header: 'x-user' });
    expect(all.connectionPool).toMatchObject({ maxConnections: 1, maxPendingRequests: 2, connectTimeoutMs: 250 });
    expect(all.outlierDetection).toEqual({ consecutive5xxErrors: 3, consecutiveGatewayErrors: 0, intervalMs: 1000, baseEjectionTimeMs: 2000, maxEjectionPercent: 50 });
    const v2 = s.clusters.find((c) => c.name === 'outbound|80|v2|api.local')!;
    expect(v2.endpoints.map((e) => e.address)).toEqual(['127.0.0.2']);
    expect(v2.lb).toEqual({ type: 'ROUND_ROBIN' });
    expect(s.proxy.labels).toEqual({ app: 'api', version: 'v1' }); // identity from the WorkloadEntry
    expect(new RouteTable(s).resolveHost('API.local:80')).toBeDefined();
  });

  it('a workloadSelector selects only its own namespace, needs every label, and an empty one selects the whole namespace (in name order, whatever the input order)', () => {
    const entry = (name: string, ns: string, labels: Record<string, string>): Resource => ({
      apiVersion: 'networking.istio.io/v1',
      kind: 'ServiceEntry',
      metadata: { name, namespace: ns },
      spec: { hosts: [`${name}.local`], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'STATIC', workloadSelector: { labels } },
    });
    const we = (name: string, ns: string, labels: Record<string, string>, address: string): Resource => ({ apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', metadata: { name, namespace: ns }, spec: { address, labels } });
    const s = compileSnapshot(
      [
        entry('pair', 'a', { app: 'x', tier: 'web' }),
        entry('any', 'a', {}),
        entry('other-ns', 'b', { app: 'x' }),
        we('w3', 'a', { app: 'x', tier: 'web' }, '10.0.0.3'),
        we('w1', 'a', { app: 'x' }, '10.0.0.1'),
        we('w2', 'b', { app: 'x', tier: 'web' }, '10.0.0.2'),
        we('w4', 'a', { tier: 'web', app: 'x', extra: 'y' }, '10.0.0.4'),
        // Label text that would collide in a naively joined index key.
        entry('odd', 'a', { 'p\0q': 'r' }),
        we('w5', 'a', { 'p\0q': 'r', p: 'q\0r' }, '10.0.0.5'),
        { apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', metadata: { name: 'no-spec', namespace: 'a' } },
      ],
      { workload: 'client', namespace: 'a' },
    );
    const endpoints = (host: string) => s.clusters.find((c) => c.name === `outbound|80||${host}`)!.endpoints.map((e) => e.workload);
    expect(endpoints('pair.local')).toEqual(['w3', 'w4']);
    expect(endpoints('any.local')).toEqual(['w1', 'w3', 'w4', 'w5']);
    expect(endpoints('other-ns.local')).toEqual(['w2']);
    expect(endpoints('odd.local')).toEqual(['w5']);
  });
});

describe('clusters from EndpointSlices', () => {
  it('uses ready endpoints of the slices labelled with the service name, with the pod labels for subsets', () => {
    const resources: Resource[] = [
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'api', namespace: 'prod' }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }], selector: { app: 'api' } } },
        {
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: { name: 'api-abc', namespace: 'prod', labels: { 'kubernetes.io/service-name': 'api' } },
          ports: [{ name: 'http', port: 8080 }],
          endpoints: [
            { addresses: ['10.1.0.1'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'api-v1-x', namespace: 'prod' } },
            { addresses: ['10.1.0.2'], conditions: { ready: false }, targetRef: { kind: 'Pod', name: 'api-v2-y', namespace: 'prod' } },
            { addresses: ['10.1.0.3'], targetRef: { kind: 'Pod', name: 'api-v2-z', namespace: 'prod' } },
          ],
        },
        { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'api-v1-x', namespace: 'prod', labels: { app: 'api', version: 'v1' }, ownerReferences: [{ kind: 'ReplicaSet', name: 'api-v1-7d9f8b6c5d' }] } },
        { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'api-v2-z', namespace: 'prod', labels: { app: 'api', version: 'v2' } } },
        { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'api', namespace: 'prod' }, spec: { host: 'api', subsets: [{ name: 'v2', labels: { version: 'v2' } }] } },
        vs('api', { hosts: ['api.prod.svc.cluster.local'], http: [{ route: [{ destination: { host: 'api.prod.svc.cluster.local', subset: 'v2' } }] }] }),
    ];
    const s = compileSnapshot(resources, { workload: 'client', namespace: 'default' });
    // Without the VirtualService the default route builds the whole service: ready endpoints only,
    // and a Deployment's pod reports the Deployment (ReplicaSet name minus its hash) as workload.
    const plain = compileSnapshot(resources.filter((r) => r.kind !== 'VirtualService'), { workload: 'client', namespace: 'default' });
    const whole = plain.clusters.find((c) => c.name === 'outbound|80||api.prod.svc.cluster.local')!;
    expect(whole.endpoints.map((e) => `${e.address}/${e.workload}`)).toEqual(['10.1.0.1/api-v1', '10.1.0.3/api-v2-z']);
    const all = s.virtualHosts.find((v) => v.host === 'api.prod.svc.cluster.local')!;
    expect(all.domains).toEqual(['api.prod.svc.cluster.local', 'api.prod.svc', 'api.prod']); // other namespace: no bare "api"
    const v2 = s.clusters.find((c) => c.name === 'outbound|80|v2|api.prod.svc.cluster.local')!;
    expect(v2.endpoints.map((e) => `${e.address}:${e.port}`)).toEqual(['10.1.0.3:8080']);
    expect(v2.endpoints[0]!.workload).toBe('api-v2-z');
    // Only the subset is routed to, so only it is built.
    expect(s.clusters.find((c) => c.name === 'outbound|80||api.prod.svc.cluster.local')).toBeUndefined();
  });
});

describe('mesh config', () => {
  const cm = (mesh: string): Resource => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace: 'istio-system' }, data: { mesh } });
  it('reads outboundTrafficPolicy.mode from ConfigMap istio-system/istio; the option overrides it', () => {
    expect(compileSnapshot([], { workload: 'x', namespace: 'default' }).outboundTrafficPolicy).toBe('REGISTRY_ONLY');
    expect(compileSnapshot([cm('accessLogFile: /dev/stdout\noutboundTrafficPolicy:\n  mode: ALLOW_ANY\n')], { workload: 'x', namespace: 'default' }).outboundTrafficPolicy).toBe('ALLOW_ANY');
    expect(compileSnapshot([cm('outboundTrafficPolicy: {mode: ALLOW_ANY}')], { workload: 'x', namespace: 'default' }).outboundTrafficPolicy).toBe('ALLOW_ANY');
    expect(compileSnapshot([cm('outboundTrafficPolicy: {mode: ALLOW_ANY}')], { workload: 'x', namespace: 'default', outboundTrafficPolicy: 'REGISTRY_ONLY' }).outboundTrafficPolicy).toBe('REGISTRY_ONLY');
  });
});

describe('fault expiry', () => {
  it('keeps a fault before its expiry and drops it (keeping the route) after; no `now` keeps it', () => {
    const v = vs('web', { hosts: ['web'], http: [{ name: 'meshctl-fault-a', fault: { delay: { fixedDelay: '1s' } }, route: [to('web')] }] }, {
      annotations: { 'meshctl.io/fault-expires': JSON.stringify({ 'meshctl-fault-a': '2026-01-01T00:10:00Z' }) },
    });
    const route = (now?: Date) => compileSnapshot([svc('web'), v], { workload: 'x', namespace: 'default', now }).virtualHosts[0]!.ports[0]!.routes[0]!;
    expect(route(new Date('2026-01-01T00:09:59Z')).fault).toEqual({ delay: { fixedDelayMs: 1000, percent: 100 } });
    expect(route(new Date('2026-01-01T00:10:00Z')).fault).toBeUndefined();
    expect(route(new Date('2026-01-01T00:10:00Z')).destinations).toHaveLength(1);
    expect(route().fault).toBeDefined();
  });
});

describe('contentHash64 (snapshot versions)', () => {
  it('is 16 hex chars, stable, and tells 20,000 near-identical texts apart', async () => {
    const { contentHash64 } = await import('../../../src/core/compile/content-hash.js');
    expect(contentHash64('{"a":1}')).toBe(contentHash64('{"a":1}'));
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const h = contentHash64(`{"clusters":[{"name":"outbound|80||svc-${i}.local","weight":${i % 100}}]}`);
      expect(h).toMatch(/^[0-9a-f]{16}$/);
      seen.add(h);
    }
    expect(seen.size).toBe(20_000);
  });
});
