import { connect, type Socket } from 'node:net';
import { ChunkedScanner } from './chunked.js';
import { framingOf, HeadError, MAX_HEAD_BYTES, parseResponseHead } from './head.js';
import type { InRequest } from './server.js';
import { sweepClock, type Sweepable } from './sweeper.js';

/**
 * Upstream HTTP/1.1 connections per endpoint, kept alive and reused LIFO (the most recently used
 * socket is the warmest and the least likely to have been closed by the server's idle timer).
 * One request per connection at a time. Bodies pass through in their received framing.
 */

export interface PoolOptions {
  /** Connections at most (DestinationRule connectionPool.tcp.maxConnections); 0 = no limit. */
  maxConnections: number;
  connectTimeoutMs: number;
  /** An unused kept-alive connection is closed after this. */
  idleTimeoutMs: number;
  /** Requests per connection before it is closed (maxRequestsPerConnection); 0 = no limit. */
  maxRequestsPerConnection: number;
}

/** Why an upstream request failed: no connection, the connection closed early, or bytes that are not HTTP. */
export type FailurePhase = 'connect' | 'reset' | 'protocol';

export class UpstreamError extends Error {
  constructor(
    readonly phase: FailurePhase,
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/**
 * What receives a response. Nothing is called after onEnd/onError, or after the call is aborted.
 * The chunks given to onData live in a shared read buffer: copy what must outlive the call.
 */
export interface ResponseSink {
  onHead(status: number, raw: string[], framing: 'raw' | 'chunked' | 'close', connectionTokens: string[] | null): void;
  onData(chunk: Buffer): void;
  onEnd(): void;
  onError(err: UpstreamError): void;
}

/** One request to one endpoint, queued or on a connection. */
export class UpstreamCall {
  conn: UpConn | null = null;
  done = false;
  /** Re-sent once on a fresh connection after a kept-alive one was found closed (see UpConn). */
  redispatched = false;

  constructor(
    readonly pool: UpstreamPool,
    readonly method: string,
    readonly path: string,
    /** Flat [name, value, ...] without hop-by-hop fields; Host included. */
    readonly headers: string[],
    /** A buffered body (its Content-Length is in `headers`), a downstream body streamed once, or none. */
    readonly body: Buffer | InRequest | null,
    readonly sink: ResponseSink,
  ) {}

  /** Stops the call: the connection is closed (a half-read response cannot be reused) and the sink hears nothing more. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    const c = this.conn;
    if (c) {
      c.call = null;
      c.socket.destroy();
    } else this.pool.dequeue(this);
  }

  pause(): void {
    this.conn?.pause();
  }

  resume(): void {
    this.conn?.resume();
  }
}

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
/**
 * Every upstream socket reads into this one buffer (net.connect's `onread`): no allocation per read
 * and none of the Readable stream machinery. Safe to share because a read is handled to the end
 * before the next one: whatever must outlive the callback is copied (a partial head here, a body
 * chunk by the writer downstream). Sinks get slices of it that are valid only during the call.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
/** Requests whose buffered body is at most this big leave in one write with their head. */
const COALESCE_LIMIT = 16 * 1024;

export class UpstreamPool implements Sweepable {
  readonly idle: UpConn[] = [];
  total = 0;
  closed = false;
  readonly #queue: UpstreamCall[] = [];
  #closedWaiter: (() => void) | undefined;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly opts: PoolOptions,
  ) {
    sweepClock.add(this);
  }

  request(method: string, path: string, headers: string[], body: Buffer | InRequest | null, sink: ResponseSink): UpstreamCall {
    const call = new UpstreamCall(this, method, path, headers, body, sink);
    if (this.closed) {
      call.done = true;
      queueMicrotask(() => sink.onError(new UpstreamError('connect', 'connection pool closed', 'EPOOLCLOSED')));
      return call;
    }
    this.#dispatch(call);
    return call;
  }

  #dispatch(call: UpstreamCall): void {
    let conn = this.idle.pop();
    while (conn && conn.socket.destroyed) conn = this.idle.pop();
    if (conn) conn.assign(call);
    else if (this.opts.maxConnections <= 0 || this.total < this.opts.maxConnections) this.#connect(call);
    else this.#queue.push(call);
  }

  #connect(call: UpstreamCall): void {
    this.total++;
    new UpConn(this, call);
  }

  /** Sends a call again on a fresh connection (its kept-alive one was closed under it). */
  redispatch(call: UpstreamCall): void {
    call.redispatched = true;
    call.conn = null;
    if (this.opts.maxConnections <= 0 || this.total < this.opts.maxConnections) this.#connect(call);
    else this.#queue.unshift(call);
  }

  dequeue(call: UpstreamCall): void {
    const i = this.#queue.indexOf(call);
    if (i >= 0) this.#queue.splice(i, 1);
  }

  /** A connection finished its call: reuse it, keep it, or close it. */
  release(conn: UpConn, reusable: boolean): void {
    if (!reusable || this.closed) {
      conn.socket.destroy();
      return;
    }
    const next = this.#queue.shift();
    if (next) conn.assign(next);
    else {
      conn.t = sweepClock.now;
      this.idle.push(conn);
    }
  }

  /** A connection closed: forget it, and let a queued call have a new one. */
  gone(conn: UpConn): void {
    this.total--;
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    if (this.#queue.length > 0 && !this.closed) this.#connect(this.#queue.shift()!);
    if (this.closed && this.total === 0) this.#closedWaiter?.();
  }

  sweep(now: number): void {
    const limit = this.opts.idleTimeoutMs;
    // Oldest first: idle is LIFO, so stale connections sit at the front.
    while (this.idle.length > 0 && now - this.idle[0]!.t > limit) this.idle.shift()!.socket.destroy();
  }

  /** Closes idle connections now, busy ones when their call ends; resolves when all are gone. */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      sweepClock.delete(this);
      for (const c of this.idle.splice(0)) c.socket.destroy();
      for (const call of this.#queue.splice(0)) {
        call.done = true;
        call.sink.onError(new UpstreamError('connect', 'connection pool closed', 'EPOOLCLOSED'));
      }
    }
    if (this.total === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const prev = this.#closedWaiter;
      this.#closedWaiter = () => {
        prev?.();
        resolve();
      };
    });
  }
}

const HEAD_PHASE = 0;
const BODY_PHASE = 1;

/** One upstream connection and the response parser for the call it carries. */
export class UpConn {
  readonly socket: Socket;
  call: UpstreamCall | null = null;
  /** sweepClock.now when it went idle. */
  t = 0;
  #connected = false;
  #served = 0;
  /** The call was put on a connection that had served before (a stale keep-alive can bite it). */
  #reused = false;
  #phase = HEAD_PHASE;
  #buf: Buffer | null = null;
  #gotBytes = false;
  #bodyLeft = 0;
  #chunks: ChunkedScanner | null = null;
  #closeDelimited = false;
  #keepAlive = true;
  #requestSent = false;
  #error: Error | undefined;
  #connectTimer: NodeJS.Timeout | undefined;
  #paused = false;

  constructor(
    readonly pool: UpstreamPool,
    first: UpstreamCall,
  ) {
    this.call = first;
    first.conn = this;
    this.socket = connect({
      host: pool.host,
      port: pool.port,
      noDelay: true,
      onread: { buffer: READ_BUFFER, callback: (n: number, buf: Uint8Array) => this.#onData(Buffer.from(buf.buffer, buf.byteOffset, n)) },
    });
    this.#connectTimer = setTimeout(onConnectTimeout, pool.opts.connectTimeoutMs, this);
    this.socket.once('connect', () => {
      clearTimeout(this.#connectTimer);
      this.#connected = true;
      if (this.call) this.#send(this.call);
    });
    this.socket.on('error', (err) => (this.#error = err));
    this.socket.on('close', () => this.#onClose());
  }

  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.socket.pause();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.socket.resume();
  }

  assign(call: UpstreamCall): void {
    this.call = call;
    call.conn = this;
    this.#reused = this.#served > 0;
    if (this.#connected) this.#send(call);
  }

  #send(call: UpstreamCall): void {
    this.#phase = HEAD_PHASE;
    this.#gotBytes = false;
    this.#buf = null;
    this.#chunks = null;
    this.#closeDelimited = false;
    this.#keepAlive = true;
    this.#requestSent = false;
    this.#served++;
    const h = call.headers;
    let s = `${call.method} ${call.path} HTTP/1.1\r\n`;
    for (let i = 0; i < h.length; i += 2) s += `${h[i]}: ${h[i + 1]}\r\n`;
    const body = call.body;
    if (body === null) {
      this.socket.write(s + '\r\n', 'latin1');
      this.#requestSent = true;
    } else if (Buffer.isBuffer(body)) {
      s += '\r\n';
      if (body.length <= COALESCE_LIMIT) {
        const out = Buffer.allocUnsafe(s.length + body.length);
        out.write(s, 0, s.length, 'latin1');
        body.copy(out, s.length);
        this.socket.write(out);
      } else {
        this.socket.cork();
        this.socket.write(s, 'latin1');
        this.socket.write(body);
        this.socket.uncork();
      }
      this.#requestSent = true;
    } else {
      // Streamed once, in the framing it arrived in: chunk-encoded bytes pass as they are.
      if (body.framing.chunked) s += 'transfer-encoding: chunked\r\n';
      this.socket.write(s + '\r\n', 'latin1');
      const socket = this.socket;
      let draining = false;
      body.readBody(
        (chunk) => {
          if (this.call !== call) return;
          if (!socket.write(chunk) && !draining) {
            draining = true;
            body.pauseBody();
            socket.once('drain', () => {
              draining = false;
              body.resumeBody();
            });
          }
        },
        () => {
          if (this.call === call) this.#requestSent = true;
        },
      );
    }
  }

  /** Returns false to stop reading (onread's contract); this code pauses through pause() instead. */
  #onData(chunk: Buffer): boolean {
    const call = this.call;
    if (!call) {
      // Bytes nobody asked for (a server talking on an idle connection): it cannot be trusted again.
      this.socket.destroy();
      return false;
    }
    this.#gotBytes = true;
    if (this.#phase === BODY_PHASE) {
      this.#body(call, chunk);
      return true;
    }
    this.#head(call, this.#buf ? Buffer.concat([this.#buf, chunk]) : chunk);
    return true;
  }

  #head(call: UpstreamCall, buf: Buffer): void {
    this.#buf = null;
    let start = 0;
    // Loop: 1xx interim responses (100 Continue) come before the final one and are not forwarded.
    for (;;) {
      const end = buf.indexOf(CRLFCRLF, start);
      if (end < 0) {
        if (buf.length - start > MAX_HEAD_BYTES) return this.#fail(call, 'protocol', `response head larger than ${MAX_HEAD_BYTES} bytes`, 'EHEADTOOBIG');
        // A head split across reads: keep a copy, the read buffer is reused.
        this.#buf = Buffer.from(buf.subarray(start));
        return;
      }
      let status: number;
      let raw: string[];
      let framing;
      try {
        const h = parseResponseHead(buf.toString('latin1', start, end));
        status = h.status;
        raw = h.raw;
        framing = framingOf(raw, h.minor, false);
      } catch (err) {
        if (err instanceof HeadError) return this.#fail(call, 'protocol', err.message, 'EBADRESPONSE');
        throw err;
      }
      start = end + 4;
      if (status < 200) {
        if (status === 101) return this.#fail(call, 'protocol', 'unexpected 101 Switching Protocols (upgrades are not proxied)', 'EBADRESPONSE');
        continue;
      }
      this.#phase = BODY_PHASE;
      this.#keepAlive = !framing.close;
      let kind: 'raw' | 'chunked' | 'close' = 'raw';
      if (call.method === 'HEAD' || status === 204 || status === 304) this.#bodyLeft = 0;
      else if (framing.chunked) {
        this.#chunks = new ChunkedScanner();
        kind = 'chunked';
      } else if (framing.length >= 0) this.#bodyLeft = framing.length;
      else {
        this.#closeDelimited = true;
        this.#keepAlive = false;
        kind = 'close';
      }
      call.sink.onHead(status, raw, kind, framing.connectionTokens);
      if (this.call !== call) return; // aborted by the sink
      if (kind === 'raw' && this.#bodyLeft === 0) {
        if (start < buf.length) this.#keepAlive = false; // bytes after a complete response: not HTTP we trust
        this.#complete(call);
        return;
      }
      if (start < buf.length) this.#body(call, start === 0 ? buf : buf.subarray(start));
      return;
    }
  }

  #body(call: UpstreamCall, chunk: Buffer): void {
    if (this.#closeDelimited) {
      call.sink.onData(chunk);
      return;
    }
    let n: number;
    let done: boolean;
    if (this.#chunks) {
      try {
        n = this.#chunks.scan(chunk, 0, chunk.length);
      } catch (err) {
        return this.#fail(call, 'protocol', (err as Error).message, 'EBADRESPONSE');
      }
      done = this.#chunks.done;
    } else {
      n = Math.min(this.#bodyLeft, chunk.length);
      this.#bodyLeft -= n;
      done = this.#bodyLeft === 0;
    }
    if (n > 0) call.sink.onData(n === chunk.length ? chunk : chunk.subarray(0, n));
    if (this.call !== call) return;
    if (done) {
      if (n < chunk.length) this.#keepAlive = false;
      this.#complete(call);
    }
  }

  #complete(call: UpstreamCall): void {
    this.call = null;
    call.done = true;
    // The last bytes may have filled the client's socket and paused this one: an idle connection reads.
    this.resume();
    const max = this.pool.opts.maxRequestsPerConnection;
    const reusable = this.#keepAlive && this.#requestSent && (max <= 0 || this.#served < max);
    this.pool.release(this, reusable);
    call.sink.onEnd();
  }

  #fail(call: UpstreamCall, phase: FailurePhase, message: string, code: string): void {
    this.call = null;
    call.done = true;
    this.socket.destroy();
    call.sink.onError(new UpstreamError(phase, message, code));
  }

  #onClose(): void {
    clearTimeout(this.#connectTimer);
    const call = this.call;
    this.call = null;
    this.pool.gone(this);
    if (!call || call.done) return;
    if (this.#phase === BODY_PHASE && this.#closeDelimited) {
      // The close is the end of this body.
      call.done = true;
      call.sink.onEnd();
      return;
    }
    const err = this.#error as (Error & { code?: string }) | undefined;
    // A kept-alive connection the server closed as we reused it: the request never reached the app,
    // so it goes again once on a fresh connection if its body can be sent again (as browsers do).
    if (this.#reused && !this.#gotBytes && !call.redispatched && !(call.body !== null && !Buffer.isBuffer(call.body))) {
      this.pool.redispatch(call);
      return;
    }
    call.done = true;
    if (!this.#connected) {
      const code = err?.code ?? 'ECONNREFUSED';
      call.sink.onError(new UpstreamError('connect', err?.message ?? 'connection failed', code));
    } else {
      const code = err?.code ?? 'ECONNRESET';
      const where = this.#phase === BODY_PHASE ? 'mid-response' : this.#gotBytes ? 'mid-head' : 'before responding';
      call.sink.onError(new UpstreamError('reset', `upstream closed the connection ${where}${err ? ` (${err.message})` : ''}`, code));
    }
  }

  /** Connect timed out: fail the call as a connect failure. */
  timeout(): void {
    this.#error = Object.assign(new Error(`connect timeout after ${this.pool.opts.connectTimeoutMs} ms`), { code: 'ETIMEDOUT' });
    this.socket.destroy();
  }
}

function onConnectTimeout(c: UpConn): void {
  c.timeout();
}
