import { createServer, type Server, type Socket } from 'node:net';
import { listen } from '../../core/listen.js';
import { ChunkedScanner } from './chunked.js';
import { framingOf, HeadError, MAX_HEAD_BYTES, parseRequestHead, type BodyFraming } from './head.js';
import { STATUS_TEXT } from './status.js';
import { sweepClock, type Sweepable } from './sweeper.js';

/**
 * The proxy's downstream HTTP/1.1 server on raw `net` sockets. Node's http server builds an
 * IncomingMessage, a ServerResponse, two streams and a header object per request, and undici parses
 * every response again in WebAssembly: under load that was ~half the proxy's CPU. Here one InRequest
 * per request carries the parsed head, the body as it arrives and the response writer; the response
 * head and the first body bytes leave in one write, and bodies pass through as received.
 *
 * One request at a time per connection: pipelined requests wait in the connection's buffer (reading
 * pauses when it fills) until the response before them is complete, as RFC 9112 9.3.2 requires.
 */

export interface Http1ServerOptions {
  /** Time a client has to send a complete request head (from the connection or its first byte); 0: no limit. */
  headersTimeoutMs: number;
  /** A kept-alive connection with no request in progress is closed after this; 0: never (as Envoy's idle_timeout). */
  idleTimeoutMs: number;
  /** A request with nothing moving either way for this long is cut (Envoy's stream idle timeout). */
  streamIdleTimeoutMs: number;
}

export type RequestHandler = (req: InRequest) => void;

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
/** Pipelined bytes buffered behind a request in progress before reading pauses. */
const MAX_PIPELINED = 64 * 1024;
/** Request body bytes held while nobody reads them yet, before reading pauses. */
const MAX_PENDING_BODY = 64 * 1024;
/** Responses up to this size leave in the same write as their head (one copy, one syscall). */
const COALESCE_LIMIT = 16 * 1024;

const NEW = 0;
const HEAD = 1;
const ACTIVE = 2;
const IDLE = 3;
const CLOSED = 4;

export class Http1Server implements Sweepable {
  readonly server: Server;
  readonly conns = new Set<ServerConn>();
  /** Responses say `connection: close` and idle connections are closed. */
  draining = false;

  constructor(
    readonly opts: Http1ServerOptions,
    readonly handler: RequestHandler,
  ) {
    this.server = createServer({ noDelay: true }, (socket) => {
      this.conns.add(new ServerConn(this, socket));
    });
    // Ticks at a tenth of the shortest limit set (0 is none), so a limit fires within ~10 % of it.
    const limits = [opts.headersTimeoutMs, opts.idleTimeoutMs].filter((ms) => ms > 0);
    sweepClock.add(this, limits.length ? Math.min(...limits) / 10 : 1000);
  }

  listen(port: number, host: string): Promise<number> {
    return listen(this.server, port, host);
  }

  /** Stops accepting; connections with a request in progress finish it, then close. */
  startDrain(): void {
    this.draining = true;
    this.server.close();
    for (const c of this.conns) if (c.state !== ACTIVE) c.destroy();
  }

  closeAll(): void {
    this.draining = true;
    this.server.close();
    for (const c of this.conns) c.destroy();
    sweepClock.delete(this);
  }

  sweep(now: number): void {
    const o = this.opts;
    for (const c of this.conns) {
      const age = now - c.t;
      switch (c.state) {
        case NEW:
          if (o.headersTimeoutMs > 0 && age > o.headersTimeoutMs) c.destroy();
          break;
        case HEAD:
          if (o.headersTimeoutMs > 0 && age > o.headersTimeoutMs) c.reject(408, `request headers not received within ${o.headersTimeoutMs / 1000} s`);
          break;
        case IDLE:
          // A finished response may still be leaving (a large body to a slow reader): the idle
          // clock runs once the socket has sent it all ('drain' restarts it); until then only a
          // stall as long as the stream idle timeout cuts the connection.
          if (c.socket.writableLength > 0) {
            if (age > o.streamIdleTimeoutMs) c.destroy();
          } else if (o.idleTimeoutMs > 0 && age > o.idleTimeoutMs) c.destroy();
          break;
        case ACTIVE:
          if (age > o.streamIdleTimeoutMs) c.destroy();
          break;
      }
    }
  }
}

export class ServerConn {
  state = NEW;
  /** sweepClock.now when the state last changed or bytes last moved. */
  t = sweepClock.now;
  /** Received bytes not consumed yet: a head in progress, or requests pipelined behind the current one. */
  buf: Buffer | null = null;
  req: InRequest | null = null;
  #parsing = false;
  #paused = false;

  constructor(
    readonly server: Http1Server,
    readonly socket: Socket,
  ) {
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => {
      this.t = sweepClock.now;
      const req = this.req;
      if (req?.onDrain) req.onDrain(req);
    });
    // Errors (ECONNRESET ...) are followed by 'close', which does the cleanup.
    socket.on('error', noop);
    socket.on('close', () => this.#onClose());
  }

  #onData(chunk: Buffer): void {
    this.t = sweepClock.now;
    if (this.state === ACTIVE) {
      const req = this.req!;
      let rest: Buffer | null = chunk;
      if (!req.bodyDone) {
        try {
          rest = req.feedBody(chunk);
        } catch {
          // A malformed chunked body mid-request: nothing sane can follow on this connection.
          this.destroy();
          return;
        }
      }
      if (rest) {
        this.buf = this.buf ? Buffer.concat([this.buf, rest]) : rest;
        // The body's last bytes may have let the response finish inside feedBody: go on with the next request.
        if ((this.state as number) !== ACTIVE) this.#parse();
        else if (this.buf.length > MAX_PIPELINED) this.pause();
      }
      return;
    }
    if (this.state === CLOSED) return;
    this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    this.#parse();
  }

  /** Parses and dispatches heads from `buf` while no request is in progress. */
  #parse(): void {
    if (this.#parsing) return; // a response finished synchronously inside the handler: the loop below goes on
    this.#parsing = true;
    try {
      while (this.buf !== null && (this.state === NEW || this.state === HEAD || this.state === IDLE)) {
        let buf: Buffer = this.buf;
        // RFC 9112 2.2: a server should ignore empty lines received before a request line.
        let skip = 0;
        while (skip + 1 < buf.length && buf[skip] === 13 && buf[skip + 1] === 10) skip += 2;
        if (skip > 0) buf = this.buf = skip === buf.length ? Buffer.alloc(0) : buf.subarray(skip);
        const end = buf.indexOf(CRLFCRLF);
        if (end < 0) {
          if (buf.length > MAX_HEAD_BYTES) return this.reject(431, `request head larger than ${MAX_HEAD_BYTES} bytes`);
          if (buf.length === 0) this.buf = null;
          else if (this.state !== HEAD) {
            // The header timeout runs from the first byte of a request on a kept-alive connection,
            // from the connection itself for the first request.
            if (this.state === IDLE) this.t = sweepClock.now;
            this.state = HEAD;
          }
          return;
        }
        if (end > MAX_HEAD_BYTES) return this.reject(431, `request head larger than ${MAX_HEAD_BYTES} bytes`);
        const head = buf.toString('latin1', 0, end);
        const rest = end + 4 < buf.length ? buf.subarray(end + 4) : null;
        this.buf = null;
        let req: InRequest;
        try {
          const h = parseRequestHead(head);
          // A 2xx to CONNECT turns the connection into a tunnel; this framing would go on parsing the
          // tunnel's bytes as requests. TCP and tunnels are a listener of their own (not built yet).
          if (h.method === 'CONNECT') return this.reject(405, 'CONNECT is not proxied on this HTTP listener');
          req = new InRequest(this, h.method, h.target, h.minor, h.raw, framingOf(h.raw, h.minor, true));
        } catch (err) {
          if (err instanceof HeadError) return this.reject(err.status, err.message);
          throw err;
        }
        this.state = ACTIVE;
        this.t = sweepClock.now;
        this.req = req;
        if (req.framing.expectContinue && !req.bodyDone && req.minor === 1) this.socket.write(CONTINUE, 'latin1');
        if (rest) {
          let after: Buffer | null = rest;
          if (!req.bodyDone) {
            try {
              after = req.feedBody(rest);
            } catch (err) {
              return this.reject(400, (err as Error).message);
            }
          }
          this.buf = after;
        }
        this.server.handler(req);
      }
    } finally {
      this.#parsing = false;
    }
  }

  /** The response of `req` is complete: the connection closes or takes the next request. */
  responseDone(req: InRequest): void {
    if (this.req !== req || this.state === CLOSED) return;
    this.req = null;
    if (req.closeAfter || this.server.draining) {
      this.state = CLOSED;
      // end() flushes what is queued first; destroySoon closes once it is written.
      this.socket.destroySoon();
      return;
    }
    this.state = IDLE;
    this.t = sweepClock.now;
    if (this.#paused) {
      this.#paused = false;
      this.socket.resume();
    }
    if (this.buf !== null) this.#parse();
  }

  pause(): void {
    if (this.#paused || this.state === CLOSED) return;
    this.#paused = true;
    this.socket.pause();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.socket.resume();
  }

  /** Answers a request the proxy cannot parse or that timed out, then closes the connection. */
  reject(status: number, why: string): void {
    if (this.state === CLOSED) return;
    this.state = CLOSED;
    this.buf = null;
    const body = `meshctl proxy: ${status} ${STATUS_TEXT[status] ?? ''}: ${why}\n`;
    this.socket.write(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`, 'latin1');
    this.socket.destroySoon();
  }

  destroy(): void {
    this.socket.destroy();
  }

  #onClose(): void {
    this.state = CLOSED;
    this.buf = null;
    this.server.conns.delete(this);
    const req = this.req;
    this.req = null;
    if (req && !req.finished && req.onClose) req.onClose(req);
  }
}

/**
 * One request on a downstream connection: the parsed head, the body as it arrives, and the writer of
 * the response. The proxy's Exchange reads `method`, `url` and `raw` directly.
 */
export class InRequest {
  /** The Host header, or the authority of an absolute-form target. */
  readonly authority: string;
  /** Path and query: an absolute-form target (`http://host/p`) is reduced to `/p` here. */
  readonly url: string;
  /** Every body byte has been received (or there is no body). */
  bodyDone: boolean;
  /** Content-Length bytes still to come. */
  #bodyLeft: number;
  #chunks: ChunkedScanner | null;
  #pending: Buffer[] | null = null;
  #pendingBytes = 0;
  #onData: ((chunk: Buffer) => void) | null = null;
  #onEnd: (() => void) | null = null;
  /** Body bytes are dropped (nobody will read them). */
  #discard = false;
  headersSent = false;
  finished = false;
  /** The connection closes after this response. */
  closeAfter: boolean;
  #head: string | null = null;
  #dechunk: ChunkedScanner | null = null;
  /** The connection closed before the response finished (the client went away). */
  onClose: ((req: InRequest) => void) | null = null;
  /** The socket's buffer emptied after a write returned false. */
  onDrain: ((req: InRequest) => void) | null = null;
  /** Whoever handles the request (the proxy's Exchange), for the two callbacks above: no closures per request. */
  owner: unknown = null;

  constructor(
    readonly conn: ServerConn,
    readonly method: string,
    target: string,
    readonly minor: number,
    readonly raw: string[],
    readonly framing: BodyFraming,
  ) {
    this.closeAfter = framing.close;
    let authority = framing.host;
    let url = target;
    // Absolute-form (RFC 9112 3.2.2), as apps send when they think they talk to a forward proxy:
    // the target's authority wins over Host.
    if (target.charCodeAt(0) !== 47 && /^http:\/\//i.test(target)) {
      const slash = target.indexOf('/', 7);
      authority = slash < 0 ? target.slice(7) : target.slice(7, slash);
      url = slash < 0 ? '/' : target.slice(slash);
    }
    this.authority = authority;
    this.url = url;
    this.#chunks = framing.chunked ? new ChunkedScanner() : null;
    this.#bodyLeft = framing.chunked ? 0 : Math.max(0, framing.length);
    this.bodyDone = !framing.chunked && this.#bodyLeft === 0;
  }

  get remoteAddress(): string | undefined {
    return this.conn.socket.remoteAddress;
  }

  /** Takes body bytes from the socket; returns what lies past the body's end (the next request). */
  feedBody(chunk: Buffer): Buffer | null {
    if (this.#chunks) {
      const stop = this.#chunks.scan(chunk, 0, chunk.length);
      this.#deliver(stop === chunk.length ? chunk : chunk.subarray(0, stop));
      if (this.#chunks.done) this.#ended();
      return stop < chunk.length ? chunk.subarray(stop) : null;
    }
    const n = Math.min(this.#bodyLeft, chunk.length);
    this.#bodyLeft -= n;
    this.#deliver(n === chunk.length ? chunk : chunk.subarray(0, n));
    if (this.#bodyLeft === 0) this.#ended();
    return n < chunk.length ? chunk.subarray(n) : null;
  }

  #deliver(chunk: Buffer): void {
    if (chunk.length === 0 || this.#discard) return;
    if (this.#onData) {
      this.#onData(chunk);
      return;
    }
    (this.#pending ??= []).push(chunk);
    this.#pendingBytes += chunk.length;
    if (this.#pendingBytes > MAX_PENDING_BODY) this.conn.pause();
  }

  #ended(): void {
    this.bodyDone = true;
    const end = this.#onEnd;
    this.#onEnd = null;
    end?.();
  }

  /**
   * Reads the body as received (chunked framing included when the request was chunked): what came
   * already first, synchronously. `onEnd` runs once every byte is in.
   */
  readBody(onData: (chunk: Buffer) => void, onEnd: () => void): void {
    const pending = this.#pending;
    this.#pending = null;
    this.#pendingBytes = 0;
    if (pending) for (const c of pending) onData(c);
    this.conn.resume();
    if (this.bodyDone) {
      onEnd();
      return;
    }
    this.#onData = onData;
    this.#onEnd = onEnd;
  }

  /** Collects the whole body into one Buffer (for bodies small enough to replay). */
  collectBody(done: (body: Buffer) => void): void {
    const chunks: Buffer[] = [];
    this.readBody(
      (c) => chunks.push(c),
      () => done(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)),
    );
  }

  pauseBody(): void {
    if (this.conn.req === this) this.conn.pause();
  }

  resumeBody(): void {
    if (this.conn.req === this) this.conn.resume();
  }

  /**
   * Queues the response head. `headers` must not contain hop-by-hop fields; `framing` says how the
   * body is delimited: 'raw' (headers carry Content-Length, or the status has no body), 'chunked'
   * (the body is already chunk-encoded) or 'close' (the body ends when the connection closes).
   */
  writeHead(status: number, headers: string[], framing: 'raw' | 'chunked' | 'close'): void {
    if (this.headersSent) return;
    this.headersSent = true;
    let s = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Unknown'}\r\n`;
    for (let i = 0; i < headers.length; i += 2) s += `${headers[i]}: ${headers[i + 1]}\r\n`;
    // The request body was not all read: the connection cannot carry another request after this one.
    let close = this.closeAfter || this.conn.server.draining || (!this.bodyDone && this.#onData === null);
    if (framing === 'chunked') {
      if (this.minor === 1) s += 'transfer-encoding: chunked\r\n';
      else {
        this.#dechunk = new ChunkedScanner();
        close = true;
      }
    } else if (framing === 'close') close = true;
    if (close) s += 'connection: close\r\n';
    else if (this.minor === 0) s += 'connection: keep-alive\r\n';
    this.closeAfter = close;
    this.#head = s + '\r\n';
  }

  /**
   * Writes body bytes (as the framing given to writeHead). Returns false when the socket is backed up.
   * `chunk` may be a slice of a reused read buffer (http1/client.ts): it is copied, never kept.
   */
  write(chunk: Buffer): boolean {
    // A response to HEAD has no body (RFC 9110 9.3.2), whoever wrote one: the proxy's own answers
    // carry their Content-Length for HEAD as for GET, and body bytes here would desync the connection.
    if (this.finished || this.method === 'HEAD') return true;
    this.conn.t = sweepClock.now;
    if (this.#dechunk) {
      let ok = true;
      this.#dechunk.scan(chunk, 0, chunk.length, (data) => {
        ok = this.#write(data) && ok;
      });
      return ok;
    }
    return this.#write(chunk);
  }

  #write(chunk: Buffer): boolean {
    const head = this.#head;
    const socket = this.conn.socket;
    if (head === null) return socket.write(Buffer.from(chunk));
    this.#head = null;
    if (chunk.length <= COALESCE_LIMIT) {
      // Head and body in one buffer: one write, one syscall, one packet.
      const n = head.length;
      const out = Buffer.allocUnsafe(n + chunk.length);
      out.write(head, 0, n, 'latin1');
      chunk.copy(out, n);
      return socket.write(out);
    }
    socket.cork();
    socket.write(head, 'latin1');
    const ok = socket.write(Buffer.from(chunk));
    socket.uncork();
    return ok;
  }

  /** Ends the response (after writeHead). */
  end(chunk?: Buffer | string): void {
    if (this.finished) return;
    if (chunk !== undefined && chunk.length > 0) this.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    // No body, or one that decoded to nothing (an empty chunked body to an HTTP/1.0 client): the head alone.
    if (this.#head !== null) {
      this.conn.socket.write(this.#head, 'latin1');
      this.#head = null;
    }
    this.finished = true;
    this.onClose = null;
    this.onDrain = null;
    if (!this.bodyDone) {
      // The response is complete before the request body: the rest of it is dropped and the
      // connection closes, since the bytes still coming cannot be told from a next request.
      this.closeAfter = true;
      this.#discard = true;
      this.#pending = null;
      this.conn.resume();
    }
    this.conn.responseDone(this);
  }

  /** Aborts the response: the connection is cut (the only signal left once a status was sent). */
  destroy(): void {
    this.onClose = null;
    this.finished = true;
    this.conn.destroy();
  }
}

/** Does nothing: a listener or body reader that must exist but has nothing to do. */
export function noop(): void {}
