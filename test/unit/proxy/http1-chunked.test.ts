import { describe, expect, it } from 'vitest';
import { ChunkedScanner } from '../../../src/proxy/http1/chunked.js';
import { HeadError } from '../../../src/proxy/http1/head.js';

/**
 * Direct tests of ChunkedScanner (src/proxy/http1/chunked.ts). A body reaches the scanner in whatever
 * pieces TCP delivers, so every valid body is scanned whole, byte by byte, and split at every index:
 * the end index and the decoded payload must not depend on where the cuts fall.
 */

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

interface Scan {
  /** Index just past the body's last byte, or -1 when the scanner never finished. */
  end: number;
  payload: Buffer;
}

/** Scans buf[0, len) in the pieces given by `cuts` (sorted indexes), collecting onData. */
function scanPieces(buf: Buffer, cuts: number[]): Scan {
  const s = new ChunkedScanner();
  const parts: Buffer[] = [];
  const bounds = [0, ...cuts, buf.length];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const from = bounds[i]!;
    const to = bounds[i + 1]!;
    if (from === to) continue;
    const got = s.scan(buf, from, to, (d) => parts.push(Buffer.from(d)));
    if (s.done) return { end: got, payload: Buffer.concat(parts) };
    expect(got).toBe(to);
  }
  return { end: -1, payload: Buffer.concat(parts) };
}

const whole = (buf: Buffer): Scan => scanPieces(buf, []);
const byteByByte = (buf: Buffer): Scan => scanPieces(buf, Array.from({ length: buf.length - 1 }, (_, i) => i + 1));

/** The HeadError status scanning `buf` in the given pieces throws, or 'ok'. */
function failsWith(buf: Buffer, cuts: number[] = []): number | 'ok' {
  try {
    scanPieces(buf, cuts);
    return 'ok';
  } catch (err) {
    if (err instanceof HeadError) return err.status;
    throw err;
  }
}

const valid: { name: string; body: string; payload: string }[] = [
  { name: 'one chunk', body: '5\r\nhello\r\n0\r\n\r\n', payload: 'hello' },
  { name: 'empty body (last chunk only)', body: '0\r\n\r\n', payload: '' },
  { name: 'several chunks', body: '3\r\nabc\r\n1\r\nd\r\n4\r\nefgh\r\n0\r\n\r\n', payload: 'abcdefgh' },
  { name: 'upper-case and mixed-case hex', body: `A\r\n${'x'.repeat(10)}\r\n1f\r\n${'y'.repeat(31)}\r\n1F\r\n${'z'.repeat(31)}\r\n0\r\n\r\n`, payload: 'x'.repeat(10) + 'y'.repeat(31) + 'z'.repeat(31) },
  { name: 'leading zeros (13 digits is the limit)', body: '0005\r\nhello\r\n0000000000003\r\nabc\r\n000\r\n\r\n', payload: 'helloabc' },
  { name: 'chunk extensions, on data chunks and the last chunk', body: '5;name=val;x="a b"\r\nhello\r\n2;\tq\r\nhi\r\n0;last=1\r\n\r\n', payload: 'hellohi' },
  { name: 'trailers', body: '5\r\nhello\r\n0\r\nX-Trailer: 1\r\nChecksum: abc\tdef\r\n\r\n', payload: 'hello' },
  { name: 'payload containing CRLFs and a fake last chunk', body: '9\r\n\r\n0\r\n\r\nxx\r\n0\r\n\r\n', payload: '\r\n0\r\n\r\nxx' },
  { name: 'binary payload with obs-text bytes', body: '4\r\n\x00\xff\x80\r\r\n0\r\n\r\n', payload: '\x00\xff\x80\r' },
];

describe('ChunkedScanner: valid bodies, any split', () => {
  for (const c of valid) {
    it(`${c.name}: the same end index and payload whole, byte by byte and split at every index`, () => {
      // Bytes after the body belong to the next message: they must not be consumed.
      const body = b(c.body);
      const buf = Buffer.concat([body, b('GET /next HTTP/1.1\r\n')]);
      const want: Scan = { end: body.length, payload: b(c.payload) };
      expect(whole(buf)).toEqual(want);
      expect(byteByByte(buf)).toEqual(want);
      for (let k = 1; k < buf.length; k++) expect(scanPieces(buf, [k]), `split at ${k}`).toEqual(want);
      // Three pieces too: every pair of cuts inside the body.
      for (let i = 1; i < body.length; i++) for (let j = i; j < body.length; j++) expect(scanPieces(buf, [i, j]), `split at ${i},${j}`).toEqual(want);
    });
  }

  it('a large body (3 chunks of 64 KiB) split at arbitrary points decodes exactly', () => {
    const data = Buffer.alloc(3 * 65536);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 0xff;
    const parts: Buffer[] = [];
    for (let i = 0; i < 3; i++) parts.push(b('10000\r\n'), data.subarray(i * 65536, (i + 1) * 65536), b('\r\n'));
    parts.push(b('0\r\n\r\n'));
    const buf = Buffer.concat(parts);
    for (const cuts of [[], [1], [7, 8, 65543], [100, 65544, 65545, 131090, buf.length - 1]]) expect(scanPieces(buf, cuts)).toEqual({ end: buf.length, payload: data });
  });

  it('scan without onData only finds the end; done stays false until the final CRLF', () => {
    const buf = b('5\r\nhello\r\n0\r\n\r\n');
    const s = new ChunkedScanner();
    expect(s.scan(buf, 0, buf.length - 1)).toBe(buf.length - 1);
    expect(s.done).toBe(false);
    expect(s.scan(buf, buf.length - 1, buf.length)).toBe(buf.length);
    expect(s.done).toBe(true);
  });

  it('a done scanner consumes nothing more: scan returns its start', () => {
    const buf = b('0\r\n\r\nGET / HTTP/1.1\r\n');
    const s = new ChunkedScanner();
    expect(s.scan(buf, 0, buf.length)).toBe(5);
    let called = false;
    expect(s.scan(buf, 5, buf.length, () => (called = true))).toBe(5);
    expect(called).toBe(false);
  });

  it('scans inside a larger buffer from a start offset', () => {
    const buf = b('GARBAGE3\r\nabc\r\n0\r\n\r\nREST');
    const s = new ChunkedScanner();
    const out: string[] = [];
    expect(s.scan(buf, 7, buf.length, (d) => out.push(d.toString('latin1')))).toBe(buf.length - 4);
    expect(out.join('')).toBe('abc');
  });

  it('decode mode hands onData slices of the input (no copy) covering exactly the payload', () => {
    const buf = b('3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n');
    const slices: Buffer[] = [];
    new ChunkedScanner().scan(buf, 0, buf.length, (d) => slices.push(d));
    expect(slices.map((d) => d.toString('latin1'))).toEqual(['abc', 'de']);
    expect(slices[0]!.buffer).toBe(buf.buffer);
  });

});

describe('ChunkedScanner: malformed bodies -> HeadError 400, whole or split', () => {
  const bad: { name: string; body: string }[] = [
    { name: 'no size', body: '\r\nhello\r\n0\r\n\r\n' },
    { name: 'non-hex size', body: 'g\r\nhello\r\n0\r\n\r\n' },
    { name: '0x prefix', body: '0x5\r\nhello\r\n0\r\n\r\n' },
    { name: 'negative size', body: '-5\r\nhello\r\n0\r\n\r\n' },
    { name: 'space after the size', body: '5 \r\nhello\r\n0\r\n\r\n' },
    { name: 'space before the size', body: ' 5\r\nhello\r\n0\r\n\r\n' },
    { name: 'extension without a size', body: ';x\r\nhello\r\n0\r\n\r\n' },
    { name: '14 hex digits (overflow)', body: '00000000000005\r\nhello\r\n0\r\n\r\n' },
    { name: '16 hex digits (2^64-1)', body: 'ffffffffffffffff\r\nhello\r\n0\r\n\r\n' },
    { name: 'size line ended by a bare LF', body: '5\nhello\r\n0\r\n\r\n' },
    { name: 'size line ended by a bare CR', body: '5\rhello\r\n0\r\n\r\n' },
    { name: 'CTL in an extension', body: '5;a\0b\r\nhello\r\n0\r\n\r\n' },
    { name: 'bare LF in an extension', body: '5;a\nb\r\nhello\r\n0\r\n\r\n' },
    { name: 'data longer than its size', body: '5\r\nhelloX\r\n0\r\n\r\n' },
    { name: 'data shorter than its size', body: '6\r\nhello\r\n0\r\n\r\n' },
    { name: 'data followed by a bare LF', body: '5\r\nhello\n0\r\n\r\n' },
    { name: 'data followed by LF LF', body: '5\r\nhello\n\n0\r\n\r\n' },
    { name: 'data followed by CR CR', body: '5\r\nhello\r\r0\r\n\r\n' },
    { name: 'data followed by CR and not LF', body: '5\r\nhello\rX0\r\n\r\n' },
    { name: 'NUL where a trailer or the final CRLF belongs', body: '0\r\n\x00\r\n' },
    { name: 'final CR without LF', body: '0\r\n\rX' },
    { name: 'last chunk ended by a bare LF', body: '0\n\r\n' },
    { name: 'trailer starting with SP (obs-fold)', body: '0\r\n X: 1\r\n\r\n' },
    { name: 'trailer starting with HTAB', body: '0\r\n\tX: 1\r\n\r\n' },
    { name: 'bare LF inside a trailer', body: '0\r\nX: a\nY: b\r\n\r\n' },
    { name: 'trailer line ended by CR without LF', body: '0\r\nX: a\rY\r\n\r\n' },
    { name: 'DEL in a trailer', body: '0\r\nX: a\x7f\r\n\r\n' },
  ];
  for (const c of bad) {
    it(c.name, () => {
      const buf = b(c.body);
      expect(failsWith(buf)).toBe(400);
      for (let k = 1; k < buf.length; k++) expect(failsWith(buf, [k]), `split at ${k}`).toBe(400);
    });
  }

  it('13 hex digits of f (2^52-1) is a size, not an overflow', () => {
    const s = new ChunkedScanner();
    const head = b('fffffffffffff\r\n');
    expect(s.scan(head, 0, head.length)).toBe(head.length);
    expect(s.done).toBe(false);
  });

  it('chunk extensions over 16 KiB in total are refused, across chunks too', () => {
    expect(failsWith(b(`1;${'e'.repeat(16 * 1024 + 1)}\r\na\r\n0\r\n\r\n`))).toBe(400);
    const half = 'e'.repeat(9 * 1024);
    expect(failsWith(b(`1;${half}\r\na\r\n1;${half}\r\nb\r\n0\r\n\r\n`))).toBe(400);
    expect(whole(b(`1;${'e'.repeat(16 * 1024 - 1)}\r\na\r\n0\r\n\r\n`)).payload.toString()).toBe('a');
  });

  it('trailers over 16 KiB are refused', () => {
    expect(failsWith(b(`0\r\nX: ${'t'.repeat(16 * 1024)}\r\n\r\n`))).toBe(400);
  });
});
