import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeshProxy } from '../../../src/proxy/proxy.js';
import { se, sleep, startProxy, we } from './harness.js';
import { exchange, header, headerAll, RawConn, rawUpstream, type Message, type RawRequest, type RawUpstream } from './raw-client.js';

/**
 * HTTP/1.1 conformance and hostile input for the outbound listener, byte-exact on raw sockets.
 * The safety net for replacing node:http + undici with our own framing: every case says what
 * reaches the client (status line, body bytes), what reaches the upstream, and whether the client
 * connection is closed or kept.
 */

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Hit {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** web.local: a node:http upstream that keeps request bodies as bytes and answers by path. */
let echo: Server;
let echoPort = 0;
const hits: Hit[] = [];
/** raw.local: answers with exact bytes chosen by path (see RAW). */
let raw: RawUpstream;
let p: MeshProxy;

const BIG = Buffer.alloc(5 * 1024 * 1024);
for (let i = 0; i < BIG.length; i += 4) BIG.writeUInt32BE((i * 2654435761) >>> 0, i);

const RAW: Record<string, (s: Socket, r: RawRequest) => void | Promise<void>> = {
  '/chunked': (s) => void s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n'),
  '/close': (s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nclose-');
    setTimeout(() => s.end('delimited body'), 20);
  },
  '/split': async (s) => {
    const whole = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 26\r\n\r\nabcdefghijklmnopqrstuvwxyz');
    for (let i = 0; i < whole.length; i += 7) {
      s.write(whole.subarray(i, i + 7));
      await sleep(2);
    }
  },
  '/head': (s) => void s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1234\r\n\r\n'),
  '/204': (s) => void s.write('HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n'),
  '/304': (s) => void s.write('HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n'),
  '/1xx': (s) => void s.write('HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal'),
  '/badstatus': (s) => void s.end('HTTP/1.1 2x0 Whatever\r\nContent-Length: 0\r\n\r\n'),
  '/bighead': (s) => void s.write(`HTTP/1.1 200 OK\r\nX-Big: ${'b'.repeat(128 * 1024)}\r\nContent-Length: 2\r\n\r\nok`),
  '/clte': (s) => void s.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'),
  '/hop': (s) => void s.write('HTTP/1.1 200 OK\r\nConnection: x-resp, keep-alive\r\nX-Resp: secret\r\nX-Kept: yes\r\nKeep-Alive: timeout=99, max=7\r\nProxy-Connection: keep-alive\r\nUpgrade: h2c\r\nContent-Length: 2\r\n\r\nok'),
  '/slow': async (s) => {
    await sleep(150);
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n/slow');
  },
  // More bytes than Content-Length says: the extra must never reach a client (response desync).
  '/extra': (s) => void s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled'),
};

beforeAll(async () => {
  echo = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      hits.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BIG.length });
        res.end(BIG);
        return;
      }
      const out = JSON.stringify({ url: req.url, len: body.length, sha: sha(body) });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
      res.end(out);
    });
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = (echo.address() as AddressInfo).port;
  raw = await rawUpstream((s, r) => {
    const path = r.msg.start.split(' ')[1] ?? '/';
    const h = RAW[path];
    if (h) return h(s, r);
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`);
  });
  p = await startProxy([se('web.local', 'web'), we('web-1', 'web', echoPort), se('raw.local', 'raw'), we('raw-1', 'raw', raw.port)]);
});

afterAll(async () => {
  await p.shutdown(100);
  await raw.close();
  await new Promise<void>((r) => {
    echo.closeAllConnections();
    echo.close(() => r());
  });
});

const get = (path: string, host = 'web.local', extra = '') => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`;
const json = (m: Message) => JSON.parse(m.body.toString()) as { url: string; len: number; sha: string };

describe('connection management', () => {
  it('keep-alive: three sequential requests on one client connection', async () => {
    const c = await RawConn.open(p.ports.outbound);
    try {
      for (const path of ['/k1', '/k2', '/k3']) {
        await c.write(get(path));
        const r = await c.response();
        expect(r.start).toBe('HTTP/1.1 200 OK');
        expect(json(r).url).toBe(path);
        expect(header(r, 'connection') ?? 'keep-alive').not.toMatch(/close/i);
      }
      expect(c.eof).toBe(false);
    } finally {
      c.destroy();
    }
  });

  it('HTTP/1.0 without keep-alive: the connection is closed after the response', async () => {
    const { res, conn } = await exchange(p.ports.outbound, 'GET /ten HTTP/1.0\r\nHost: web.local\r\n\r\n');
    try {
      expect(res.status).toBe(200);
      expect(json(res).url).toBe('/ten');
      expect(await conn.closesWithin(2000)).toBe(true);
    } finally {
      conn.destroy();
    }
  });

  it('Connection: close is honoured: the response says close and the socket closes', async () => {
    const { res, conn } = await exchange(p.ports.outbound, get('/bye', 'web.local', 'Connection: close\r\n'));
    try {
      expect(res.status).toBe(200);
      expect(header(res, 'connection')).toMatch(/^close$/i);
      expect(await conn.closesWithin(2000)).toBe(true);
    } finally {
      conn.destroy();
    }
  });

  it('HTTP/1.0 with Connection: keep-alive keeps the connection for a second request', async () => {
    const ka = 'Connection: keep-alive\r\n';
    const { res, conn } = await exchange(p.ports.outbound, `GET /ten-ka HTTP/1.0\r\nHost: web.local\r\n${ka}\r\n`);
    try {
      expect(res.status).toBe(200);
      expect(header(res, 'connection')).toMatch(/^keep-alive$/i);
      await conn.write(`GET /ten-ka2 HTTP/1.0\r\nHost: web.local\r\n${ka}\r\n`);
      expect(json(await conn.response()).url).toBe('/ten-ka2');
    } finally {
      conn.destroy();
    }
  });

  it('HTTP/1.0 client: a chunked upstream response is not sent chunked (RFC 9112 6.1)', async () => {
    const { res, conn } = await exchange(p.ports.outbound, 'GET /chunked HTTP/1.0\r\nHost: raw.local\r\n\r\n');
    conn.destroy();
    expect(res.status).toBe(200);
    expect(header(res, 'transfer-encoding')).toBeUndefined();
    expect(res.body.toString()).toBe('hello world');
  });

  it('pipelining: two requests in one write get two responses, in order', async () => {
    const { res, conn } = await exchange(p.ports.outbound, get('/first') + get('/second'));
    try {
      expect(json(res).url).toBe('/first');
      const second = await conn.response();
      expect(second.status).toBe(200);
      expect(json(second).url).toBe('/second');
    } finally {
      conn.destroy();
    }
  });

  it('pipelining: a slow first response still comes first; a POST body between requests keeps framing', async () => {
    const post = 'POST /p HTTP/1.1\r\nHost: raw.local\r\nContent-Length: 11\r\n\r\nGET /x HTTP';
    const { res, conn } = await exchange(p.ports.outbound, get('/slow', 'raw.local') + post + get('/fast', 'raw.local'));
    try {
      expect(res.body.toString()).toBe('/slow');
      expect((await conn.response()).body.toString()).toBe('/p');
      expect((await conn.response()).body.toString()).toBe('/fast');
      const p1 = raw.requests.find((r) => r.msg.start === 'POST /p HTTP/1.1')!;
      expect(p1.msg.body.toString()).toBe('GET /x HTTP');
    } finally {
      conn.destroy();
    }
  });

  it('pipelining: 20 requests in one write get 20 responses in order', async () => {
    const paths = Array.from({ length: 20 }, (_, i) => `/pipe-${i}`);
    const { res, conn } = await exchange(p.ports.outbound, paths.map((x) => get(x)).join(''));
    try {
      const urls = [json(res).url];
      for (let i = 1; i < paths.length; i++) urls.push(json(await conn.response()).url);
      expect(urls).toEqual(paths);
    } finally {
      conn.destroy();
    }
  });
});

describe('request bodies', () => {
  it('a binary Content-Length body over 1 MiB arrives intact upstream', async () => {
    const body = randomBytes(1536 * 1024);
    const { res, conn } = await exchange(p.ports.outbound, Buffer.concat([Buffer.from(`POST /bin HTTP/1.1\r\nHost: web.local\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`), body]), { timeoutMs: 10_000 });
    conn.destroy();
    expect(res.status).toBe(200);
    expect(json(res)).toEqual({ url: '/bin', len: body.length, sha: sha(body) });
  });

  it('a chunked body with chunk extensions and trailers: upstream receives the same payload', async () => {
    const text = 'POST /chunks HTTP/1.1\r\nHost: web.local\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5;name=value\r\nhello\r\n6;quoted="a;b"\r\n world\r\n0\r\nX-Sum: abc\r\n\r\n';
    const { res, conn } = await exchange(p.ports.outbound, text);
    try {
      expect(res.status).toBe(200);
      expect(json(res)).toEqual({ url: '/chunks', len: 11, sha: sha(Buffer.from('hello world')) });
      // The connection is still in step: a second request on it works.
      await conn.write(get('/after-chunks'));
      expect(json(await conn.response()).url).toBe('/after-chunks');
    } finally {
      conn.destroy();
    }
  });

  it('Transfer-Encoding is case-insensitive: "CHUNKED" is chunked', async () => {
    const { res, conn } = await exchange(p.ports.outbound, 'POST /upper HTTP/1.1\r\nHost: web.local\r\nTransfer-Encoding: CHUNKED\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
    conn.destroy();
    expect(res.status).toBe(200);
    expect(json(res)).toEqual({ url: '/upper', len: 3, sha: sha(Buffer.from('abc')) });
  });

  it('a request written one byte at a time (head and body) is framed correctly', async () => {
    const body = Buffer.from('0123456789'.repeat(20));
    const text = Buffer.concat([Buffer.from(`PUT /bytes HTTP/1.1\r\nHost: web.local\r\nContent-Length: ${body.length}\r\n\r\n`), body]);
    const c = await RawConn.open(p.ports.outbound);
    try {
      for (let i = 0; i < text.length; i++) await c.write(text.subarray(i, i + 1));
      const r = await c.response();
      expect(r.status).toBe(200);
      expect(json(r)).toEqual({ url: '/bytes', len: body.length, sha: sha(body) });
    } finally {
      c.destroy();
    }
  });

  it('Expect: 100-continue gets "HTTP/1.1 100 Continue" before the body is sent; expect is not forwarded', async () => {
    const c = await RawConn.open(p.ports.outbound);
    try {
      await c.write('POST /expect HTTP/1.1\r\nHost: web.local\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\n');
      const interim = await c.response({ timeoutMs: 3000 });
      expect(interim.start).toBe('HTTP/1.1 100 Continue');
      await c.write('payload');
      const r = await c.response();
      expect(r.status).toBe(200);
      expect(json(r)).toEqual({ url: '/expect', len: 7, sha: sha(Buffer.from('payload')) });
      expect(hits.find((h) => h.url === '/expect')!.headers.expect).toBeUndefined();
    } finally {
      c.destroy();
    }
  });
});

describe('response bodies', () => {
  it('chunked upstream response: the client gets the same bytes, chunked', async () => {
    const { res, conn } = await exchange(p.ports.outbound, get('/chunked', 'raw.local'));
    conn.destroy();
    expect(res.start).toBe('HTTP/1.1 200 OK');
    expect(res.framing).toBe('chunked');
    expect(res.body.toString()).toBe('hello world');
  });

  it('close-delimited upstream response (no Content-Length, upstream closes) reaches the client complete', async () => {
    const { res, conn } = await exchange(p.ports.outbound, get('/close', 'raw.local'));
    conn.destroy();
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('close-delimited body');
  });

  it('bytes after the Content-Length body never reach the client (no response desync)', async () => {
    const c = await RawConn.open(p.ports.outbound);
    try {
      await c.write(get('/extra', 'raw.local'));
      const r = await c.response();
      expect(r.status).toBe(200);
      expect(r.body.toString()).toBe('ok');
      await sleep(50);
      expect(c.pending.toString()).not.toMatch(/smuggled/);
      if (!c.eof) {
        await c.write(get('/after-extra', 'raw.local'));
        expect((await c.response()).body.toString()).toBe('/after-extra');
      }
      expect(c.received.toString()).not.toMatch(/smuggled/);
    } finally {
      c.destroy();
    }
  });

  it('a response split across many small TCP writes arrives whole', async () => {
    const { res, conn } = await exchange(p.ports.outbound, get('/split', 'raw.local'));
    conn.destroy();
    expect(res.status).toBe(200);
    expect(header(res, 'content-length')).toBe('26');
    expect(res.body.toString()).toBe('abcdefghijklmnopqrstuvwxyz');
  });

  it('a 5 MiB response to a client that reads slowly arrives intact (backpressure)', async () => {
    const c = await RawConn.open(p.ports.outbound);
    try {
      // Stop reading for a while after each MiB, so every buffer between upstream and client fills.
      let nextPause = 1024 * 1024;
      let seen = 0;
      c.socket.on('data', (d: Buffer) => {
        seen += d.length;
        if (seen >= nextPause) {
          nextPause += 1024 * 1024;
          c.socket.pause();
          setTimeout(() => c.socket.resume(), 150);
        }
      });
      c.socket.pause();
      await c.write(get('/big'));
      await sleep(300);
      c.socket.resume();
      const r = await c.response({ timeoutMs: 20_000 });
      expect(r.status).toBe(200);
      expect(r.body.length).toBe(BIG.length);
      expect(sha(r.body)).toBe(sha(BIG));
    } finally {
      c.destroy();
    }
  });

  it('HEAD: Content-Length passes through, no body bytes follow, and the connection is reused', async () => {
    const c = await RawConn.open(p.ports.outbound);
    try {
      await c.write(`HEAD /head HTTP/1.1\r\nHost: raw.local\r\n\r\n`);
      const r = await c.response({ method: 'HEAD' });
      expect(r.start).toBe('HTTP/1.1 200 OK');
      expect(header(r, 'content-length')).toBe('1234');
      await sleep(50);
      expect(c.pending.length).toBe(0);
      await c.write(get('/next-after-head', 'raw.local'));
      const n = await c.response();
      expect(n.body.toString()).toBe('/next-after-head');
    } finally {
      c.destroy();
    }
  });

  it('HEAD answered by the proxy itself (404 NR): the head with its Content-Length, no body, and the connection is reused', async () => {
    const c = await RawConn.open(p.ports.outbound);
    try {
      await c.write(`HEAD / HTTP/1.1\r\nHost: nowhere.local\r\n\r\n`);
      const r = await c.response({ method: 'HEAD' });
      expect(r.start).toBe('HTTP/1.1 404 Not Found');
      expect(Number(header(r, 'content-length'))).toBeGreaterThan(0);
      await sleep(50);
      expect(c.pending.length).toBe(0);
      await c.write(get('/next-after-local-head', 'raw.local'));
      const n = await c.response();
      expect(n.body.toString()).toBe('/next-after-local-head');
    } finally {
      c.destroy();
    }
  });

  for (const code of [204, 304]) {
    it(`${code} has no body, and the connection is reused for the next request`, async () => {
      const c = await RawConn.open(p.ports.outbound);
      try {
        await c.write(get(`/${code}`, 'raw.local'));
        const r = await c.response();
        expect(r.status).toBe(code);
        expect(header(r, 'transfer-encoding')).toBeUndefined();
        if (header(r, 'content-length') !== undefined) expect(header(r, 'content-length')).toBe('0');
        await sleep(50);
        expect(c.pending.length).toBe(0);
        await c.write(get(`/after-${code}`, 'raw.local'));
        const n = await c.response();
        expect(n.status).toBe(200);
        expect(n.body.toString()).toBe(`/after-${code}`);
      } finally {
        c.destroy();
      }
    });
  }
});

/**
 * Hostile requests, all to raw.local so that any byte reaching the upstream is counted. `allow` is the
 * set of acceptable status codes (RFC 9112 / 9110); `streamed` cases fail in the body, after a
 * streaming proxy may already have sent the head upstream: there no *complete* request may arrive.
 */
interface Hostile {
  name: string;
  text: string;
  allow: number[];
  streamed?: boolean;
  /** What node:http + undici did with it (before src/proxy/http1): these run in their own describe. */
  gap?: string;
}

const H = 'Host: raw.local\r\n';
const hostile: Hostile[] = [
  { name: 'space between header name and colon', text: `GET / HTTP/1.1\r\n${H}X-Foo : bar\r\n\r\n`, allow: [400] },
  { name: 'obs-fold (header line starting with SP)', text: `GET / HTTP/1.1\r\n${H}X-Foo: a\r\n  folded\r\n\r\n`, allow: [400] },
  { name: 'bare LF line ending in headers', text: `GET / HTTP/1.1\r\n${H}X-Foo: a\nX-Bar: b\r\n\r\n`, allow: [400] },
  { name: 'NUL in a header value', text: `GET / HTTP/1.1\r\n${H}X-Foo: a\0b\r\n\r\n`, allow: [400] },
  { name: 'bare CR in a header value', text: `GET / HTTP/1.1\r\n${H}X-Foo: a\rb\r\n\r\n`, allow: [400] },
  { name: 'two Host headers (RFC 9112 3.2)', text: `GET / HTTP/1.1\r\n${H}Host: other.local\r\n\r\n`, allow: [400], gap: 'routed by the first Host; undici then refuses the duplicate: 503 UC, connection kept' },
  { name: 'Content-Length: abc', text: `POST / HTTP/1.1\r\n${H}Content-Length: abc\r\n\r\nabc`, allow: [400] },
  { name: 'Content-Length: -1', text: `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\nx`, allow: [400] },
  { name: 'Content-Length: 1,2 (a list of different values)', text: `POST / HTTP/1.1\r\n${H}Content-Length: 1,2\r\n\r\nxy`, allow: [400] },
  { name: 'Transfer-Encoding: gzip, chunked on a request', text: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n`, allow: [400, 501], gap: 'accepted as chunked and forwarded (200) with the gzip coding silently dropped' },
  { name: 'Transfer-Encoding: chunked twice', text: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n`, allow: [400] },
  { name: 'Transfer-Encoding: chunked with Content-Length: 0', text: `POST / HTTP/1.1\r\n${H}Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n`, allow: [400] },
  { name: 'chunk size that is not hex (zz)', text: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\nxy\r\n0\r\n\r\n`, allow: [400], streamed: true },
  { name: 'chunk size overflow (ffffffffffffffffff)', text: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nxy\r\n0\r\n\r\n`, allow: [400, 413], streamed: true },
  { name: 'missing CRLF after chunk data', text: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n2\r\nxyz\r\n0\r\n\r\n`, allow: [400], streamed: true },
  { name: 'CONNECT (a 2xx would make the connection a tunnel the HTTP framing cannot follow)', text: `CONNECT raw.local:80 HTTP/1.1\r\n${H}\r\n`, allow: [405] },
  { name: 'request line with two spaces', text: `GET  / HTTP/1.1\r\n${H}\r\n`, allow: [400], gap: 'node:http parses it leniently (RFC 9112 3 permits that) and forwards it: 200' },
  { name: 'bare "GET /" without a version (HTTP/0.9)', text: `GET /\r\n${H}\r\n`, allow: [400, 505], gap: 'node:http takes it as HTTP/0.9 and forwards it upstream: 200 with Connection: close' },
  { name: 'HTTP/2.0 version on an HTTP/1 connection', text: `GET / HTTP/2.0\r\n${H}\r\n`, allow: [400, 505], gap: 'node:http accepts version 2.0 in an HTTP/1 request line and forwards it: 200' },
  { name: 'URL over 16 KiB', text: `GET /${'u'.repeat(17 * 1024)} HTTP/1.1\r\n${H}\r\n`, allow: [414, 431] },
  {
    name: 'more than 100 request headers (Envoy max_headers_count)',
    text: `GET / HTTP/1.1\r\n${H}${Array.from({ length: 101 }, (_, i) => `X-H${i}: ${i}\r\n`).join('')}\r\n`,
    allow: [431],
    gap: 'node:http allows 2000 headers (and silently drops beyond): 101 short headers are forwarded with 200',
  },
];

async function expectRejected(c: Hostile): Promise<void> {
  const before = raw.bytes();
  const beforeReqs = raw.requests.length;
  const { res, conn } = await exchange(p.ports.outbound, c.text);
  try {
    expect(c.allow, `status line: ${res.start}`).toContain(res.status);
    expect(res.start).toMatch(/^HTTP\/1\.1 \d{3}( |$)/);
    expect(await conn.closesWithin(2000)).toBe(true);
  } finally {
    conn.destroy();
  }
  await sleep(30);
  if (c.streamed) expect(raw.requests.length).toBe(beforeReqs);
  else expect(raw.bytes()).toBe(before);
}

describe('hostile requests: rejected, nothing reaches the upstream, connection closed', () => {
  for (const c of hostile.filter((x) => !x.gap)) it(`${c.name} -> ${c.allow.join('/')}`, () => expectRejected(c));
});

const BAD_UPSTREAM: [string, string][] = [
  ['/badstatus', 'a malformed status line'],
  ['/bighead', 'a 128 KiB response header'],
  ['/clte', 'both Content-Length and Transfer-Encoding: chunked'],
];

describe('upstream misbehaving', () => {
  for (const [path, what] of BAD_UPSTREAM) {
    it(`${what}: a local 5xx naming the reason and a flag, nothing of the bad answer passes, the client connection survives`, async () => {
      const c = await RawConn.open(p.ports.outbound);
      try {
        await c.write(get(path, 'raw.local'));
        const r = await c.response();
        expect(r.start).toMatch(/^HTTP\/1\.1 502 /);
        const flag = header(r, 'x-meshctl-flags');
        expect(flag).toMatch(/^[A-Z]{2,4}$/);
        expect(r.body.toString()).toMatch(new RegExp(`^meshctl proxy: 502 ${flag} .*raw\\.local`));
        expect(header(r, 'x-big')).toBeUndefined();
        await c.write(get('/still-alive', 'raw.local'));
        expect((await c.response()).body.toString()).toBe('/still-alive');
      } finally {
        c.destroy();
      }
    });
  }
});

describe('hop-by-hop headers', () => {
  it('Keep-Alive, Proxy-Connection, TE and Upgrade are never forwarded upstream', async () => {
    const n = raw.requests.length;
    const { res, conn } = await exchange(p.ports.outbound, get('/hbh-req', 'raw.local', 'Keep-Alive: timeout=99\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nUpgrade: h2c\r\nX-Kept: yes\r\n'));
    conn.destroy();
    expect(res.status).toBe(200);
    const seen = raw.requests.slice(n).find((r) => r.msg.start.startsWith('GET /hbh-req '))!;
    expect(header(seen.msg, 'x-kept')).toBe('yes');
    for (const h of ['keep-alive', 'proxy-connection', 'te', 'upgrade']) expect(header(seen.msg, h), h).toBeUndefined();
  });

  it('upstream Keep-Alive, Proxy-Connection and Upgrade never reach the client', async () => {
    const { res, conn } = await exchange(p.ports.outbound, get('/hop', 'raw.local'));
    conn.destroy();
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('ok');
    expect(header(res, 'x-kept')).toBe('yes');
    expect(header(res, 'proxy-connection')).toBeUndefined();
    expect(header(res, 'upgrade')).toBeUndefined();
    // The proxy may announce its own keep-alive; the upstream's (max=7) is not passed on.
    expect(headerAll(res, 'keep-alive').join()).not.toMatch(/max=7|timeout=99/);
  });
});

/** An upstream 103 before the final 200: forwarding the 103 is allowed, the final answer must follow intact. */
async function interim103(): Promise<void> {
  const c = await RawConn.open(p.ports.outbound);
  try {
    await c.write(get('/1xx', 'raw.local'));
    let r = await c.response();
    while (r.status >= 100 && r.status < 200) r = await c.response();
    expect(r.start).toBe('HTTP/1.1 200 OK');
    expect(r.body.toString()).toBe('final');
  } finally {
    c.destroy();
  }
}

/** An upstream answer that breaks HTTP/1.1 is a 502 naming the reason, flagged; the client connection is kept. */
async function badUpstream(path: string): Promise<void> {
  const c = await RawConn.open(p.ports.outbound);
  try {
    await c.write(get(path, 'raw.local'));
    const r = await c.response();
    expect(r.start).toMatch(/^HTTP\/1\.1 502 /);
    const flag = header(r, 'x-meshctl-flags');
    expect(flag).toMatch(/^[A-Z]{2,4}$/);
    expect(r.body.toString()).toMatch(new RegExp(`^meshctl proxy: 502 ${flag} .*raw\\.local`));
    await c.write(get('/after-bad', 'raw.local'));
    expect((await c.response()).body.toString()).toBe('/after-bad');
  } finally {
    c.destroy();
  }
}

/** Headers named in Connection are hop-by-hop too (RFC 9110 7.6.1), in both directions. */
async function connectionNamedRequest(): Promise<void> {
  const n = raw.requests.length;
  const { res, conn } = await exchange(p.ports.outbound, get('/named', 'raw.local', 'Connection: keep-alive, X-Foo\r\nX-Foo: secret\r\nX-Kept: yes\r\n'));
  conn.destroy();
  expect(res.status).toBe(200);
  const seen = raw.requests.slice(n).find((r) => r.msg.start.startsWith('GET /named '))!;
  expect(header(seen.msg, 'x-kept')).toBe('yes');
  expect(header(seen.msg, 'x-foo')).toBeUndefined();
}

async function connectionNamedResponse(): Promise<void> {
  const { res, conn } = await exchange(p.ports.outbound, get('/hop', 'raw.local'));
  conn.destroy();
  expect(res.status).toBe(200);
  expect(header(res, 'x-kept')).toBe('yes');
  expect(header(res, 'x-resp')).toBeUndefined();
}

/** Absolute-form target (RFC 9112 3.2.2): routed by its authority, forwarded in origin-form. */
async function absoluteForm(hostHeader: string): Promise<void> {
  const n = hits.length;
  const { res, conn } = await exchange(p.ports.outbound, `GET http://web.local/abs/path?q=1 HTTP/1.1\r\nHost: ${hostHeader}\r\n\r\n`);
  conn.destroy();
  expect(res.start).toBe('HTTP/1.1 200 OK');
  expect(json(res).url).toBe('/abs/path?q=1');
  const hit = hits.slice(n).find((h) => h.url.endsWith('/abs/path?q=1'))!;
  expect(hit.headers.host).toBe('web.local');
}

// These cases failed with node:http + undici (the notes say how) and pass with src/proxy/http1.
describe('stricter than node:http + undici were', () => {
  for (const c of hostile.filter((x) => x.gap)) {
    // Was: see `gap` on the case.
    it(`${c.name} -> ${c.allow.join('/')}`, () => expectRejected(c));
  }
  // Was: the client connection is closed with no response at all (neither the 103 nor the 200).
  it('an interim 103 from upstream is followed by the intact final 200', () => interim103());
  for (const [path, what] of BAD_UPSTREAM) {
    // Was: every upstream protocol error is 503 UC ("reset before response headers"); Envoy answers 502 (UPE).
    it(`${what} from upstream -> exactly 502 with a flag`, () => badUpstream(path));
  }
  // Was: scanHeaders drops the Connection header but not the headers it names.
  it('a request header named in Connection (X-Foo) is not forwarded', () => connectionNamedRequest());
  // Was: Exchange.writeHead drops the Connection header but not the headers it names.
  it('a response header named in Connection (X-Resp) does not reach the client', () => connectionNamedResponse());
  // Was: the absolute URL is sent upstream as the request target ("GET http://web.local/abs/path?q=1").
  it('absolute-form target with a matching Host is forwarded in origin-form', () => absoluteForm('web.local'));
  // Was: routing reads the Host header (other.local -> 404 NR) instead of the target's authority.
  it('absolute-form target wins over a different Host header (RFC 9112 3.2.2)', () => absoluteForm('other.local'));
});
