/**
 * HTTP/1.1 message heads (RFC 9112), parsed strictly because a proxy that is lenient where the next hop
 * is strict (or the other way round) is how request smuggling happens. A head is decoded as latin1 —
 * one byte, one char — so every header byte is forwarded exactly as received, UTF-8 included, and the
 * parser works on a string with the engine's fast indexOf instead of byte loops.
 *
 * Pure: no sockets, no timers. The connection code (server.ts, client.ts) finds the end of a head with
 * Buffer#indexOf('\r\n\r\n') and hands the head's bytes here.
 */

/** A head the parser refuses, with the status the proxy answers downstream (upstream: always 502). */
export class HeadError extends Error {
  constructor(
    readonly status: 400 | 414 | 431 | 501 | 505,
    message: string,
  ) {
    super(message);
  }
}

/** Largest request or response head accepted (Node's default; Envoy's is 60 KiB). */
export const MAX_HEAD_BYTES = 16 * 1024;
/** Most header fields in one head (Envoy's default max_headers_count). */
export const MAX_HEADERS = 100;

export interface RequestHead {
  method: string;
  /** The request target as sent: origin-form `/p?q`, absolute-form `http://h/p`, or `*`. */
  target: string;
  /** HTTP/1.x minor version: 0 or 1. */
  minor: number;
  /** Header fields in order, flat [name, value, ...]: names as sent, values without surrounding blanks. */
  raw: string[];
}

export interface ResponseHead {
  status: number;
  minor: number;
  raw: string[];
}

// RFC 9110 5.6.2 token; a header name or a method must be one.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field values: visible chars, SP, HTAB and obs-text (0x80-0xff); no CTLs (NUL, CR, LF, ...).
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const BAD_VALUE = /[\0-\x08\x0a-\x1f\x7f]/;
// Request targets: no blanks or CTLs (a space inside would shift the version into the target).
const BAD_TARGET = /[\0-\x20\x7f]/;

/** Parses `head` (the bytes before the blank line, latin1-decoded, without the final CRLF CRLF). */
export function parseRequestHead(head: string): RequestHead {
  const eol = head.indexOf('\r\n');
  const line = eol < 0 ? head : head.slice(0, eol);
  const sp1 = line.indexOf(' ');
  const sp2 = sp1 < 0 ? -1 : line.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 < 0 || line.indexOf(' ', sp2 + 1) >= 0) throw new HeadError(400, 'malformed request line (want "METHOD target HTTP/1.1")');
  const method = line.slice(0, sp1);
  const target = line.slice(sp1 + 1, sp2);
  const version = line.slice(sp2 + 1);
  if (!TOKEN.test(method)) throw new HeadError(400, 'malformed request method');
  if (target.length === 0 || BAD_TARGET.test(target)) throw new HeadError(400, 'malformed request target');
  if (target.length > MAX_HEAD_BYTES / 2) throw new HeadError(414, 'request target too long');
  const minor = versionMinor(version);
  if (minor < 0) throw new HeadError(version.startsWith('HTTP/') ? 505 : 400, `unsupported protocol version "${version.slice(0, 16)}"`);
  return { method, target, minor, raw: eol < 0 ? [] : parseFields(head, eol + 2) };
}

/** Parses a response head; any error is the upstream's (the proxy answers 502). */
export function parseResponseHead(head: string): ResponseHead {
  const eol = head.indexOf('\r\n');
  const line = eol < 0 ? head : head.slice(0, eol);
  // "HTTP/1.1 200 OK": the reason phrase is optional and may contain spaces; it is not forwarded.
  const minor = versionMinor(line.slice(0, 8));
  const code = line.slice(9, 12);
  if (minor < 0 || line.charCodeAt(8) !== 32 || !/^[1-9]\d\d$/.test(code) || (line.length > 12 && line.charCodeAt(12) !== 32)) {
    throw new HeadError(400, `malformed status line "${line.slice(0, 40)}"`);
  }
  return { status: Number(code), minor, raw: eol < 0 ? [] : parseFields(head, eol + 2) };
}

function versionMinor(v: string): number {
  if (v === 'HTTP/1.1') return 1;
  if (v === 'HTTP/1.0') return 0;
  return -1;
}

function parseFields(head: string, from: number): string[] {
  const raw: string[] = [];
  let pos = from;
  const end = head.length;
  while (pos < end) {
    let eol = head.indexOf('\r\n', pos);
    if (eol < 0) eol = end;
    const c = head.charCodeAt(pos);
    // obs-fold (a line continuing the previous field) is rejected, as RFC 9112 5.2 allows.
    if (c === 32 || c === 9) throw new HeadError(400, 'obsolete line folding in header');
    const colon = head.indexOf(':', pos);
    if (colon < 0 || colon > eol) throw new HeadError(400, 'header line without a colon');
    const name = head.slice(pos, colon);
    // No blank between name and colon (RFC 9112 5.1: a known smuggling vector) and a token name.
    if (!TOKEN.test(name)) throw new HeadError(400, `malformed header name "${name.slice(0, 40)}"`);
    let vs = colon + 1;
    let ve = eol;
    while (vs < ve && isBlank(head.charCodeAt(vs))) vs++;
    while (ve > vs && isBlank(head.charCodeAt(ve - 1))) ve--;
    const value = head.slice(vs, ve);
    // A bare LF or CR inside a line is a line ending some parser downstream may honour: refuse it.
    if (BAD_VALUE.test(value)) throw new HeadError(400, `invalid character in header "${name.slice(0, 40)}"`);
    if (raw.length >= MAX_HEADERS * 2) throw new HeadError(431, `more than ${MAX_HEADERS} header fields`);
    raw.push(name, value);
    pos = eol + 2;
  }
  return raw;
}

function isBlank(c: number): boolean {
  return c === 32 || c === 9;
}

/** How a message body is delimited (RFC 9112 6.3). */
export interface BodyFraming {
  /** Content-Length, or -1 when absent. */
  length: number;
  chunked: boolean;
  /** `Connection: close` was sent (or HTTP/1.0 without keep-alive). */
  close: boolean;
  /** Extra hop-by-hop names listed in `Connection` (lower-case), null when none. */
  connectionTokens: string[] | null;
  /** `Expect: 100-continue` (requests). */
  expectContinue: boolean;
  /** `Host` (requests; '' when absent). */
  host: string;
}

/**
 * Reads the framing fields of a head. Refuses what RFC 9112 6.3 and 9110 8.6 call unrecoverable:
 * Content-Length and Transfer-Encoding together, a Transfer-Encoding other than a final `chunked`,
 * differing Content-Length values, and (requests) a missing or repeated Host on HTTP/1.1.
 */
export function framingOf(raw: string[], minor: number, request: boolean): BodyFraming {
  let length = -1;
  let te: string | undefined;
  let close = minor === 0;
  let sawClose = false;
  let connectionTokens: string[] | null = null;
  let expectContinue = false;
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const n = name.length;
    // Only names of the lengths below can matter: lower-case nothing else.
    if (n !== 4 && n !== 6 && n !== 10 && n !== 14 && n !== 17) continue;
    const lower = name.toLowerCase();
    const value = raw[i + 1]!;
    if (lower === 'content-length') {
      if (!/^\d{1,15}$/.test(value)) {
        // "5, 5" is one length said twice (RFC 9110 8.6); anything else is not a length.
        const parts = value.split(',').map((s) => s.trim());
        if (!parts.every((p) => /^\d{1,15}$/.test(p) && p === parts[0])) throw new HeadError(400, `invalid Content-Length "${value.slice(0, 20)}"`);
      }
      const v = parseInt(value, 10);
      if (length >= 0 && v !== length) throw new HeadError(400, 'conflicting Content-Length headers');
      length = v;
    } else if (lower === 'transfer-encoding') {
      te = te === undefined ? value : `${te}, ${value}`;
    } else if (lower === 'connection') {
      for (const t of value.toLowerCase().split(',')) {
        const tok = t.trim();
        if (tok === 'close') {
          close = true;
          sawClose = true;
        } else if (tok === 'keep-alive') {
          // HTTP/1.0 keeps the connection only when asked, and "close" anywhere wins (RFC 9112 9.6).
          if (minor === 0 && !sawClose) close = false;
        } else if (tok !== '') (connectionTokens ??= []).push(tok);
      }
    } else if (request && lower === 'expect') {
      if (value.toLowerCase() === '100-continue') expectContinue = true;
    } else if (request && lower === 'host') {
      if (host !== undefined) throw new HeadError(400, 'more than one Host header');
      host = value;
    }
  }
  let chunked = false;
  if (te !== undefined) {
    if (length >= 0) throw new HeadError(400, 'both Content-Length and Transfer-Encoding (request smuggling)');
    const codings = te.toLowerCase().split(',').map((c) => c.trim());
    if (codings.length !== 1 || codings[0] !== 'chunked') {
      // chunked twice, or not last, is malformed (RFC 9112 6.1); other codings are unsupported: the
      // proxy forwards bodies as received, so it only takes the one coding every hop understands.
      const malformed = codings.includes('chunked') || codings.some((c) => c === '');
      throw new HeadError(request && !malformed ? 501 : 400, `unsupported Transfer-Encoding "${te.slice(0, 40)}" (only chunked)`);
    }
    if (minor === 0) throw new HeadError(400, 'Transfer-Encoding on HTTP/1.0');
    chunked = true;
  }
  if (request && minor === 1 && host === undefined) throw new HeadError(400, 'missing Host header');
  return { length, chunked, close, connectionTokens, expectContinue, host: host ?? '' };
}
