import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Http1Server, type Http1ServerOptions, type InRequest } from '../../../src/proxy/http1/server.js';
import { header, RawConn } from './raw-client.js';

/**
 * Direct tests of the downstream server (src/proxy/http1/server.ts) with a tiny handler instead of the
 * whole proxy: pipelining order, split heads, the three timeouts, body streaming, early responses,
 * draining, and chunked-to-HTTP/1.0 decoding. Raw client sockets on 127.0.0.1, every wait bounded.
 */

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const LONG: Http1ServerOptions = { headersTimeoutMs: 10_000, idleTimeoutMs: 10_000, streamIdleTimeoutMs: 10_000 };

async function serve(handler: (req: InRequest) => void, opts: Partial<Http1ServerOptions> = {}): Promise<{ server: Http1Server; port: number }> {
  const server = new Http1Server({ ...LONG, ...opts }, handler);
  cleanup.push(() => server.closeAll());
  const port = await server.listen(0, '127.0.0.1');
  return { server, port };
}

async function open(port: number): Promise<RawConn> {
  const c = await RawConn.open(port);
  cleanup.push(() => c.destroy());
  return c;
}

const reply = (req: InRequest, body: string, status = 200): void => {
  req.writeHead(status, ['content-length', String(Buffer.byteLength(body))], 'raw');
  req.end(body);
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

describe('Http1Server: request heads', () => {
  it('pipelined requests in one write: answered in order, one handler call at a time', async () => {
    let active = 0;
    let maxActive = 0;
    const seen: string[] = [];
    const { port } = await serve((req) => {
      active++;
      maxActive = Math.max(maxActive, active);
      seen.push(req.url);
      // The first answers last in time: order must still hold.
      const delay = req.url === '/1' ? 60 : req.url === '/2' ? 20 : 0;
      setTimeout(() => {
        active--;
        reply(req, `body of ${req.url}`);
      }, delay);
    });
    const c = await open(port);
    await c.write('GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nPOST /3 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nGET GET /4 HTTP/1.1\r\nHost: a\r\n\r\n');
    const bodies: string[] = [];
    for (let i = 0; i < 4; i++) bodies.push((await c.response()).body.toString());
    expect(bodies).toEqual(['body of /1', 'body of /2', 'body of /3', 'body of /4']);
    expect(seen).toEqual(['/1', '/2', '/3', '/4']);
    expect(maxActive).toBe(1);
  });

  it('a head split across many writes is parsed once, whole', async () => {
    const heads: { method: string; url: string; raw: string[]; authority: string; minor: number }[] = [];
    const { port } = await serve((req) => {
      heads.push({ method: req.method, url: req.url, raw: req.raw, authority: req.authority, minor: req.minor });
      reply(req, 'ok');
    });
    const c = await open(port);
    for (const piece of ['GE', 'T /p?q=1 HT', 'TP/1.1\r', '\nHo', 'st: a.local\r\nX-Y:  z \r', '\n\r', '\n']) {
      await c.write(piece);
      await sleep(5);
    }
    expect((await c.response()).body.toString()).toBe('ok');
    expect(heads).toEqual([{ method: 'GET', url: '/p?q=1', raw: ['Host', 'a.local', 'X-Y', 'z'], authority: 'a.local', minor: 1 }]);
  });

  it('empty lines before a request line are ignored (RFC 9112 2.2)', async () => {
    const { port } = await serve((req) => reply(req, req.url));
    const c = await open(port);
    await c.write('\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n');
    expect((await c.response()).body.toString()).toBe('/x');
  });

  it('absolute-form target: authority from the target, url reduced to the path', async () => {
    const got: string[] = [];
    const { port } = await serve((req) => {
      got.push(`${req.authority} ${req.url}`);
      reply(req, 'ok');
    });
    const c = await open(port);
    await c.write('GET http://other.local:81/a/b?c HTTP/1.1\r\nHost: a\r\n\r\nGET HTTP://bare.local HTTP/1.1\r\nHost: a\r\n\r\n');
    await c.response();
    await c.response();
    expect(got).toEqual(['other.local:81 /a/b?c', 'bare.local /']);
  });

  it('a malformed head gets its status, the handler is not called, and the connection closes', async () => {
    let calls = 0;
    const { port } = await serve(() => calls++);
    const c = await open(port);
    await c.write('GET / HTTP/2.0\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n');
    const res = await c.response();
    expect(res.status).toBe(505);
    expect(header(res, 'connection')).toBe('close');
    expect(await c.closesWithin(2000)).toBe(true);
    expect(calls).toBe(0);
  });
});

describe('Http1Server: timeouts', () => {
  it('header timeout: a head not complete in time gets 408 and a close', async () => {
    let calls = 0;
    const { port } = await serve(() => calls++, { headersTimeoutMs: 150 });
    const c = await open(port);
    const t0 = Date.now();
    await c.write('GET / HTTP/1.1\r\nHost: a\r\n');
    const res = await c.response({ timeoutMs: 3000 });
    expect(res.status).toBe(408);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(await c.closesWithin(2000)).toBe(true);
    expect(calls).toBe(0);
  });

  it('header timeout on a kept-alive connection runs from the first byte of the next request', async () => {
    const { port } = await serve((req) => reply(req, 'ok'), { headersTimeoutMs: 300, idleTimeoutMs: 10_000 });
    const c = await open(port);
    await c.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await c.response();
    // Idle well past the header timeout: an idle connection is not a slow head.
    await sleep(500);
    expect(c.eof).toBe(false);
    const t0 = Date.now();
    await c.write('GET / HT');
    const res = await c.response({ timeoutMs: 3000 });
    expect(res.status).toBe(408);
    // Not at once (the idle time does not count), and not before the timeout.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
  });

  it('a connection that never sends a byte is closed silently after the header timeout', async () => {
    const { port } = await serve(() => undefined, { headersTimeoutMs: 150 });
    const c = await open(port);
    expect(await c.closesWithin(3000)).toBe(true);
    expect(c.received.length).toBe(0);
  });

  it('idle timeout: a kept-alive connection with no request is closed silently', async () => {
    const { server, port } = await serve((req) => reply(req, 'ok'), { idleTimeoutMs: 150 });
    const c = await open(port);
    await c.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    const res = await c.response();
    expect(header(res, 'connection')).toBeUndefined();
    const after = c.received.length;
    const t0 = Date.now();
    expect(await c.closesWithin(3000)).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
    expect(c.received.length).toBe(after);
    await until(() => server.conns.size === 0, 1000, 'the server to forget the connection');
  });

  it('0 means no limit: a connection quiet past several sweeps is still served, and kept after', async () => {
    const { server, port } = await serve((req) => reply(req, 'ok'), { headersTimeoutMs: 0, idleTimeoutMs: 0 });
    const c = await open(port);
    await sleep(300); // six sweeps
    await c.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    expect((await c.response()).status).toBe(200);
    await sleep(300);
    expect(server.conns.size).toBe(1);
  });

  it('idle timeout starts once a large response has left: a slow reader still gets all of it', { timeout: 20_000 }, async () => {
    const body = Buffer.alloc(48 * 1024 * 1024, 0x61); // well past what loopback socket buffers hold
    const { port } = await serve(
      (req) => {
        req.writeHead(200, ['content-length', String(body.length)], 'raw');
        req.end(body);
      },
      { headersTimeoutMs: 500, idleTimeoutMs: 100 },
    );
    const sock = connect(port, '127.0.0.1');
    cleanup.push(() => sock.destroy());
    await new Promise((r) => sock.once('connect', r));
    sock.pause();
    let received = 0;
    let closed = false;
    sock.on('data', (d: Buffer) => (received += d.length));
    sock.on('close', () => (closed = true));
    sock.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    // The response is complete on the server's side at once; the client reads nothing for 5 idle timeouts.
    await sleep(500);
    sock.resume();
    await until(() => received >= body.length || closed, 10_000, 'the body or a close');
    expect(received).toBeGreaterThanOrEqual(body.length);
    // Then the idle timeout applies as usual.
    await until(() => closed, 3000, 'the idle close');
  });

  it('stream idle timeout: a request with nothing moving is cut and the handler hears onClose', async () => {
    let closedReq = false;
    const { port } = await serve(
      (req) => {
        req.onClose = () => (closedReq = true);
      },
      { streamIdleTimeoutMs: 150 },
    );
    const c = await open(port);
    await c.write('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n01');
    expect(await c.closesWithin(3000)).toBe(true);
    expect(c.received.length).toBe(0);
    await until(() => closedReq, 1000, 'onClose');
  });
});

describe('Http1Server: request bodies', () => {
  it('readBody streams a Content-Length body as it arrives; bytes that came first are delivered at once', async () => {
    const events: string[] = [];
    const { port } = await serve((req) => {
      // Read only after a while: what arrived meanwhile is handed over synchronously first.
      setTimeout(() => {
        req.readBody(
          (chunk) => events.push(chunk.toString()),
          () => {
            events.push('END');
            reply(req, events.join('|'));
          },
        );
        events.push('readBody returned');
      }, 50);
    });
    const c = await open(port);
    await c.write('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\nabc');
    await sleep(100);
    await c.write('def');
    await sleep(30);
    await c.write('ghi');
    const res = await c.response();
    expect(res.body.toString()).toBe('abc|readBody returned|def|ghi|END');
  });

  it('collectBody of a chunked request gives the body as received (still chunk-encoded); the next request follows', async () => {
    const bodies: string[] = [];
    const { port } = await serve((req) => {
      req.collectBody((body) => {
        bodies.push(body.toString('latin1'));
        reply(req, `${req.url} ${body.length}`);
      });
    });
    const c = await open(port);
    const chunked = '3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nx-trailer: t\r\n\r\n';
    await c.write(`POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${chunked.slice(0, 10)}`);
    await sleep(20);
    await c.write(chunked.slice(10));
    expect((await c.response()).body.toString()).toBe(`/c ${chunked.length}`);
    await c.write('GET /after HTTP/1.1\r\nHost: a\r\n\r\n');
    expect((await c.response()).body.toString()).toBe('/after 0');
    expect(bodies).toEqual([chunked, '']);
  });

  // Regression: responseDone ran inside feedBody while `buf` was still null, and the rest was stored afterwards without a parse.
  it('a request pipelined right behind a body is answered when the handler replies inside onEnd', async () => {
    const { port } = await serve((req) => req.collectBody((b) => reply(req, `${req.url} ${b.toString()}`)));
    const c = await open(port);
    await c.write('POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\nabc');
    await sleep(30);
    await c.write('defGET /b HTTP/1.1\r\nHost: a\r\n\r\n');
    expect((await c.response()).body.toString()).toBe('/a abcdef');
    expect((await c.response({ timeoutMs: 1000 })).body.toString()).toBe('/b ');
  });

  it('the same pipelined request is answered when the handler replies asynchronously', async () => {
    const { port } = await serve((req) => req.collectBody((b) => setTimeout(() => reply(req, `${req.url} ${b.toString()}`), 5)));
    const c = await open(port);
    await c.write('POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\nabc');
    await sleep(30);
    await c.write('defGET /b HTTP/1.1\r\nHost: a\r\n\r\n');
    expect((await c.response()).body.toString()).toBe('/a abcdef');
    expect((await c.response({ timeoutMs: 1000 })).body.toString()).toBe('/b ');
  });

  it('a malformed chunk mid-body closes the connection', async () => {
    let closed = false;
    const { port } = await serve((req) => {
      req.onClose = () => (closed = true);
      req.readBody(
        () => undefined,
        () => undefined,
      );
    });
    const c = await open(port);
    await c.write('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n');
    await sleep(20);
    await c.write('zz\r\n');
    expect(await c.closesWithin(2000)).toBe(true);
    await until(() => closed, 1000, 'onClose');
  });

  it('a response written before the body finished says connection: close, the rest of the body is dropped, the connection closes', async () => {
    let calls = 0;
    const { port } = await serve((req) => {
      calls++;
      reply(req, 'early', 413);
    });
    const c = await open(port);
    await c.write('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 20\r\n\r\n01234');
    const res = await c.response();
    expect(res.status).toBe(413);
    expect(header(res, 'connection')).toBe('close');
    // The rest of the body looks like a request: it must not be taken for one.
    await c.write('GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n'.slice(0, 15)).catch(() => undefined);
    expect(await c.closesWithin(2000)).toBe(true);
    expect(c.pending.length).toBe(0);
    expect(calls).toBe(1);
  });

  it('Expect: 100-continue on HTTP/1.1 gets an interim 100 before the handler reads the body', async () => {
    const { port } = await serve((req) => req.collectBody((b) => reply(req, b.toString())));
    const c = await open(port);
    await c.write('POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n');
    expect((await c.response()).status).toBe(100);
    await c.write('hi');
    expect((await c.response()).body.toString()).toBe('hi');
  });
});

describe('Http1Server: responses and draining', () => {
  it('HTTP/1.0 client and writeHead(..., "chunked"): the decoded body, no Transfer-Encoding, then a close', async () => {
    const { port } = await serve((req) => {
      req.writeHead(200, ['content-type', 'text/plain'], 'chunked');
      req.write(Buffer.from('5\r\nhel'));
      req.write(Buffer.from('lo\r\n6;e=1\r\n world\r\n'));
      req.end(Buffer.from('0\r\nx-t: 1\r\n\r\n'));
    });
    const c = await open(port);
    await c.write('GET / HTTP/1.0\r\n\r\n');
    const res = await c.response();
    expect(res.framing).toBe('close');
    expect(res.body.toString()).toBe('hello world');
    expect(header(res, 'transfer-encoding')).toBeUndefined();
    expect(header(res, 'connection')).toBe('close');
    expect(c.eof).toBe(true);
  });

  // Regression: an empty chunked body decoded to no data, so the head was never written.
  it('HTTP/1.0 client and an empty chunked body: still a 200 head, then a close', async () => {
    const { port } = await serve((req) => {
      req.writeHead(200, ['x-empty', '1'], 'chunked');
      req.end(Buffer.from('0\r\n\r\n'));
    });
    const c = await open(port);
    await c.write('GET / HTTP/1.0\r\n\r\n');
    const res = await c.response({ timeoutMs: 1000 });
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(0);
  });

  it('HTTP/1.1 client and writeHead(..., "chunked"): the chunked bytes as given, the connection kept', async () => {
    const { port } = await serve((req) => {
      req.writeHead(200, [], 'chunked');
      req.end(Buffer.from('2\r\nok\r\n0\r\n\r\n'));
    });
    const c = await open(port);
    await c.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    const res = await c.response();
    expect(res.framing).toBe('chunked');
    expect(res.body.toString()).toBe('ok');
    expect(header(res, 'connection')).toBeUndefined();
    await c.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    expect((await c.response()).body.toString()).toBe('ok');
  });

  it('HTTP/1.0 keep-alive is answered with connection: keep-alive and kept', async () => {
    const { port } = await serve((req) => reply(req, 'ok'));
    const c = await open(port);
    await c.write('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    expect(header(await c.response(), 'connection')).toBe('keep-alive');
    await c.write('GET / HTTP/1.0\r\n\r\n');
    expect(header(await c.response(), 'connection')).toBe('close');
    expect(await c.closesWithin(2000)).toBe(true);
  });

  it('startDrain: idle connections close at once, the active one finishes with connection: close, new ones are refused', async () => {
    const held: InRequest[] = [];
    const { server, port } = await serve((req) => {
      if (req.url === '/hold') held.push(req);
      else reply(req, 'ok');
    });
    const idle = await open(port);
    await idle.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await idle.response();
    const fresh = await open(port);
    const active = await open(port);
    await active.write('GET /hold HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => held.length === 1, 2000, 'the held request');
    server.startDrain();
    expect(await idle.closesWithin(2000)).toBe(true);
    expect(await fresh.closesWithin(2000)).toBe(true);
    expect(active.eof).toBe(false);
    reply(held[0]!, 'last');
    const res = await active.response();
    expect(res.body.toString()).toBe('last');
    expect(header(res, 'connection')).toBe('close');
    expect(await active.closesWithin(2000)).toBe(true);
    const refused = await new Promise<string>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });

  it('a client that goes away mid-request: onClose fires once, writes after it are harmless', async () => {
    const closes: InRequest[] = [];
    const held: InRequest[] = [];
    const { server, port } = await serve((req) => {
      held.push(req);
      req.onClose = (r) => closes.push(r);
    });
    const c = await open(port);
    await c.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => held.length === 1, 2000, 'the request');
    c.destroy();
    await until(() => closes.length === 1, 2000, 'onClose');
    expect(closes[0]).toBe(held[0]);
    expect(() => reply(held[0]!, 'too late')).not.toThrow();
    await until(() => server.conns.size === 0, 1000, 'the server to forget the connection');
  });

  it('backpressure: write() returns false to a client that stops reading, writing stops, onDrain resumes it once it reads', { timeout: 20_000 }, async () => {
    const chunk = Buffer.alloc(512 * 1024, 0x62);
    let writes = 0;
    let drains = 0;
    let full = false;
    const { port } = await serve((req) => {
      req.writeHead(200, ['content-length', String(64 * chunk.length)], 'raw');
      const pump = (): void => {
        while (writes < 64) {
          writes++;
          if (!req.write(chunk)) {
            full = true;
            return;
          }
        }
        req.end();
      };
      req.onDrain = () => {
        drains++;
        pump();
      };
      pump();
    });
    // A plain socket that counts bytes: RawConn keeps every byte, too slow for 32 MiB.
    const sock = connect(port, '127.0.0.1');
    cleanup.push(() => sock.destroy());
    await new Promise((r) => sock.once('connect', r));
    sock.pause();
    let received = 0;
    sock.on('data', (d: Buffer) => (received += d.length));
    sock.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => full, 2000, 'write() to return false');
    // Kernel buffers take a few MiB; after that the server must stop, not queue 32 MiB in memory.
    let last = -1;
    for (let i = 0; i < 50 && writes !== last; i++) {
      last = writes;
      await sleep(60);
    }
    expect(writes).toBe(last);
    expect(writes).toBeLessThan(64);
    sock.resume();
    await until(() => received >= 64 * chunk.length, 10_000, 'the whole body');
    expect(writes).toBe(64);
    expect(drains).toBeGreaterThan(0);
  });

  it('a 300 KiB request body not read for a while (reading pauses) is collected whole', async () => {
    const body = Buffer.alloc(300 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7 + (i >> 10)) & 0xff;
    const got: Buffer[] = [];
    const { port } = await serve((req) => {
      setTimeout(
        () =>
          req.collectBody((b) => {
            got.push(Buffer.from(b));
            reply(req, String(b.length));
          }),
        100,
      );
    });
    const c = await open(port);
    await c.write(Buffer.concat([Buffer.from(`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\n\r\n`), body]));
    expect((await c.response({ timeoutMs: 5000 })).body.toString()).toBe(String(body.length));
    expect(got[0]!.equals(body)).toBe(true);
  });

  it('more than 64 KiB of pipelined requests behind a slow one (reading pauses): all answered, in order', async () => {
    const n = 400;
    const { port } = await serve((req) => {
      if (req.url === '/0') setTimeout(() => reply(req, req.url), 100);
      else reply(req, req.url);
    });
    const c = await open(port);
    const pad = 'p'.repeat(200);
    await c.write(Array.from({ length: n }, (_, i) => `GET /${i} HTTP/1.1\r\nHost: a\r\nX-Pad: ${pad}\r\n\r\n`).join(''));
    const urls: string[] = [];
    for (let i = 0; i < n; i++) urls.push((await c.response({ timeoutMs: 5000 })).body.toString());
    expect(urls).toEqual(Array.from({ length: n }, (_, i) => `/${i}`));
  });

  it('a request head over 16 KiB gets 431 and a close', async () => {
    const { port } = await serve((req) => reply(req, 'no'));
    const c = await open(port);
    await c.write(`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`);
    expect((await c.response()).status).toBe(431);
    expect(await c.closesWithin(2000)).toBe(true);
  });

  it('a large response body (head + 1 MiB) arrives whole with its Content-Length', async () => {
    const big = Buffer.alloc(1024 * 1024, 0x61);
    const { port } = await serve((req) => {
      req.writeHead(200, ['content-length', String(big.length)], 'raw');
      req.end(big);
    });
    const c = await open(port);
    await c.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    const res = await c.response({ timeoutMs: 5000 });
    expect(res.body.equals(big)).toBe(true);
  });
});
