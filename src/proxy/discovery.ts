import { connect, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { byCodeUnit } from '../core/compare.js';
import { ChunkedScanner } from './http1/chunked.js';
import { framingOf, HeadError, MAX_HEAD_BYTES, parseResponseHead, type BodyFraming, type ResponseHead } from './http1/head.js';
import { MeshProxy } from './proxy.js';
import type { ProxyContext, ProxyRunOptions } from './run.js';
import { serveUntilStopped } from './serve.js';
import { SnapshotFeed, type CompiledConfig } from './snapshot-feed.js';

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

export interface SnapshotMessage extends CompiledConfig {
  type: 'snapshot';
  generation: number;
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
  for (const [k, v] of Object.entries(key.labels ?? {}).sort(([a], [b]) => byCodeUnit(a, b))) url.searchParams.append('label', `${k}=${v}`);
  if (key.appPort) url.searchParams.set('appPort', String(key.appPort));
  return url;
}

/**
 * Splits a byte stream into lines; a partial line waits for the rest. Bounded: a peer that sends
 * a line longer than `max` characters (UTF-16 code units) without a newline is cut off rather than
 * buffered forever.
 * Only each new chunk is scanned, and a partial line is kept as pieces joined once at its newline:
 * a snapshot line of a large mesh is megabytes long and arrives in 64 KB reads, and re-splitting
 * the whole buffer on every read made that quadratic (a 5 MB line: ~80 flattens of up to 5 MB).
 */
export class LineSplitter {
  #pieces: string[] = [];
  #pending = 0;
  constructor(readonly max = 64 * 1024 * 1024) {}
  push(chunk: string): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', start)) {
      let line = chunk.slice(start, nl);
      if (this.#pieces.length) {
        this.#pieces.push(line);
        line = this.#pieces.join('');
        this.#pieces = [];
        this.#pending = 0;
      }
      if (line.trim() !== '') lines.push(line);
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.#pieces.push(start === 0 ? chunk : chunk.slice(start));
      this.#pending += chunk.length - start;
      if (this.#pending > this.max) throw new Error(`discovery line longer than ${this.max} characters`);
    }
    return lines;
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

/** How the body of the response being read ends: at its last chunk, after Content-Length bytes, or at the close. */
type Framing = 'chunked' | 'length' | 'close';

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

/**
 * Speaks HTTP/1.1 itself over node:net (one GET per connection, `connection: close`) because
 * loading node:http costs a sidecar ~1.25 MB of idle RSS (issue #4); the response head and chunked
 * framing go through the proxy's own strict parsers (http1/head.ts, http1/chunked.ts).
 */
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
  #socket: Socket | undefined;
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
    this.#socket?.destroy();
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
    const url = this.url;
    // URL keeps an IPv6 literal's brackets in hostname; net.connect wants the bare address.
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const socket = connect({ host, port: Number(url.port || 80) });
    this.#socket = socket;
    let done = false;
    const fail = (why: string) => {
      if (done) return;
      done = true;
      if (this.#idle) clearTimeout(this.#idle);
      socket.destroy();
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

    // Response state. A head split across reads is kept in `head` until its blank line arrives.
    let head: Buffer | null = Buffer.alloc(0);
    let status = 0;
    let framing: Framing = 'close';
    let left = 0;
    let chunks: ChunkedScanner | null = null;
    // One decoder per connection: a UTF-8 character split between two reads (or two chunks) is
    // held back until its last byte arrives instead of turning into U+FFFD.
    const decoder = new StringDecoder('utf8');
    const lines = new LineSplitter();
    let errorBody = '';
    let socketError = '';

    /** Payload bytes of the body, in order, whatever the framing. */
    const onPayload = (data: Buffer) => {
      // Stopped from inside onSnapshot: the rest of this read (more chunks) is not delivered.
      if (data.length === 0 || done || this.#stopped) return;
      const text = decoder.write(data);
      if (status !== 200) {
        errorBody = (errorBody + text).slice(0, 500);
        return;
      }
      touch();
      try {
        for (const line of lines.push(text)) {
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
          if (done || this.#stopped) return;
        }
      } catch (err) {
        fail((err as Error).message);
      }
    };
    /** The body ended as its framing says: a stream end for a 200, the whole answer otherwise. */
    const onEnd = () => {
      if (status !== 200) {
        errorBody = (errorBody + decoder.end()).slice(0, 500);
        return fail(`HTTP ${status}: ${errorBody.trim()}`);
      }
      fail('the controller closed the stream');
    };
    const onBody = (buf: Buffer) => {
      if (framing === 'close') return onPayload(buf);
      if (framing === 'length') {
        const n = Math.min(left, buf.length);
        left -= n;
        onPayload(n === buf.length ? buf : buf.subarray(0, n));
        if (left === 0 && !done) onEnd();
        return;
      }
      try {
        chunks!.scan(buf, 0, buf.length, onPayload);
      } catch (err) {
        if (!(err instanceof HeadError)) throw err;
        return fail(`bad chunked framing from the controller: ${err.message}`);
      }
      if (chunks!.done && !done) onEnd();
    };
    const onHead = (buf: Buffer) => {
      let start = 0;
      // 1xx interim responses come before the final one and carry no body.
      for (;;) {
        const end = buf.indexOf(CRLFCRLF, start);
        if (end < 0) {
          if (buf.length - start > MAX_HEAD_BYTES) return fail(`response head from the controller larger than ${MAX_HEAD_BYTES} bytes`);
          head = start === 0 ? buf : buf.subarray(start);
          return;
        }
        let h: ResponseHead;
        try {
          h = parseResponseHead(buf.toString('latin1', start, end));
          status = h.status;
        } catch (err) {
          if (!(err instanceof HeadError)) throw err;
          return fail(`bad response from the controller: ${err.message}`);
        }
        start = end + 4;
        if (status < 200) {
          if (status === 101) return fail('bad response from the controller: unexpected 101 Switching Protocols');
          continue;
        }
        let f: BodyFraming;
        try {
          f = framingOf(h.raw, h.minor, false);
        } catch (err) {
          if (!(err instanceof HeadError)) throw err;
          return fail(`bad response from the controller: ${err.message}`);
        }
        head = null;
        if (status === 200) this.connects++;
        if (status === 204 || status === 304) {
          framing = 'length';
          left = 0;
        } else if (f.chunked) {
          framing = 'chunked';
          chunks = new ChunkedScanner();
        } else if (f.length >= 0) {
          framing = 'length';
          left = f.length;
        } else framing = 'close';
        if (framing === 'length' && left === 0) return onEnd();
        if (start < buf.length) onBody(buf.subarray(start));
        return;
      }
    };

    socket.on('connect', () => {
      socket.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\naccept: application/x-ndjson\r\nconnection: close\r\n\r\n`, 'latin1');
    });
    socket.on('data', (buf: Buffer) => {
      if (done) return;
      if (head) onHead(head.length === 0 ? buf : Buffer.concat([head, buf]));
      else onBody(buf);
    });
    socket.on('error', (err) => {
      socketError = err.message;
      fail(err.message);
    });
    socket.on('close', () => {
      if (done) return;
      if (head) return fail(head.length === 0 ? 'the controller closed the connection before responding' : 'the controller closed the connection mid-head');
      // No length, no chunks: the close is the end of the body.
      if (framing === 'close') return onEnd();
      if (status !== 200) return fail(`HTTP ${status}: ${errorBody.trim()} (connection closed mid-body)`);
      fail(`the stream closed${socketError ? ` (${socketError})` : ''}`);
    });
  }
}

export interface RunDiscoveryProxyOptions extends ProxyRunOptions {
  /** http://host:port of `meshctl controller`'s discovery port. */
  discovery: string;
  /** The stream counts as dead after this long without a line (default 45 s). */
  discoveryIdleMs?: number;
  discoveryBackoff?: { initialMs: number; maxMs: number };
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
  let feed: SnapshotFeed | undefined;
  let latest: SnapshotMessage | undefined;
  let first: () => void = () => undefined;
  const firstSnapshot = new Promise<void>((resolve) => (first = resolve));

  const client = new DiscoveryClient({
    address: opts.discovery,
    key: { workload: opts.workload, namespace: opts.namespace, labels: opts.labels, appPort: opts.appPort },
    log: (f) => log(JSON.stringify(f)),
    ...(opts.discoveryIdleMs ? { idleTimeoutMs: opts.discoveryIdleMs } : {}),
    ...(opts.discoveryBackoff ? { backoff: opts.discoveryBackoff } : {}),
    onSnapshot: (m) => {
      latest = m;
      if (!feed) return first();
      feed.push(m, 'discovery');
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
    const proxy = await MeshProxy.start({ ...opts, log }, []);
    // Synchronous after start: no request can arrive between the empty start-up config and this one.
    feed = new SnapshotFeed(proxy, opts, log);
    feed.push(latest, 'discovery');
    proxy.extraStats = () => client.stats();
    log(JSON.stringify({ event: 'ready', version: proxy.snapshot?.version, ports: proxy.ports, workload: opts.workload, namespace: opts.namespace, discovery: client.url.origin }));
    opts.onReady?.(proxy);
    await serveUntilStopped(proxy, opts, log);
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    client.stop();
    feed?.stop();
  }
}
