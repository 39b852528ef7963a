import { spawn, spawnSync } from 'node:child_process';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { UpstreamPool, type PoolOptions, type ResponseSink, type UpstreamCall, type UpstreamError } from '../../../src/proxy/http1/client.js';
import { Http1Server, type InRequest } from '../../../src/proxy/http1/server.js';
import { parseMessage, RawConn, type Message } from './raw-client.js';

/**
 * Direct tests of the upstream pool (src/proxy/http1/client.ts) against real `net` servers on
 * 127.0.0.1:0 whose every byte and close the test controls: connection reuse, limits, stale
 * keep-alives, and how each kind of failure reaches the sink. Every wait is bounded.
 */

interface SeenRequest {
  msg: Message;
  /** Which accepted connection carried it (0, 1, ... in accept order). */
  conn: number;
  sock: Socket;
}

/** A raw upstream: `respond` decides what bytes (or close) answer each request. */
class Upstream {
  readonly server: Server;
  readonly requests: SeenRequest[] = [];
  readonly sockets: Socket[] = [];
  /** Per accepted connection: it has closed. */
  readonly closed: boolean[] = [];
  port = 0;

  constructor(readonly respond: (r: SeenRequest, u: Upstream) => void) {
    this.server = createServer((sock) => {
      const id = this.sockets.length;
      this.sockets.push(sock);
      this.closed.push(false);
      sock.on('close', () => (this.closed[id] = true));
      sock.on('error', () => undefined);
      let buf = Buffer.alloc(0);
      sock.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        for (;;) {
          const got = parseMessage(buf, 'request');
          if (!got) break;
          buf = buf.subarray(got.used);
          const r = { msg: got.msg, conn: id, sock };
          this.requests.push(r);
          this.respond(r, this);
        }
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

const ok = (sock: Socket, body = 'ok', extra = ''): void => {
  sock.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n${extra}\r\n${body}`);
};

/** Records everything a call's sink hears, in order. */
class Sink implements ResponseSink {
  readonly events: string[] = [];
  status = 0;
  raw: string[] = [];
  framing = '';
  tokens: string[] | null = null;
  readonly chunks: Buffer[] = [];
  error: UpstreamError | undefined;
  #finish!: () => void;
  readonly finished = new Promise<void>((r) => (this.#finish = r));
  /** Called from onHead/onData, to act inside the callbacks (abort). */
  onEvent: ((what: string) => void) | undefined;

  onHead(status: number, raw: string[], framing: 'raw' | 'chunked' | 'close', tokens: string[] | null): void {
    this.events.push(`head ${status}`);
    this.status = status;
    this.raw = raw;
    this.framing = framing;
    this.tokens = tokens;
    this.onEvent?.('head');
  }
  onData(chunk: Buffer): void {
    this.events.push('data');
    this.chunks.push(Buffer.from(chunk));
    this.onEvent?.('data');
  }
  onEnd(): void {
    this.events.push('end');
    this.#finish();
  }
  onError(err: UpstreamError): void {
    this.events.push(`error ${err.phase}`);
    this.error = err;
    this.#finish();
  }
  get body(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }
  /** Waits (bounded) for onEnd or onError. */
  async done(ms = 3000): Promise<this> {
    await within(this.finished, ms, `the call to end (events so far: ${this.events.join(', ')})`);
    return this;
  }
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `cond` every 10 ms for at most `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function upstream(respond: (r: SeenRequest, u: Upstream) => void): Promise<Upstream> {
  const u = await new Upstream(respond).start();
  cleanup.push(() => u.close());
  return u;
}

function pool(port: number, opts: Partial<PoolOptions> = {}): UpstreamPool {
  const p = new UpstreamPool('127.0.0.1', port, { maxConnections: 0, connectTimeoutMs: 2000, idleTimeoutMs: 30_000, maxRequestsPerConnection: 0, ...opts });
  cleanup.push(() => within(p.close(), 3000, 'pool.close()'));
  return p;
}

const H = (path = '/'): string[] => ['host', 'up.local', 'x-path', path];

function get(p: UpstreamPool, path = '/', method = 'GET'): { call: UpstreamCall; sink: Sink } {
  const sink = new Sink();
  return { call: p.request(method, path, H(path), null, sink), sink };
}

describe('UpstreamPool: connection reuse and limits', () => {
  it('keep-alive: three sequential calls use one TCP connection', async () => {
    const u = await upstream((r) => ok(r.sock, `hi ${r.msg.start.split(' ')[1]}`));
    const p = pool(u.port);
    for (const path of ['/1', '/2', '/3']) {
      const { sink } = get(p, path);
      await sink.done();
      expect(sink.events).toEqual(['head 200', 'data', 'end']);
      expect(sink.body).toBe(`hi ${path}`);
    }
    expect(u.sockets).toHaveLength(1);
    expect(u.requests.map((r) => [r.msg.start, r.conn])).toEqual([
      ['GET /1 HTTP/1.1', 0],
      ['GET /2 HTTP/1.1', 0],
      ['GET /3 HTTP/1.1', 0],
    ]);
    expect(u.requests[0]!.msg.headers).toEqual([
      ['host', 'up.local'],
      ['x-path', '/1'],
    ]);
    expect(p.total).toBe(1);
    expect(p.idle).toHaveLength(1);
  });

  it('LIFO: the connection released last is the one reused', async () => {
    const u = await upstream((r) => {
      // /slow answers 60 ms later, so its connection goes back to the pool second.
      if (r.msg.start.includes('/slow')) setTimeout(() => ok(r.sock), 60);
      else ok(r.sock);
    });
    const p = pool(u.port);
    const fast = get(p, '/fast');
    const slow = get(p, '/slow');
    await Promise.all([fast.sink.done(), slow.sink.done()]);
    expect(u.sockets).toHaveLength(2);
    const slowConn = u.requests.find((r) => r.msg.start.includes('/slow'))!.conn;
    const fastConn = u.requests.find((r) => r.msg.start.includes('/fast'))!.conn;
    expect(slowConn).not.toBe(fastConn);
    const third = get(p, '/third');
    await third.sink.done();
    expect(u.requests.at(-1)!.conn).toBe(slowConn);
    // And the one released first is next.
    const fourth = get(p, '/fourth');
    const fifth = get(p, '/fifth');
    await Promise.all([fourth.sink.done(), fifth.sink.done()]);
    expect(u.sockets).toHaveLength(2);
  });

  it('maxConnections 2: the third call waits until one finishes, then takes its connection', async () => {
    const held: SeenRequest[] = [];
    const u = await upstream((r) => held.push(r));
    const p = pool(u.port, { maxConnections: 2 });
    const calls = [get(p, '/a'), get(p, '/b'), get(p, '/c')];
    await until(() => held.length === 2, 2000, 'two requests upstream');
    await sleep(50);
    expect(held).toHaveLength(2);
    expect(u.sockets).toHaveLength(2);
    expect(p.total).toBe(2);
    const first = held.find((r) => r.msg.start.includes('/a'))!;
    ok(first.sock);
    await calls[0]!.sink.done();
    await until(() => held.length === 3, 2000, 'the queued request');
    expect(held[2]!.msg.start).toBe('GET /c HTTP/1.1');
    expect(held[2]!.conn).toBe(first.conn);
    for (const r of held.slice(1)) ok(r.sock);
    await Promise.all(calls.map((c) => c.sink.done()));
    expect(u.sockets).toHaveLength(2);
    expect(calls.map((c) => c.sink.events.at(-1))).toEqual(['end', 'end', 'end']);
  });

  it('a queued call that is aborted never reaches the upstream', async () => {
    const held: SeenRequest[] = [];
    const u = await upstream((r) => held.push(r));
    const p = pool(u.port, { maxConnections: 1 });
    const a = get(p, '/a');
    const b = get(p, '/b');
    await until(() => held.length === 1, 2000, 'the first request');
    b.call.abort();
    ok(held[0]!.sock);
    await a.sink.done();
    await sleep(50);
    expect(held).toHaveLength(1);
    expect(b.sink.events).toEqual([]);
  });

  it('maxRequestsPerConnection 2: the connection closes after its second response; the third call opens another', async () => {
    const u = await upstream((r) => ok(r.sock));
    const p = pool(u.port, { maxRequestsPerConnection: 2 });
    for (const path of ['/1', '/2', '/3']) await get(p, path).sink.done();
    expect(u.requests.map((r) => r.conn)).toEqual([0, 0, 1]);
    await until(() => u.closed[0] === true, 2000, 'the first connection to close');
    expect(u.closed[1]).toBe(false);
    expect(p.total).toBe(1);
  });

  it('an idle connection is closed after idleTimeoutMs', async () => {
    const u = await upstream((r) => ok(r.sock));
    const p = pool(u.port, { idleTimeoutMs: 100 });
    await get(p).sink.done();
    expect(p.idle).toHaveLength(1);
    const t0 = Date.now();
    // The sweep runs on a coarse clock (up to 1 s ticks): closed within a few ticks, not at 100 ms sharp.
    await until(() => u.closed[0] === true, 3500, 'the idle connection to close');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    expect(p.idle).toHaveLength(0);
    expect(p.total).toBe(0);
    // The next call opens a fresh connection.
    await get(p).sink.done();
    expect(u.sockets).toHaveLength(2);
  });

  it('a server response with Connection: close is not reused', async () => {
    const u = await upstream((r) => ok(r.sock, 'ok', 'Connection: close\r\n'));
    const p = pool(u.port);
    await get(p).sink.done();
    await get(p).sink.done();
    expect(u.requests.map((r) => r.conn)).toEqual([0, 1]);
  });

  it('bytes after a complete response: delivered body is exact, the connection is not reused', async () => {
    const u = await upstream((r) => r.sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nevil'));
    const p = pool(u.port);
    const a = await get(p).sink.done();
    expect(a.body).toBe('ok');
    const b = await get(p).sink.done();
    expect(b.body).toBe('ok');
    expect(u.requests.map((r) => r.conn)).toEqual([0, 1]);
  });

  it('bytes after a complete bodyless (204) response: the connection is not reused', async () => {
    const u = await upstream((r) => {
      if (r.conn === 0) r.sock.write('HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nevil');
      else ok(r.sock);
    });
    const p = pool(u.port);
    const a = await get(p).sink.done();
    expect(a.events).toEqual(['head 204', 'end']);
    const b = await get(p).sink.done();
    expect(b.body).toBe('ok');
    expect(u.requests.map((r) => r.conn)).toEqual([0, 1]);
  });

  it('bytes from the server on an idle connection: that connection is dropped, not reused', async () => {
    const u = await upstream((r) => {
      ok(r.sock);
      if (r.conn === 0) setTimeout(() => r.sock.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nevil'), 30);
    });
    const p = pool(u.port);
    await get(p).sink.done();
    await until(() => u.closed[0] === true, 2000, 'the chatty idle connection to close');
    const b = await get(p).sink.done();
    expect(b.body).toBe('ok');
    expect(u.requests.at(-1)!.conn).toBe(1);
  });
});

describe('UpstreamPool: a kept-alive connection closed under a reused call', () => {
  /** Answers the first request on each connection; closes connection 0 when a second request arrives on it. */
  const closingUpstream = (): Promise<Upstream> =>
    upstream((r, u) => {
      const onConn = u.requests.filter((x) => x.conn === r.conn).length;
      if (r.conn === 0 && onConn === 2) r.sock.destroy();
      else ok(r.sock, `from ${r.conn}`);
    });

  it('GET is re-sent once on a fresh connection and succeeds', async () => {
    const u = await closingUpstream();
    const p = pool(u.port);
    await get(p, '/warm').sink.done();
    const again = await get(p, '/again').sink.done();
    expect(again.events).toEqual(['head 200', 'data', 'end']);
    expect(again.body).toBe('from 1');
    expect(u.requests.map((r) => [r.msg.start, r.conn])).toEqual([
      ['GET /warm HTTP/1.1', 0],
      ['GET /again HTTP/1.1', 0],
      ['GET /again HTTP/1.1', 1],
    ]);
  });

  it('a buffered body is re-sent byte for byte', async () => {
    const u = await closingUpstream();
    const p = pool(u.port);
    await get(p, '/warm').sink.done();
    const sink = new Sink();
    const body = Buffer.from('payload \xff\x00 bytes', 'latin1');
    p.request('POST', '/post', [...H('/post'), 'content-length', String(body.length)], body, sink);
    await sink.done();
    expect(sink.body).toBe('from 1');
    expect(u.requests).toHaveLength(3);
    expect(u.requests[2]!.msg.body.equals(body)).toBe(true);
  });

  it('not re-sent twice: a fresh connection that closes too fails the call with reset', async () => {
    const u = await upstream((r, u2) => {
      if (u2.requests.length === 1) ok(r.sock);
      else r.sock.destroy();
    });
    const p = pool(u.port);
    await get(p, '/warm').sink.done();
    const s = await get(p, '/x').sink.done();
    expect(s.events).toEqual(['error reset']);
    expect(u.requests).toHaveLength(3);
  });

  it('a streamed (downstream) body is not re-sent: the call fails with reset', async () => {
    const u = await closingUpstream();
    const p = pool(u.port);
    await get(p, '/warm').sink.done();
    // A real InRequest: a front Http1Server hands its request (body still streaming) to the pool.
    const sinks: Sink[] = [];
    const front = new Http1Server({ headersTimeoutMs: 5000, idleTimeoutMs: 5000, streamIdleTimeoutMs: 5000 }, (req: InRequest) => {
      const sink = new Sink();
      sinks.push(sink);
      p.request(req.method, req.url, [...H('/stream'), 'content-length', '10'], req, sink);
      void sink.finished.then(() => {
        req.writeHead(502, ['content-length', '0'], 'raw');
        req.end();
      });
    });
    cleanup.push(() => front.closeAll());
    const port = await front.listen(0, '127.0.0.1');
    const c = await RawConn.open(port);
    cleanup.push(() => c.destroy());
    await c.write('POST /stream HTTP/1.1\r\nHost: f\r\nContent-Length: 10\r\n\r\n0123456789');
    await until(() => sinks.length === 1, 2000, 'the front request');
    await sinks[0]!.done();
    expect(sinks[0]!.events).toEqual(['error reset']);
    expect(u.sockets).toHaveLength(1);
    expect(u.requests.map((r) => r.msg.start)).toEqual(['GET /warm HTTP/1.1', 'POST /stream HTTP/1.1']);
  });
});

describe('UpstreamPool: failures reach the sink with their phase', () => {
  it('connection refused -> connect, ECONNREFUSED', async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    const p = pool(port);
    const sink = await get(p).sink.done();
    expect(sink.events).toEqual(['error connect']);
    expect(sink.error!.code).toBe('ECONNREFUSED');
    expect(p.total).toBe(0);
  });

  // Loopback never drops a SYN unless a listener's accept queue is full: a python3 listener that never
  // accepts (backlog 0) fills with one connection, and the next connect hangs. Node cannot listen without
  // accepting, so without python3 this case is skipped.
  const hasPython = spawnSync('python3', ['-c', 'pass'], { timeout: 5000 }).status === 0;
  it.runIf(hasPython)('connect timeout -> connect, ETIMEDOUT, after about connectTimeoutMs', async () => {
    const py = spawn('python3', ['-c', 'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()'], { stdio: ['pipe', 'pipe', 'inherit'] });
    cleanup.push(() => py.kill());
    const port = await within(new Promise<number>((r) => py.stdout.once('data', (d: Buffer) => r(Number(d.toString().trim())))), 5000, 'python3 listener');
    // Fill the accept queue.
    const filler = connect(port, '127.0.0.1');
    filler.on('error', () => undefined);
    cleanup.push(() => filler.destroy());
    await within(new Promise((r) => filler.once('connect', r)), 2000, 'the filler connection');
    const p = pool(port, { connectTimeoutMs: 150 });
    const t0 = Date.now();
    const sink = await get(p).sink.done();
    expect(sink.events).toEqual(['error connect']);
    expect(sink.error!.code).toBe('ETIMEDOUT');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  it('reset mid-head -> reset, no onHead', async () => {
    const u = await upstream((r) => r.sock.end('HTTP/1.1 200 OK\r\ncontent-le'));
    const sink = await get(pool(u.port)).sink.done();
    expect(sink.events).toEqual(['error reset']);
    expect(sink.error!.message).toContain('mid-head');
  });

  it('closed before any byte of the response (first use) -> reset', async () => {
    const u = await upstream((r) => r.sock.destroy());
    const sink = await get(pool(u.port)).sink.done();
    expect(sink.events).toEqual(['error reset']);
    expect(sink.error!.message).toContain('before responding');
    expect(u.requests).toHaveLength(1);
  });

  it('reset mid-body -> reset after onHead and the bytes that came', async () => {
    const u = await upstream((r) => r.sock.end('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n012'));
    const sink = await get(pool(u.port)).sink.done();
    expect(sink.events).toEqual(['head 200', 'data', 'error reset']);
    expect(sink.body).toBe('012');
    expect(sink.error!.message).toContain('mid-response');
  });

  it('reset mid-chunked-body -> reset after onHead', async () => {
    const u = await upstream((r) => r.sock.end('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nab'));
    const sink = await get(pool(u.port)).sink.done();
    expect(sink.events[0]).toBe('head 200');
    expect(sink.events.at(-1)).toBe('error reset');
    expect(sink.framing).toBe('chunked');
  });

  const garbage: [string, string][] = [
    ['not HTTP', 'SSH-2.0-OpenSSH_9.6\r\n\r\n'],
    ['a bad status line', 'HTTP/1.1 OK 200\r\ncontent-length: 0\r\n\r\n'],
    ['conflicting Content-Length', 'HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab'],
    ['Content-Length with Transfer-Encoding', 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['101 Switching Protocols', 'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n'],
    ['a head over 16 KiB', `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(17 * 1024)}`],
  ];
  for (const [what, bytes] of garbage) {
    it(`${what} -> protocol, no onHead, the connection closed`, async () => {
      const u = await upstream((r) => r.sock.write(bytes));
      const sink = await get(pool(u.port)).sink.done();
      expect(sink.events).toEqual(['error protocol']);
      await until(() => u.closed[0] === true, 2000, 'the connection to close');
    });
  }

  it('a malformed chunk size mid-body -> protocol after onHead', async () => {
    const u = await upstream((r) => r.sock.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n'));
    const sink = await get(pool(u.port)).sink.done();
    expect(sink.events).toEqual(['head 200', 'error protocol']);
  });

  it('a pool that is closed answers new calls with connect EPOOLCLOSED', async () => {
    const p = pool(1);
    await p.close();
    const sink = await get(p).sink.done();
    expect(sink.events).toEqual(['error connect']);
    expect(sink.error!.code).toBe('EPOOLCLOSED');
  });
});

describe('UpstreamPool: response framing', () => {
  it('close-delimited body: onHead(close), every byte, onEnd on close; the connection is not kept', async () => {
    const u = await upstream((r) => {
      r.sock.write('HTTP/1.1 200 OK\r\n\r\nfirst ');
      setTimeout(() => r.sock.end('second'), 20);
    });
    const p = pool(u.port);
    const sink = await get(p).sink.done();
    expect(sink.framing).toBe('close');
    expect(sink.body).toBe('first second');
    expect(sink.events.at(-1)).toBe('end');
    expect(p.total).toBe(0);
    expect(p.idle).toHaveLength(0);
  });

  it('chunked body: passed through in its chunked form, ends at the last chunk, connection reused', async () => {
    const chunked = '3\r\nabc\r\n0\r\nx-t: 1\r\n\r\n';
    const u = await upstream((r) => {
      r.sock.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: x-hop\r\n\r\n3\r\nab');
      setTimeout(() => r.sock.write(chunked.slice('3\r\nab'.length)), 20);
    });
    const p = pool(u.port);
    const a = await get(p).sink.done();
    expect(a.framing).toBe('chunked');
    expect(a.tokens).toEqual(['x-hop']);
    expect(a.body).toBe(chunked);
    await get(p).sink.done();
    expect(u.sockets).toHaveLength(1);
  });

  it('Content-Length body split across writes arrives whole', async () => {
    const u = await upstream((r) => {
      r.sock.write('HTTP/1.1 200 OK\r\ncontent-');
      setTimeout(() => r.sock.write('length: 6\r\n\r\nab'), 10);
      setTimeout(() => r.sock.write('cdef'), 30);
    });
    const sink = await get(pool(u.port)).sink.done();
    expect(sink.raw).toEqual(['content-length', '6']);
    expect(sink.body).toBe('abcdef');
    expect(sink.framing).toBe('raw');
  });

  for (const [what, method, head] of [
    ['HEAD with Content-Length', 'HEAD', 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n'],
    ['204', 'GET', 'HTTP/1.1 204 No Content\r\n\r\n'],
    ['304 with Content-Length', 'GET', 'HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n'],
  ] as const) {
    it(`${what}: no body, onEnd right after onHead, the connection reused`, async () => {
      const u = await upstream((r) => {
        if (r.msg.start.startsWith('GET /next')) ok(r.sock, 'next');
        else r.sock.write(head);
      });
      const p = pool(u.port);
      const a = await get(p, '/', method).sink.done();
      expect(a.events).toEqual([`head ${a.status}`, 'end']);
      const b = await get(p, '/next').sink.done();
      expect(b.body).toBe('next');
      expect(u.sockets).toHaveLength(1);
    });
  }

  it('100 Continue and 103 Early Hints are skipped, in one write or apart', async () => {
    const u = await upstream((r) => {
      if (r.conn === 0) r.sock.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      else {
        r.sock.write('HTTP/1.1 100 Continue\r\n\r\n');
        setTimeout(() => ok(r.sock, 'late'), 20);
      }
    });
    const p = pool(u.port);
    const a = await get(p).sink.done();
    expect(a.events).toEqual(['head 200', 'data', 'end']);
    expect(a.body).toBe('ok');
    // A second concurrent call gets its own connection.
    const b = get(p);
    const c = get(p);
    await Promise.all([b.sink.done(), c.sink.done()]);
    const late = [b.sink, c.sink].find((s) => s.body === 'late')!;
    expect(late.events).toEqual(['head 200', 'data', 'end']);
  });
});

describe('UpstreamPool: the shared read buffer and flow control', () => {
  it('two connections with heads split across reads, interleaved: each call gets its own exact response', async () => {
    const socks: Socket[] = [];
    const u = await upstream((r) => socks.push(r.sock));
    const p = pool(u.port);
    const a = get(p, '/a');
    const b = get(p, '/b');
    await until(() => socks.length === 2, 2000, 'both requests');
    const [sa, sb] = [u.requests.find((r) => r.msg.start.includes('/a'))!.sock, u.requests.find((r) => r.msg.start.includes('/b'))!.sock];
    // Each step waits a little so every write is its own read on the client.
    const steps: [Socket, string][] = [
      [sa, 'HTTP/1.1 200 OK\r\nx-who: aaaa'],
      [sb, 'HTTP/1.1 201 Created\r\nx-who: bbbbbbbb'],
      [sa, 'aaaa\r\ncontent-length: 6\r\n\r\nAAA'],
      [sb, 'bbbb\r\ncontent-length: 4\r\n\r\nBB'],
      [sa, 'AAA'],
      [sb, 'BB'],
    ];
    for (const [sock, bytes] of steps) {
      sock.write(bytes);
      await sleep(15);
    }
    await Promise.all([a.sink.done(), b.sink.done()]);
    expect([a.sink.status, a.sink.raw, a.sink.body]).toEqual([200, ['x-who', 'aaaaaaaa', 'content-length', '6'], 'AAAAAA']);
    expect([b.sink.status, b.sink.raw, b.sink.body]).toEqual([201, ['x-who', 'bbbbbbbbbbbb', 'content-length', '4'], 'BBBB']);
  });

  it('a 1 MiB body (many reads of the shared buffer) arrives byte-exact', async () => {
    const big = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 131 + (i >> 12)) & 0xff;
    const u = await upstream((r) => {
      r.sock.write(`HTTP/1.1 200 OK\r\ncontent-length: ${big.length}\r\n\r\n`);
      r.sock.write(big);
    });
    const sink = await get(pool(u.port)).sink.done(5000);
    expect(Buffer.concat(sink.chunks).equals(big)).toBe(true);
  });

  it('pause() stops onData until resume(); the rest then arrives', async () => {
    const u = await upstream((r) => {
      r.sock.write('HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nabc');
      setTimeout(() => r.sock.write('def'), 40);
    });
    const { call, sink } = get(pool(u.port));
    await until(() => sink.events.includes('data'), 2000, 'the first body bytes');
    call.pause();
    await sleep(150);
    expect(sink.events).toEqual(['head 200', 'data']);
    call.resume();
    await sink.done();
    expect(sink.body).toBe('abcdef');
  });
});

describe('UpstreamCall.abort and UpstreamPool.close', () => {
  it('abort() mid-response closes the socket and the sink hears nothing more', async () => {
    let upSock: Socket | undefined;
    const u = await upstream((r) => {
      upSock = r.sock;
      r.sock.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nfirst');
    });
    const p = pool(u.port);
    const { call, sink } = get(p);
    await until(() => sink.events.includes('data'), 2000, 'the first body bytes');
    call.abort();
    expect(call.done).toBe(true);
    await until(() => u.closed[0] === true, 2000, 'the upstream to see the close');
    // Whatever the server still tries to send goes nowhere.
    upSock!.write('more');
    await sleep(50);
    expect(sink.events).toEqual(['head 200', 'data']);
    expect(p.total).toBe(0);
  });

  it('abort() from inside onHead: no onData or onEnd follow', async () => {
    const u = await upstream((r) => ok(r.sock, 'body in the same packet'));
    const p = pool(u.port);
    const { call, sink } = get(p);
    sink.onEvent = (what) => {
      if (what === 'head') call.abort();
    };
    await until(() => u.closed[0] === true, 2000, 'the connection to close');
    await sleep(30);
    expect(sink.events).toEqual(['head 200']);
  });

  it('close() closes idle connections at once and resolves only after the busy call ends', async () => {
    const held: SeenRequest[] = [];
    const u = await upstream((r) => {
      if (r.msg.start.includes('/quick')) ok(r.sock);
      else held.push(r);
    });
    const p = pool(u.port);
    await Promise.all([get(p, '/quick').sink.done(), get(p, '/quick').sink.done()]);
    expect(p.idle).toHaveLength(2);
    const busy = get(p, '/busy');
    await until(() => held.length === 1, 2000, 'the busy request');
    let closed = false;
    const closing = p.close().then(() => (closed = true));
    const idleConn = 1 - held[0]!.conn;
    await until(() => u.closed[idleConn] === true, 2000, 'the idle connection to close');
    await sleep(50);
    expect(closed).toBe(false);
    expect(u.closed[held[0]!.conn]).toBe(false);
    ok(held[0]!.sock, 'finished');
    await busy.sink.done();
    expect(busy.sink.events).toEqual(['head 200', 'data', 'end']);
    expect(busy.sink.body).toBe('finished');
    await within(closing, 2000, 'pool.close()');
    expect(p.total).toBe(0);
    // The busy connection is not kept after its call: the pool is closed.
    await until(() => u.closed.every(Boolean), 2000, 'every upstream connection to close');
  });

  it('close() fails queued calls with connect EPOOLCLOSED at once', async () => {
    const held: SeenRequest[] = [];
    const u = await upstream((r) => held.push(r));
    const p = pool(u.port, { maxConnections: 1 });
    const busy = get(p, '/busy');
    await until(() => held.length === 1, 2000, 'the busy request');
    const queued = [get(p, '/q1'), get(p, '/q2')];
    const closing = p.close();
    for (const q of queued) {
      expect(q.sink.events).toEqual(['error connect']);
      expect(q.sink.error!.code).toBe('EPOOLCLOSED');
    }
    ok(held[0]!.sock);
    await busy.sink.done();
    await within(closing, 2000, 'pool.close()');
    expect(held).toHaveLength(1);
  });
});
