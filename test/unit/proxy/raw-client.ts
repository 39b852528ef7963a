import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * Byte-exact HTTP/1.1 on raw sockets, for the conformance suite: a client connection that parses
 * responses itself (so framing the proxy gets wrong is seen, not smoothed over by node:http), and
 * an upstream server that records the exact bytes it receives and answers with exact bytes.
 * Every wait is bounded.
 */

export interface Message {
  /** Status line (responses) or request line (requests), without CRLF. */
  start: string;
  status: number;
  /** Header pairs as received, names in their received case. */
  headers: [string, string][];
  body: Buffer;
  /** Trailer pairs of a chunked body. */
  trailers: [string, string][];
  /** 'length', 'chunked', 'close' (read to EOF) or 'none'. */
  framing: 'length' | 'chunked' | 'close' | 'none';
}

export const header = (m: Message, name: string): string | undefined => m.headers.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
export const headerAll = (m: Message, name: string): string[] => m.headers.filter(([k]) => k.toLowerCase() === name.toLowerCase()).map(([, v]) => v);

class Incomplete extends Error {}

/**
 * Parses one message from the start of `buf`. Returns it and the bytes it used, or undefined when
 * more bytes are needed. `eof` says the peer closed (completes a close-delimited body).
 * Framing as RFC 9112 section 6.3: no body for HEAD responses, 1xx, 204, 304.
 */
export function parseMessage(buf: Buffer, kind: 'request' | 'response', opts: { method?: string; eof?: boolean } = {}): { msg: Message; used: number } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const start = lines[0]!;
  const headers: [string, string][] = lines.slice(1).map((l) => {
    const c = l.indexOf(':');
    return [l.slice(0, c), l.slice(c + 1).trim()];
  });
  const status = kind === 'response' ? Number(start.split(' ')[1]) : 0;
  const msg: Message = { start, status, headers, body: Buffer.alloc(0), trailers: [], framing: 'none' };
  let pos = end + 4;
  const te = headerAll(msg, 'transfer-encoding').join(',').toLowerCase();
  const cl = header(msg, 'content-length');
  const noBody = kind === 'response' && (opts.method === 'HEAD' || (status >= 100 && status < 200) || status === 204 || status === 304);
  if (noBody) return { msg, used: pos };
  if (te.includes('chunked')) {
    msg.framing = 'chunked';
    const parts: Buffer[] = [];
    try {
      for (;;) {
        const le = buf.indexOf('\r\n', pos);
        if (le < 0) throw new Incomplete();
        const size = parseInt(buf.subarray(pos, le).toString('latin1').split(';')[0]!, 16);
        pos = le + 2;
        if (size === 0) {
          for (;;) {
            const te2 = buf.indexOf('\r\n', pos);
            if (te2 < 0) throw new Incomplete();
            const line = buf.subarray(pos, te2).toString('latin1');
            pos = te2 + 2;
            if (line === '') break;
            const c = line.indexOf(':');
            msg.trailers.push([line.slice(0, c), line.slice(c + 1).trim()]);
          }
          break;
        }
        if (buf.length < pos + size + 2) throw new Incomplete();
        parts.push(buf.subarray(pos, pos + size));
        pos += size + 2;
      }
    } catch (e) {
      if (e instanceof Incomplete) return undefined;
      throw e;
    }
    msg.body = Buffer.concat(parts);
    return { msg, used: pos };
  }
  if (cl !== undefined) {
    msg.framing = 'length';
    const n = Number(cl);
    if (buf.length < pos + n) return undefined;
    msg.body = Buffer.from(buf.subarray(pos, pos + n));
    return { msg, used: pos + n };
  }
  if (kind === 'request') return { msg, used: pos };
  msg.framing = 'close';
  if (!opts.eof) return undefined;
  msg.body = Buffer.from(buf.subarray(pos));
  return { msg, used: buf.length };
}

/** A client connection with its own byte buffer. */
export class RawConn {
  readonly socket: Socket;
  #buf = Buffer.alloc(0);
  #eof = false;
  #closed = false;
  #wake: (() => void) | undefined;
  /** Every byte received, for assertions on exact framing. */
  received = Buffer.alloc(0);

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      this.received = Buffer.concat([this.received, d]);
      this.#wake?.();
    });
    socket.on('end', () => {
      this.#eof = true;
      this.#wake?.();
    });
    socket.on('close', () => {
      this.#eof = true;
      this.#closed = true;
      this.#wake?.();
    });
    socket.on('error', () => undefined);
  }

  static open(port: number): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new RawConn(s)));
      s.setNoDelay(true);
      s.once('error', reject);
    });
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(data, (err) => (err ? reject(err) : resolve())));
  }

  get eof(): boolean {
    return this.#eof;
  }

  async #waitUntil(ok: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!ok()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}; received so far: ${JSON.stringify(this.#buf.toString('latin1').slice(0, 300))}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.#wake = () => {
          clearTimeout(t);
          r();
        };
      });
      this.#wake = undefined;
    }
  }

  /** Reads the next response; an interim 1xx is returned like any other, so callers loop past it. */
  async response(opts: { method?: string; timeoutMs?: number } = {}): Promise<Message> {
    let got: { msg: Message; used: number } | undefined;
    await this.#waitUntil(
      () => {
        got = parseMessage(this.#buf, 'response', { ...opts, eof: this.#eof });
        return !!got || (this.#eof && this.#buf.length === 0);
      },
      opts.timeoutMs ?? 5000,
      'a response',
    );
    if (!got) throw new Error('connection closed before a response');
    this.#buf = this.#buf.subarray(got.used);
    return got.msg;
  }

  /** Whether the peer closes the connection within `ms` (nothing more is read). */
  async closesWithin(ms = 2000): Promise<boolean> {
    try {
      await this.#waitUntil(() => this.#eof, ms, 'close');
      return true;
    } catch {
      return false;
    }
  }

  /** Bytes received and not parsed yet. */
  get pending(): Buffer {
    return this.#buf;
  }

  /** Waits until at least `n` unparsed bytes are buffered, or EOF. */
  async waitBytes(n: number, ms = 5000): Promise<Buffer> {
    await this.#waitUntil(() => this.#buf.length >= n || this.#eof, ms, `${n} bytes`);
    return this.#buf;
  }

  destroy(): void {
    if (!this.#closed) this.socket.destroy();
  }
}

/** Opens a connection, writes `text`, reads one response. */
export async function exchange(port: number, text: string | Buffer, opts: { method?: string; timeoutMs?: number } = {}): Promise<{ res: Message; conn: RawConn }> {
  const conn = await RawConn.open(port);
  await conn.write(text);
  const res = await conn.response(opts);
  return { res, conn };
}

export interface RawRequest {
  msg: Message;
  /** The exact bytes of this request on the wire. */
  raw: Buffer;
}

export interface RawUpstream {
  port: number;
  /** Every complete request received, in order. */
  requests: RawRequest[];
  /** Every byte received over all connections (a hostile request that reached it shows here). */
  bytes(): number;
  connections: number;
  close(): Promise<void>;
}

/**
 * An upstream on raw `net`: `respond` is called once per complete request with the socket, and
 * writes whatever bytes it likes (exact framing, split writes, or a close).
 */
export async function rawUpstream(respond: (sock: Socket, req: RawRequest) => void | Promise<void>): Promise<RawUpstream> {
  const requests: RawRequest[] = [];
  const sockets = new Set<Socket>();
  let total = 0;
  let connections = 0;
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    connections++;
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    // One request at a time per connection, as undici sends them (pipelining 1).
    let busy = Promise.resolve();
    sock.on('data', (d: Buffer) => {
      total += d.length;
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const got = parseMessage(buf, 'request');
        if (!got) break;
        const req: RawRequest = { msg: got.msg, raw: Buffer.from(buf.subarray(0, got.used)) };
        buf = buf.subarray(got.used);
        requests.push(req);
        busy = busy.then(() => respond(sock, req)).catch(() => undefined);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const u: RawUpstream = {
    port: (server.address() as AddressInfo).port,
    requests,
    bytes: () => total,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  return u;
}
