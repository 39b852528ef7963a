import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { Resource } from '../api/resource.js';
import type { Context } from '../context.js';
import { COMPILE_KINDS } from '../core/compile/compile.js';
import { ForbiddenError, MeshctlError, NotFoundError } from '../core/errors.js';
import { listen } from '../core/listen.js';
import { untilStopped } from '../core/stop-signal.js';
import type { ConfigStore, Watcher } from '../store/config-store.js';
import { SnapshotHub, type ProxyKey } from './hub.js';

export interface ControllerPorts {
  discovery: number;
  monitoring: number;
  /** Sidecar injection webhook (HTTPS); served only with a CA directory. */
  webhook: number;
}

export interface RunControllerOptions {
  ports: ControllerPorts;
  address: string;
  heartbeatMs: number;
  /** Directory with the CA's tls.crt/tls.key (the meshctl-ca Secret); the webhook needs it. */
  caDir?: string | undefined;
  /** Sidecar image the webhook injects. */
  proxyImage: string;
  /** http://HOST:PORT injected sidecars stream their config from. */
  injectDiscoveryAddress: string;
  /** Resolves to stop the controller (tests); the command itself stops on SIGTERM/SIGINT. */
  stop?: Promise<void>;
}

/** Store events are batched this long, so a multi-object apply is one generation, not many. */
const DEBOUNCE_MS = 30;

/**
 * A proxy that stops reading (stalled, or partitioned without a FIN) must not make the controller
 * buffer every snapshot for it: past this much unsent data its stream is cut, and on reconnecting
 * it gets the latest snapshot only.
 */
const MAX_BUFFERED_BYTES = 32 * 1024 * 1024;

/**
 * `meshctl controller`: watches every kind the compiler reads through the ConfigStore (a directory
 * with --local, else the API server), keeps the index in a SnapshotHub, and serves each proxy its
 * snapshot over a long-lived NDJSON stream (GET /v1/snapshot?workload=W&namespace=NS on the
 * discovery port). Monitoring: /ready once the first full sync is done, /metrics in Prometheus text.
 */
export async function runController(ctx: Context, opts: RunControllerOptions): Promise<void> {
  const log = (fields: Record<string, unknown>) => void ctx.io.stdout.write(JSON.stringify(fields) + '\n');
  const hub = new SnapshotHub({ now: () => ctx.now() });
  const streams = new Set<ServerResponse>();
  let synced = false;
  let storeErrors = 0;

  // Monitoring first, so a readiness probe sees 503 (not a refused connection) while the sync runs.
  const monitoring = createServer((req, res) => onMonitoring(req, res));
  const monitoringPort = await listen(monitoring, opts.ports.monitoring, opts.address);

  let store: ConfigStore;
  try {
    store = await ctx.store();
  } catch (err) {
    await close(monitoring);
    throw err;
  }
  const watchers: Watcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  let expiryTimer: NodeJS.Timeout | undefined;
  const refresh = () => {
    timer = undefined;
    const next = hub.refresh();
    scheduleExpiry(next);
  };
  // A fault with an expiry stops on its own: a new generation at that moment pushes the fault-free snapshot.
  const scheduleExpiry = (next: Date | undefined) => {
    if (expiryTimer) clearTimeout(expiryTimer);
    expiryTimer = undefined;
    if (!next) return;
    const ms = Math.min(Math.max(0, next.getTime() - ctx.now().getTime()) + 1, 2 ** 31 - 1);
    expiryTimer = setTimeout(refresh, ms);
  };
  const onEvent = (type: 'ADDED' | 'MODIFIED' | 'DELETED', r: Resource) => {
    hub.apply(type, r);
    if (synced && !timer) timer = setTimeout(refresh, DEBOUNCE_MS);
  };

  let discovery: Server | undefined;
  let webhook: Server | undefined;
  const webhookStats = { reviews: 0, injected: 0, errors: 0 };
  try {
    await addMeshConfigFile(ctx, hub, log);
    for (const kind of COMPILE_KINDS) {
      // The compiler reads only Istio's mesh ConfigMap (istio-system/istio); on a cluster the
      // controller's RBAC does not grant ConfigMaps everywhere, so only that namespace is watched.
      const ns = kind === 'ConfigMap' && store.backend === 'kube' ? 'istio-system' : undefined;
      try {
        watchers.push(
          await store.watch(
            kind,
            ns,
            (e) => onEvent(e.type, e.resource),
            (err) => {
              storeErrors++;
              log({ level: 'warn', msg: `watch ${kind}: ${err.message}` });
            },
          ),
        );
      } catch (err) {
        // A kind whose CRD is not installed (or that RBAC hides) is simply empty; an unreachable store is fatal.
        if (err instanceof NotFoundError || err instanceof ForbiddenError) {
          log({ level: 'warn', msg: `not watching ${kind}: ${err.message}` });
          continue;
        }
        throw err;
      }
    }
    synced = true;
    scheduleExpiry(hub.nextExpiry());

    discovery = createServer({ requestTimeout: 0, keepAliveTimeout: 5_000 }, (req, res) => onDiscovery(req, res));
    const discoveryPort = await listen(discovery, opts.ports.discovery, opts.address);
    let webhookPort: number | undefined;
    if (opts.caDir) {
      const { issueServingCert, webhookHosts, createWebhookServer } = await import('./webhook.js');
      const cert = await issueServingCert(opts.caDir, webhookHosts('meshctl-controller', ctx.env.POD_NAMESPACE ?? 'meshctl-system'), ctx.now());
      webhook = createWebhookServer(cert, { image: opts.proxyImage, discoveryAddress: opts.injectDiscoveryAddress }, webhookStats);
      webhookPort = await listen(webhook, opts.ports.webhook, opts.address);
    } else {
      log({ level: 'warn', msg: 'sidecar injection webhook not served: no CA directory (set MESHCTL_CA_DIR or --ca-dir to the mounted meshctl-ca Secret, which meshctl install writes)' });
    }
    const heartbeat = setInterval(() => {
      const line = hub.heartbeat();
      for (const s of streams) s.write(line);
    }, opts.heartbeatMs);

    log({ event: 'ready', store: `${store.backend}:${store.location}`, objects: hub.stats().objects, generation: hub.generation, ports: { discovery: discoveryPort, monitoring: monitoringPort, ...(webhookPort !== undefined ? { webhook: webhookPort } : {}) } });

    await untilStopped(opts.stop);
    clearInterval(heartbeat);
    log({ event: 'stopping', streams: streams.size });
  } finally {
    if (timer) clearTimeout(timer);
    if (expiryTimer) clearTimeout(expiryTimer);
    // Ending each stream cleanly tells proxies to reconnect (to another replica) rather than wait for a timeout.
    for (const s of streams) s.end();
    streams.clear();
    await Promise.allSettled([discovery ? close(discovery) : Promise.resolve(), webhook ? close(webhook) : Promise.resolve(), close(monitoring)]);
    await Promise.allSettled(watchers.map((w) => w.stop()));
    await store.close();
  }
  log({ event: 'stopped' });

  function onDiscovery(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://controller');
    if (url.pathname !== '/v1/snapshot') return sendJson(res, 404, { error: 'not found: GET /v1/snapshot?workload=NAME&namespace=NS' });
    if (req.method !== 'GET') return sendJson(res, 405, { error: 'use GET' });
    const parsed = parseKey(url.searchParams);
    if (typeof parsed === 'string') return sendJson(res, 400, { error: parsed });
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.flushHeaders();
    req.socket.setNoDelay(true);
    // TCP keepalive as well as heartbeats: a peer that vanished without a FIN is noticed on both ends.
    req.socket.setKeepAlive(true, opts.heartbeatMs);
    streams.add(res);
    const unsubscribe = hub.subscribe(parsed, (line) => {
      if (res.writableLength > MAX_BUFFERED_BYTES) res.destroy();
      else res.write(line);
    });
    const gone = () => {
      streams.delete(res);
      unsubscribe();
    };
    res.once('close', gone);
  }

  function onMonitoring(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/ready') {
      res.writeHead(synced ? 200 : 503, { 'content-type': 'text/plain' }).end(synced ? 'ready\n' : 'syncing\n');
      return;
    }
    if (path === '/metrics') {
      const s = hub.stats();
      const lines = [
        '# HELP meshctl_controller_connected_proxies Discovery streams open now.',
        '# TYPE meshctl_controller_connected_proxies gauge',
        `meshctl_controller_connected_proxies ${s.subscribers}`,
        '# HELP meshctl_controller_proxy_keys Distinct (workload, namespace, labels, app port) views compiled for connected proxies.',
        '# TYPE meshctl_controller_proxy_keys gauge',
        `meshctl_controller_proxy_keys ${s.keys}`,
        '# HELP meshctl_controller_pushes_total Snapshots written to discovery streams.',
        '# TYPE meshctl_controller_pushes_total counter',
        `meshctl_controller_pushes_total ${s.pushes}`,
        '# HELP meshctl_controller_config_generation Config generations seen (store changes and fault expiries).',
        '# TYPE meshctl_controller_config_generation gauge',
        `meshctl_controller_config_generation ${s.generation}`,
        '# HELP meshctl_controller_config_objects Mesh objects in the index.',
        '# TYPE meshctl_controller_config_objects gauge',
        `meshctl_controller_config_objects ${s.objects}`,
        '# HELP meshctl_controller_compile_seconds Time to compile one proxy snapshot.',
        '# TYPE meshctl_controller_compile_seconds summary',
        `meshctl_controller_compile_seconds_sum ${s.compileSecondsSum}`,
        `meshctl_controller_compile_seconds_count ${s.compiles}`,
        '# HELP meshctl_controller_last_compile_seconds Time the latest snapshot compile took.',
        '# TYPE meshctl_controller_last_compile_seconds gauge',
        `meshctl_controller_last_compile_seconds ${s.lastCompileSeconds}`,
        '# HELP meshctl_controller_store_errors_total Watch errors reported by the config store.',
        '# TYPE meshctl_controller_store_errors_total counter',
        `meshctl_controller_store_errors_total ${storeErrors}`,
        '# HELP meshctl_controller_ready 1 once the first full sync is done.',
        '# TYPE meshctl_controller_ready gauge',
        `meshctl_controller_ready ${synced ? 1 : 0}`,
        '# HELP meshctl_controller_injection_reviews_total AdmissionReviews answered by the injection webhook, by result.',
        '# TYPE meshctl_controller_injection_reviews_total counter',
        `meshctl_controller_injection_reviews_total{result="injected"} ${webhookStats.injected}`,
        `meshctl_controller_injection_reviews_total{result="skipped"} ${webhookStats.reviews - webhookStats.injected}`,
        `meshctl_controller_injection_reviews_total{result="error"} ${webhookStats.errors}`,
      ];
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(lines.join('\n') + '\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('monitoring: /ready /metrics\n');
  }
}

/**
 * The http://HOST:PORT the webhook tells injected sidecars to stream from: $MESHCTL_DISCOVERY_ADDRESS
 * if set, else the mesh config's defaultConfig.discoveryAddress (Istio's field, HOST:PORT, which
 * meshctl install renders as the controller Service's port 15010), else that Service in `namespace`.
 * Discovery is plain HTTP: an address with another scheme is refused rather than silently rewritten.
 */
export async function injectDiscoveryAddress(env: Record<string, string | undefined>, meshConfigText: string | undefined, namespace: string): Promise<string> {
  if (env.MESHCTL_DISCOVERY_ADDRESS) return env.MESHCTL_DISCOVERY_ADDRESS;
  let fromMesh: unknown;
  if (meshConfigText) {
    const { cjs } = await import('../core/module-interop.js');
    const { parse } = cjs(await import('yaml'));
    try {
      fromMesh = (parse(meshConfigText) as { defaultConfig?: { discoveryAddress?: unknown } } | null)?.defaultConfig?.discoveryAddress;
    } catch {
      fromMesh = undefined; // an unreadable mesh config is reported where it is loaded; fall back here
    }
  }
  if (typeof fromMesh === 'string' && fromMesh.trim()) {
    const addr = fromMesh.trim();
    if (addr.startsWith('http://')) return addr;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(addr)) {
      throw new MeshctlError('E_BAD_MESH_CONFIG', `mesh config defaultConfig.discoveryAddress "${addr}" is not plain HTTP; meshctl controller serves discovery over http only`, { hint: 'set it to HOST:PORT (e.g. meshctl-controller.meshctl-system.svc:15010), or set MESHCTL_DISCOVERY_ADDRESS', exitCode: 65 });
    }
    return `http://${addr}`;
  }
  return `http://meshctl-controller.${namespace}.svc:15010`;
}

/** Reads the proxy's identity from the query; a string is the error to answer with 400. */
export function parseKey(q: URLSearchParams): ProxyKey | string {
  const workload = q.get('workload');
  const namespace = q.get('namespace') ?? 'default';
  if (!workload) return 'workload is required: GET /v1/snapshot?workload=NAME&namespace=NS';
  const key: ProxyKey = { workload, namespace };
  const labels = q.getAll('label');
  if (labels.length) {
    key.labels = {};
    for (const l of labels) {
      const eq = l.indexOf('=');
      if (eq <= 0) return `label ${l} is not key=value`;
      key.labels[l.slice(0, eq)] = l.slice(eq + 1);
    }
  }
  const app = q.get('appPort');
  if (app !== null) {
    const n = Number(app);
    if (!Number.isInteger(n) || n < 1 || n > 65535) return `appPort ${app} is not a port`;
    key.appPort = n;
  }
  return key;
}

/**
 * The installed Deployment mounts meshctl's mesh config at MESHCTL_MESH_CONFIG. Its Istio MeshConfig
 * fields (outboundTrafficPolicy, when set) reach the compiler as Istio's own ConfigMap would; a
 * ConfigMap istio-system/istio in the store, when there is one, replaces it.
 */
async function addMeshConfigFile(ctx: Context, hub: SnapshotHub, log: (f: Record<string, unknown>) => void): Promise<void> {
  const file = ctx.env.MESHCTL_MESH_CONFIG;
  if (!file) return;
  try {
    const mesh = await readFile(file, 'utf8');
    hub.apply('ADDED', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace: 'istio-system' }, data: { mesh } } as Resource);
  } catch (err) {
    log({ level: 'warn', msg: `MESHCTL_MESH_CONFIG ${file} not read (${(err as Error).message}); using defaults` });
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
