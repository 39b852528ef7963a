import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import type { Snapshot } from '../core/compile/snapshot.js';
import { MeshProxy } from './proxy.js';
import type { ProxyContext, RunProxyOptions } from './run.js';
import { serveUntilStopped } from './serve.js';

/**
 * The proxy's side of the controller's discovery stream (src/controller/run.ts): GET
 * /v1/snapshot?workload=W&namespace=NS answers NDJSON lines, a snapshot at once and then one per
 * change, with heartbeats between. The client reconnects with bounded, jittered backoff and never
 * drops the snapshot it has: a proxy whose controller is away keeps serving its last good config.
 */

export interface DiscoveryKey {
  workload: string;
  namespace: string;
  labels?: Record<string, string> | undefined;
  appPort?: number | undefined;
}

export interface SnapshotMessage {
  type: 'snapshot';
  generation: number;
  snapshot: Snapshot;
  upcoming: { at: string; snapshot: Snapshot }[];
}

export type DiscoveryState = 'connecting' | 'connected' | 'disconnected' | 'stopped';

export interface DiscoveryClientOptions {
  /** http://host:port of the controller's discovery port. */
  address: string;
  key: DiscoveryKey;
  onSnapshot: (m: SnapshotMessage) => void;
  /** State changes and errors, one object each (the proxy logs them as JSON lines). */
  log: (fields: Record<string, unknown>) => void;
  /** With no line (snapshot or heartbeat) for this long the stream counts as dead. Default 45 s: 3 heartbeats. */
  idleTimeoutMs?: number;
  backoff?: { initialMs: number; maxMs: number };
  /** For tests: a deterministic jitter source in [0, 1). */
  random?: () => number;
}

/** Where the stream for `key` lives on the controller at `address`. Throws on an address that is not http://host:port. */
export function streamUrl(address: string, key: DiscoveryKey): URL {
  let base: URL;
  try {
    base = new URL(/^[a-z]+:\/\//i.test(address) ? address : `http://${address}`);
  } catch {
    throw new Error(`discovery address ${address} is not a URL`);
  }
  if (base.protocol !== 'http:') throw new Error(`discovery address ${address}: only http:// is supported`);
  const url = new URL('/v1/snapshot', base);
  url.searchParams.set('workload', key.workload);
  url.searchParams.set('namespace', key.namespace);
  for (const [k, v] of Object.entries(key.labels ?? {}).sort(([a], [b]) => a.localeCompare(b))) url.searchParams.append('label', `${k}=${v}`);
  if (key.appPort) url.searchParams.set('appPort', String(key.appPort));
  return url;
}

/**
 * Splits a byte stream into lines; a partial line waits for the rest. Bounded: a peer that sends
 * a line longer than `max` bytes without a newline is cut off rather than buffered forever.
 */
export class LineSplitter {
  #buf = '';
  constructor(readonly max = 64 * 1024 * 1024) {}
  push(chunk: string): string[] {
    this.#buf += chunk;
    const parts = this.#buf.split('\n');
    this.#buf = parts.pop() ?? '';
    if (this.#buf.length > this.max) throw new Error(`discovery line longer than ${this.max} bytes`);
    return parts.filter((l) => l.trim() !== '');
  }
}

/** Validates one stream line (a snapshot or a heartbeat); throws on anything else. */
export function parseLine(line: string): SnapshotMessage | { type: 'heartbeat'; generation: number } {
  const m = JSON.parse(line) as { type?: unknown; generation?: unknown; snapshot?: { version?: unknown }; upcoming?: unknown };
  if (m.type === 'heartbeat') return { type: 'heartbeat', generation: Number(m.generation) };
  if (m.type !== 'snapshot' || typeof m.snapshot?.version !== 'string') throw new Error(`unexpected discovery line: ${line.slice(0, 120)}`);
  return { ...(m as SnapshotMessage), upcoming: Array.isArray(m.upcoming) ? (m.upcoming as SnapshotMessage['upcoming']) : [] };
}

/** Full-jitter exponential backoff, bounded by maxMs: half the step fixed, half random, so proxies spread out. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random: () => number): number {
  const step = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(step / 2 + (step / 2) * random());
}

export class DiscoveryClient {
  state: DiscoveryState = 'connecting';
  connects = 0;
  snapshots = 0;
  generation = 0;
  lastError = '';
  lastVersion = '';
  readonly url: URL;
  readonly #opts: DiscoveryClientOptions;
  readonly #idleMs: number;
  readonly #backoff: { initialMs: number; maxMs: number };
  readonly #random: () => number;
  #req: ClientRequest | undefined;
  #idle: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;
  #attempt = 0;
  #stopped = false;

  constructor(opts: DiscoveryClientOptions) {
    this.#opts = opts;
    this.url = streamUrl(opts.address, opts.key);
    this.#idleMs = opts.idleTimeoutMs ?? 45_000;
    this.#backoff = opts.backoff ?? { initialMs: 250, maxMs: 10_000 };
    this.#random = opts.random ?? Math.random;
  }

  start(): void {
    this.#connect();
  }

  stop(): void {
    this.#stopped = true;
    this.state = 'stopped';
    if (this.#idle) clearTimeout(this.#idle);
    if (this.#retry) clearTimeout(this.#retry);
    this.#req?.destroy();
  }

  /** `name: value` lines for the proxy's admin /stats. */
  stats(): string[] {
    return [
      `discovery.address: ${this.url.origin}`,
      `discovery.state: ${this.state}`,
      `discovery.connects: ${this.connects}`,
      `discovery.snapshots: ${this.snapshots}`,
      `discovery.generation: ${this.generation}`,
      `discovery.version: ${this.lastVersion}`,
      `discovery.last_error: ${this.lastError}`,
    ];
  }

  #setState(state: DiscoveryState, extra: Record<string, unknown> = {}): void {
    if (this.state === state || this.#stopped) return;
    this.state = state;
    this.#opts.log({ event: 'discovery', state, address: this.url.origin, ...extra });
  }

  #connect(): void {
    if (this.#stopped) return;
    const req = request(this.url, { agent: false, headers: { accept: 'application/x-ndjson' } });
    this.#req = req;
    let done = false;
    const fail = (why: string) => {
      if (done) return;
      done = true;
      if (this.#idle) clearTimeout(this.#idle);
      req.destroy();
      if (this.#stopped) return;
      this.lastError = why;
      this.#setState('disconnected', { error: why, keeping: this.lastVersion || null });
      const delay = backoffDelay(this.#attempt++, this.#backoff.initialMs, this.#backoff.maxMs, this.#random);
      this.#retry = setTimeout(() => {
        this.#setState('connecting');
        this.#connect();
      }, delay);
    };
    const touch = () => {
      if (this.#idle) clearTimeout(this.#idle);
      this.#idle = setTimeout(() => fail(`no line from the controller for ${this.#idleMs} ms`), this.#idleMs);
    };
    touch();
    req.on('error', (err) => fail(err.message));
    req.on('response', (res: IncomingMessage) => {
      if (res.statusCode !== 200) {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body = (body + c).slice(0, 500)));
        res.on('end', () => fail(`HTTP ${res.statusCode}: ${body.trim()}`));
        res.on('error', (err) => fail(err.message));
        return;
      }
      this.connects++;
      const lines = new LineSplitter();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        touch();
        try {
          for (const line of lines.push(chunk)) {
            const m = parseLine(line);
            this.generation = m.generation;
            if (m.type !== 'snapshot') continue;
            this.snapshots++;
            this.lastVersion = m.snapshot.version;
            // Connected means "holding fresh config", so it is reported after the first snapshot.
            this.#attempt = 0;
            this.lastError = '';
            this.#setState('connected', { version: m.snapshot.version, generation: m.generation });
            this.#opts.onSnapshot(m);
          }
        } catch (err) {
          fail((err as Error).message);
        }
      });
      res.on('end', () => fail('the controller closed the stream'));
      res.on('error', (err) => fail(err.message));
      res.on('close', () => fail('the stream closed'));
    });
    req.end();
  }
}

export interface RunDiscoveryProxyOptions extends Omit<RunProxyOptions, 'dir'> {
  /** http://host:port of `meshctl controller`'s discovery port. */
  discovery: string;
  /** The stream counts as dead after this long without a line (default 45 s). */
  discoveryIdleMs?: number;
  discoveryBackoff?: { initialMs: number; maxMs: number };
}

/**
 * The controller compiles for (workload, namespace, labels, app port); the listener addresses,
 * telemetry switches and a --outbound-traffic-policy override are this process's own facts and
 * are filled in here. The version stays the controller's, so both ends name the same config.
 */
export function localize(s: Snapshot, proxy: { ports: { outbound: number; inbound: number } }, o: Omit<RunDiscoveryProxyOptions, 'discovery'>): Snapshot {
  return {
    ...s,
    listeners: {
      outbound: { address: o.outboundAddress, port: proxy.ports.outbound },
      inbound: { address: o.bindAddress, port: proxy.ports.inbound, ...(o.appPort ? { appPort: o.appPort } : {}) },
    },
    telemetry: { metrics: o.metrics, accessLog: o.accessLog },
    outboundTrafficPolicy: o.outboundTrafficPolicy ?? s.outboundTrafficPolicy,
  };
}

/**
 * `meshctl proxy --discovery ADDR`: waits for the first snapshot (a proxy with no config would
 * answer 404 for every host), then binds and serves it, swapping in each pushed snapshot through
 * the same path as --config (MeshProxy.applySnapshot: no request in flight is dropped). Snapshots
 * the controller precompiled for coming fault expiries are swapped in on time by a local timer,
 * so an expired fault stops even while the controller is away.
 */
export async function runDiscoveryProxy(ctx: ProxyContext, opts: RunDiscoveryProxyOptions): Promise<void> {
  const log = (line: string) => void ctx.io.stdout.write(line + '\n');
  let proxy: MeshProxy | undefined;
  let latest: SnapshotMessage | undefined;
  let expiryTimers: NodeJS.Timeout[] = [];
  let first: () => void = () => undefined;
  const firstSnapshot = new Promise<void>((resolve) => (first = resolve));

  const apply = (s: Snapshot, reason: string) => {
    if (!proxy) return;
    try {
      if (proxy.applySnapshot(localize(s, proxy, opts))) log(JSON.stringify({ event: 'reload', version: s.version, source: reason }));
    } catch (err) {
      log(JSON.stringify({ level: 'error', msg: `snapshot ${s.version} not applied, keeping version ${proxy.snapshot?.version}: ${(err as Error).message}` }));
    }
  };
  const schedule = (m: SnapshotMessage) => {
    for (const t of expiryTimers) clearTimeout(t);
    expiryTimers = [];
    const now = Date.now();
    for (const u of m.upcoming) {
      const ms = new Date(u.at).getTime() - now;
      if (!Number.isFinite(ms)) continue;
      const t = setTimeout(() => apply(u.snapshot, 'fault-expiry'), Math.min(Math.max(0, ms) + 1, 2 ** 31 - 1));
      t.unref();
      expiryTimers.push(t);
    }
  };

  const client = new DiscoveryClient({
    address: opts.discovery,
    key: { workload: opts.workload, namespace: opts.namespace, labels: opts.labels, appPort: opts.appPort },
    log: (f) => log(JSON.stringify(f)),
    ...(opts.discoveryIdleMs ? { idleTimeoutMs: opts.discoveryIdleMs } : {}),
    ...(opts.discoveryBackoff ? { backoff: opts.discoveryBackoff } : {}),
    onSnapshot: (m) => {
      latest = m;
      if (!proxy) return first();
      apply(m.snapshot, 'discovery');
      schedule(m);
    },
  });
  client.start();
  let stopped = false;
  void opts.stop?.then(() => {
    stopped = true;
    first();
  });
  const onSignal = () => {
    stopped = true;
    first();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    await firstSnapshot;
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    if (stopped || !latest) return;
    proxy = await MeshProxy.start({ ...opts, log }, []);
    // Synchronous after start: no request can arrive between the empty start-up config and this one.
    apply(latest.snapshot, 'discovery');
    schedule(latest);
    proxy.extraStats = () => client.stats();
    log(JSON.stringify({ event: 'ready', version: proxy.snapshot?.version, ports: proxy.ports, workload: opts.workload, namespace: opts.namespace, discovery: client.url.origin }));
    opts.onReady?.(proxy);
    await serveUntilStopped(proxy, opts, log);
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    client.stop();
    for (const t of expiryTimers) clearTimeout(t);
  }
}
