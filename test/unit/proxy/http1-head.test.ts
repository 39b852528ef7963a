import { describe, expect, it } from 'vitest';
import { framingOf, HeadError, MAX_HEAD_BYTES, MAX_HEADERS, parseRequestHead, parseResponseHead, type BodyFraming } from '../../../src/proxy/http1/head.js';

/**
 * Direct tests of the pure head parser (src/proxy/http1/head.ts): the whole-proxy conformance suite
 * sees only the status a hostile request gets, not the parsed fields or which check fired.
 * Heads are given as the server hands them over: latin1, without the final CRLF CRLF.
 */

const H = 'Host: a.local';

/** The HeadError status `fn` throws, or 'ok'. */
function statusOf(fn: () => unknown): number | 'ok' {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (err instanceof HeadError) return err.status;
    throw err;
  }
}

/** Parses a request head and its framing, as the server does. */
function request(head: string): BodyFraming & { method: string; target: string; minor: number; raw: string[] } {
  const h = parseRequestHead(head);
  return { ...h, ...framingOf(h.raw, h.minor, true) };
}

describe('parseRequestHead: valid heads', () => {
  const cases: { name: string; head: string; method: string; target: string; minor: number; raw: string[] }[] = [
    { name: 'origin-form', head: `GET /a?b=c HTTP/1.1\r\n${H}`, method: 'GET', target: '/a?b=c', minor: 1, raw: ['Host', 'a.local'] },
    { name: 'absolute-form', head: 'GET http://x.local/p HTTP/1.1\r\nHost: x.local', method: 'GET', target: 'http://x.local/p', minor: 1, raw: ['Host', 'x.local'] },
    { name: 'asterisk-form, HTTP/1.0, no headers', head: 'OPTIONS * HTTP/1.0', method: 'OPTIONS', target: '*', minor: 0, raw: [] },
    { name: 'extension method token', head: `M-SEARCH! / HTTP/1.1\r\n${H}`, method: 'M-SEARCH!', target: '/', minor: 1, raw: ['Host', 'a.local'] },
    { name: 'names keep their case, order kept', head: `GET / HTTP/1.1\r\nX-FoO: 1\r\n${H}\r\nx-foo: 2`, method: 'GET', target: '/', minor: 1, raw: ['X-FoO', '1', 'Host', 'a.local', 'x-foo', '2'] },
    { name: 'values trimmed of SP and HTAB, inner blanks kept', head: `GET / HTTP/1.1\r\n${H}\r\nX:  \t a \t b\t  `, method: 'GET', target: '/', minor: 1, raw: ['Host', 'a.local', 'X', 'a \t b'] },
    { name: 'empty value', head: `GET / HTTP/1.1\r\n${H}\r\nX:\r\nY:   `, method: 'GET', target: '/', minor: 1, raw: ['Host', 'a.local', 'X', '', 'Y', ''] },
    { name: 'obs-text bytes 0x80-0xff kept (latin1, one byte one char)', head: `GET / HTTP/1.1\r\n${H}\r\nX: caf\xe9 \x80\xff`, method: 'GET', target: '/', minor: 1, raw: ['Host', 'a.local', 'X', 'caf\xe9 \x80\xff'] },
    { name: 'colon inside a value', head: `GET / HTTP/1.1\r\n${H}\r\nX: a:b: c`, method: 'GET', target: '/', minor: 1, raw: ['Host', 'a.local', 'X', 'a:b: c'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(parseRequestHead(c.head)).toEqual({ method: c.method, target: c.target, minor: c.minor, raw: c.raw });
    });
  }

  it('UTF-8 bytes decoded as latin1 come back byte-exact', () => {
    const bytes = Buffer.from(`GET / HTTP/1.1\r\n${H}\r\nX: žluť 🙂`, 'utf8');
    const raw = parseRequestHead(bytes.toString('latin1')).raw;
    expect(Buffer.from(raw[3]!, 'latin1').toString('utf8')).toBe('žluť 🙂');
  });

  it(`${MAX_HEADERS} header fields are accepted`, () => {
    const lines = Array.from({ length: MAX_HEADERS - 1 }, (_, i) => `X-${i}: ${i}`);
    expect(parseRequestHead(`GET / HTTP/1.1\r\n${H}\r\n${lines.join('\r\n')}`).raw).toHaveLength(MAX_HEADERS * 2);
  });

  it(`a target of exactly ${MAX_HEAD_BYTES / 2} bytes is accepted`, () => {
    const target = '/' + 'a'.repeat(MAX_HEAD_BYTES / 2 - 1);
    expect(parseRequestHead(`GET ${target} HTTP/1.1\r\n${H}`).target).toBe(target);
  });
});

describe('parseRequestHead: refused heads and their status', () => {
  const cases: { name: string; head: string; status: 400 | 414 | 431 | 505 }[] = [
    { name: 'request line without a version', head: 'GET /', status: 400 },
    { name: 'request line with one word', head: 'GET', status: 400 },
    { name: 'leading space before the method', head: ` GET / HTTP/1.1\r\n${H}`, status: 400 },
    { name: 'two spaces after the method (empty target)', head: `GET  / HTTP/1.1\r\n${H}`, status: 400 },
    { name: 'a fourth word on the request line', head: `GET / HTTP/1.1 x\r\n${H}`, status: 400 },
    { name: 'trailing space after the version', head: `GET / HTTP/1.1 \r\n${H}`, status: 400 },
    { name: 'HTAB as separator', head: `GET\t/ HTTP/1.1\r\n${H}`, status: 400 },
    { name: 'method not a token', head: `G(T / HTTP/1.1\r\n${H}`, status: 400 },
    { name: 'method with obs-text', head: `G\xe9T / HTTP/1.1\r\n${H}`, status: 400 },
    { name: 'target with DEL', head: `GET /a\x7fb HTTP/1.1\r\n${H}`, status: 400 },
    { name: 'target with NUL', head: `GET /a\0 HTTP/1.1\r\n${H}`, status: 400 },
    { name: `target longer than ${MAX_HEAD_BYTES / 2} bytes`, head: `GET /${'a'.repeat(MAX_HEAD_BYTES / 2)} HTTP/1.1\r\n${H}`, status: 414 },
    { name: 'HTTP/2.0', head: `GET / HTTP/2.0\r\n${H}`, status: 505 },
    { name: 'HTTP/1.2', head: `GET / HTTP/1.2\r\n${H}`, status: 505 },
    { name: 'HTTP/0.9', head: `GET / HTTP/0.9\r\n${H}`, status: 505 },
    { name: 'lower-case http/1.1', head: `GET / http/1.1\r\n${H}`, status: 400 },
    { name: 'not HTTP at all', head: `GET / ICY/1.1\r\n${H}`, status: 400 },
    { name: 'obs-fold (line starting with SP)', head: `GET / HTTP/1.1\r\n${H}\r\nX: a\r\n b`, status: 400 },
    { name: 'obs-fold (line starting with HTAB)', head: `GET / HTTP/1.1\r\n${H}\r\nX: a\r\n\tb`, status: 400 },
    { name: 'header line without a colon', head: `GET / HTTP/1.1\r\n${H}\r\nX-No-Colon`, status: 400 },
    { name: 'colon only on a later line', head: `GET / HTTP/1.1\r\nX-No-Colon\r\n${H}`, status: 400 },
    { name: 'blank between name and colon', head: `GET / HTTP/1.1\r\nHost : a.local`, status: 400 },
    { name: 'empty header name', head: `GET / HTTP/1.1\r\n${H}\r\n: v`, status: 400 },
    { name: 'header name with obs-text', head: `GET / HTTP/1.1\r\n${H}\r\nX\xe9: v`, status: 400 },
    { name: 'bare LF inside a value', head: `GET / HTTP/1.1\r\n${H}\r\nX: a\nTransfer-Encoding: chunked`, status: 400 },
    { name: 'bare CR inside a value', head: `GET / HTTP/1.1\r\n${H}\r\nX: a\rb`, status: 400 },
    { name: 'NUL inside a value', head: `GET / HTTP/1.1\r\n${H}\r\nX: a\0b`, status: 400 },
    { name: 'DEL inside a value', head: `GET / HTTP/1.1\r\n${H}\r\nX: a\x7fb`, status: 400 },
    // Only SP and HTAB are blanks: a VT or FF at the edge is a CTL, not trimmed away.
    { name: 'VT at the start of a value is refused, not trimmed', head: `GET / HTTP/1.1\r\n${H}\r\nX: \x0ba`, status: 400 },
    { name: 'FF at the end of a value is refused, not trimmed', head: `GET / HTTP/1.1\r\n${H}\r\nX: a\x0c`, status: 400 },
    { name: `${MAX_HEADERS + 1} header fields`, head: `GET / HTTP/1.1\r\n${H}\r\n${Array.from({ length: MAX_HEADERS }, (_, i) => `X-${i}: ${i}`).join('\r\n')}`, status: 431 },
  ];
  for (const c of cases) {
    it(`${c.name} -> ${c.status}`, () => {
      expect(statusOf(() => parseRequestHead(c.head))).toBe(c.status);
    });
  }
});

describe('parseResponseHead', () => {
  const ok: { line: string; status: number; minor: number }[] = [
    { line: 'HTTP/1.1 200 OK', status: 200, minor: 1 },
    { line: 'HTTP/1.1 200', status: 200, minor: 1 },
    { line: 'HTTP/1.1 200 ', status: 200, minor: 1 },
    { line: 'HTTP/1.1 404 Not Found At All', status: 404, minor: 1 },
    { line: 'HTTP/1.0 204 No Content', status: 204, minor: 0 },
    { line: 'HTTP/1.1 100 Continue', status: 100, minor: 1 },
    { line: 'HTTP/1.1 999 Whatever', status: 999, minor: 1 },
    { line: 'HTTP/1.1 200 caf\xe9', status: 200, minor: 1 },
  ];
  for (const c of ok) {
    it(`"${c.line}" -> ${c.status}`, () => {
      expect(parseResponseHead(`${c.line}\r\nContent-Length: 0\r\nX-A:  b `)).toEqual({ status: c.status, minor: c.minor, raw: ['Content-Length', '0', 'X-A', 'b'] });
    });
  }

  const bad = ['HTTP/1.1 20 OK', 'HTTP/1.1 2000 OK', 'HTTP/1.1 099 Low', 'HTTP/1.1 20x OK', 'HTTP/1.1  200 OK', 'HTTP/1.1\t200 OK', 'HTTP/2 200 OK', 'HTTP/2.0 200 OK', 'http/1.1 200 OK', 'ICY 200 OK', 'HTTP/1.1', ''];
  for (const line of bad) {
    it(`${JSON.stringify(line)} -> 400`, () => {
      expect(statusOf(() => parseResponseHead(`${line}\r\nContent-Length: 0`))).toBe(400);
    });
  }

  it('a response header with a bare LF is refused like a request one', () => {
    expect(statusOf(() => parseResponseHead('HTTP/1.1 200 OK\r\nX: a\nContent-Length: 5'))).toBe(400);
  });
});

describe('framingOf: Content-Length', () => {
  const cases: { value: string | string[]; length: number | 400 }[] = [
    { value: '0', length: 0 },
    { value: '5', length: 5 },
    { value: '005', length: 5 },
    { value: '999999999999999', length: 999999999999999 },
    { value: '5, 5', length: 5 },
    { value: '5,5,5', length: 5 },
    { value: ['5', '5'], length: 5 },
    { value: '5, 6', length: 400 },
    { value: ['5', '6'], length: 400 },
    { value: '5,', length: 400 },
    { value: ',5', length: 400 },
    { value: '+5', length: 400 },
    { value: '-5', length: 400 },
    { value: '0x5', length: 400 },
    { value: '5.0', length: 400 },
    { value: '5 5', length: 400 },
    { value: '1e3', length: 400 },
    { value: '', length: 400 },
    { value: '1234567890123456', length: 400 },
    { value: '1234567890123456, 1234567890123456', length: 400 },
  ];
  for (const c of cases) {
    const values = Array.isArray(c.value) ? c.value : [c.value];
    it(`Content-Length ${values.map((v) => JSON.stringify(v)).join(' + ')} -> ${c.length === 400 ? '400' : `length ${c.length}`}`, () => {
      const raw = ['Host', 'a', ...values.flatMap((v) => ['Content-Length', v])];
      if (c.length === 400) expect(statusOf(() => framingOf(raw, 1, true))).toBe(400);
      else expect(framingOf(raw, 1, true)).toMatchObject({ length: c.length, chunked: false });
    });
  }

  it('no Content-Length -> length -1; the name is matched case-insensitively', () => {
    expect(framingOf(['Host', 'a'], 1, true).length).toBe(-1);
    expect(framingOf(['Host', 'a', 'CONTENT-LENGTH', '7'], 1, true).length).toBe(7);
    expect(framingOf(['content-length', '7'], 1, false).length).toBe(7);
  });
});

describe('framingOf: Transfer-Encoding', () => {
  const cases: { te: string[]; minor?: number; request: number | 'chunked'; response: number | 'chunked' }[] = [
    { te: ['chunked'], request: 'chunked', response: 'chunked' },
    { te: ['CHUNKED'], request: 'chunked', response: 'chunked' },
    { te: [' Chunked '], request: 'chunked', response: 'chunked' },
    { te: ['gzip'], request: 501, response: 400 },
    { te: ['identity'], request: 501, response: 400 },
    { te: ['chunked, chunked'], request: 400, response: 400 },
    { te: ['chunked', 'chunked'], request: 400, response: 400 },
    { te: ['chunked, gzip'], request: 400, response: 400 },
    { te: ['gzip, chunked'], request: 400, response: 400 },
    { te: ['chunked,'], request: 400, response: 400 },
    { te: [''], request: 400, response: 400 },
    { te: ['chunked'], minor: 0, request: 400, response: 400 },
  ];
  for (const c of cases) {
    const minor = c.minor ?? 1;
    it(`Transfer-Encoding ${c.te.map((v) => JSON.stringify(v)).join(' + ')} on HTTP/1.${minor} -> request ${c.request}, response ${c.response}`, () => {
      const raw = c.te.flatMap((v) => ['Transfer-Encoding', v]);
      for (const [request, want] of [
        [true, c.request],
        [false, c.response],
      ] as const) {
        const fields = request ? ['Host', 'a', ...raw] : raw;
        if (want === 'chunked') expect(framingOf(fields, minor, request)).toMatchObject({ chunked: true, length: -1 });
        else expect(statusOf(() => framingOf(fields, minor, request))).toBe(want);
      }
    });
  }

  it('Transfer-Encoding with Content-Length is refused either way round, requests and responses', () => {
    expect(statusOf(() => framingOf(['Host', 'a', 'Transfer-Encoding', 'chunked', 'Content-Length', '3'], 1, true))).toBe(400);
    expect(statusOf(() => framingOf(['Content-Length', '3', 'Transfer-Encoding', 'chunked'], 1, false))).toBe(400);
  });
});

describe('framingOf: Connection, Expect, Host', () => {
  const conn: { minor: number; connection?: string[]; close: boolean; tokens: string[] | null }[] = [
    { minor: 1, close: false, tokens: null },
    { minor: 0, close: true, tokens: null },
    { minor: 1, connection: ['close'], close: true, tokens: null },
    { minor: 1, connection: ['CLOSE'], close: true, tokens: null },
    { minor: 1, connection: ['keep-alive'], close: false, tokens: null },
    { minor: 0, connection: ['keep-alive'], close: false, tokens: null },
    { minor: 0, connection: ['Keep-Alive'], close: false, tokens: null },
    { minor: 0, connection: ['keep-alive, close'], close: true, tokens: null },
    { minor: 1, connection: ['Keep-Alive, X-Foo, Upgrade'], close: false, tokens: ['x-foo', 'upgrade'] },
    { minor: 1, connection: ['close, X-A', 'X-B'], close: true, tokens: ['x-a', 'x-b'] },
    { minor: 1, connection: [' , ,X-C,, '], close: false, tokens: ['x-c'] },
    { minor: 1, connection: [''], close: false, tokens: null },
  ];
  for (const c of conn) {
    it(`HTTP/1.${c.minor} Connection ${JSON.stringify(c.connection ?? null)} -> close ${c.close}, tokens ${JSON.stringify(c.tokens)}`, () => {
      const raw = ['Host', 'a', ...(c.connection ?? []).flatMap((v) => ['Connection', v])];
      expect(framingOf(raw, c.minor, true)).toMatchObject({ close: c.close, connectionTokens: c.tokens });
      expect(framingOf(raw.slice(2), c.minor, false)).toMatchObject({ close: c.close, connectionTokens: c.tokens });
    });
  }

  // RFC 9112 9.6: "close" means the connection closes after this message, whatever else is listed.
  it('HTTP/1.0 Connection "close, keep-alive" -> close true', () => {
    expect(framingOf(['Connection', 'close, keep-alive'], 0, true).close).toBe(true);
  });

  it('Expect: 100-continue in any case (requests only)', () => {
    expect(framingOf(['Host', 'a', 'Expect', '100-Continue'], 1, true).expectContinue).toBe(true);
    expect(framingOf(['Host', 'a', 'expect', '100-continue'], 1, true).expectContinue).toBe(true);
    expect(framingOf(['Host', 'a', 'Expect', 'something-else'], 1, true).expectContinue).toBe(false);
    expect(framingOf(['Expect', '100-continue'], 1, false).expectContinue).toBe(false);
  });

  it('Host: required once on HTTP/1.1 requests, optional on 1.0, ignored on responses', () => {
    expect(framingOf(['HOST', 'x.local:8080'], 1, true).host).toBe('x.local:8080');
    expect(framingOf(['Host', ''], 1, true).host).toBe('');
    expect(statusOf(() => framingOf([], 1, true))).toBe(400);
    expect(statusOf(() => framingOf(['Host', 'a', 'host', 'a'], 1, true))).toBe(400);
    expect(statusOf(() => framingOf(['Host', 'a', 'Host', 'b'], 0, true))).toBe(400);
    expect(framingOf([], 0, true).host).toBe('');
    expect(framingOf(['Host', 'a', 'Host', 'b'], 1, false)).toMatchObject({ host: '', length: -1 });
  });

  it('fields of other names never affect framing (even ones that start like a framing name)', () => {
    const raw = ['Host', 'a', 'Content-Lengthy', 'x', 'Transfer-Encodings', 'gzip', 'Connections', 'close', 'X-Host', 'b', 'Hos', 'c'];
    expect(framingOf(raw, 1, true)).toEqual({ length: -1, chunked: false, close: false, connectionTokens: null, expectContinue: false, host: 'a' });
  });

  it('through the parser: a full request head and its framing', () => {
    expect(request(`POST /u HTTP/1.1\r\nhost: a.local\r\nContent-Length: 5, 5\r\nConnection: close, X-Trace\r\nExpect: 100-continue`)).toEqual({
      method: 'POST',
      target: '/u',
      minor: 1,
      raw: ['host', 'a.local', 'Content-Length', '5, 5', 'Connection', 'close, X-Trace', 'Expect', '100-continue'],
      length: 5,
      chunked: false,
      close: true,
      connectionTokens: ['x-trace'],
      expectContinue: true,
      host: 'a.local',
    });
  });
});
