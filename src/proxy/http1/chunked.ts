import { HeadError } from './head.js';

/**
 * Tracks a chunked body (RFC 9112 7.1) as its bytes stream through, so the proxy knows where the
 * message ends without copying it: bodies are forwarded in their chunked form as received (the next
 * hop speaks HTTP/1.1 too), and only an HTTP/1.0 client gets the decoded data (`onData`).
 * Strict on purpose: a size line that one parser reads differently from another is a smuggling vector,
 * so anything but hex digits, an extension after `;`, and CRLF is refused.
 */

const SIZE = 0;
const EXT = 1;
const SIZE_LF = 2;
const DATA = 3;
const DATA_CR = 4;
const DATA_LF = 5;
const TRAILER_START = 6;
const TRAILER = 7;
const TRAILER_LF = 8;
const FINAL_LF = 9;
const DONE = 10;

/** More hex digits than this overflow what a Number holds exactly (13 digits = 2^52). */
const MAX_SIZE_DIGITS = 13;
/** Bytes of chunk extensions or trailers accepted per body: they are metadata, not payload. */
const MAX_META_BYTES = 16 * 1024;

export class ChunkedScanner {
  #state = SIZE;
  #size = 0;
  #digits = 0;
  #meta = 0;

  get done(): boolean {
    return this.#state === DONE;
  }

  /**
   * Reads buf[start, end). Returns the index just past the body's last byte when the body ends in
   * this range, else `end`. `onData` gets the payload slices (for decoding); throws HeadError(400).
   */
  scan(buf: Buffer, start: number, end: number, onData?: (data: Buffer) => void): number {
    let pos = start;
    let state = this.#state;
    while (pos < end) {
      if (state === DATA) {
        const n = Math.min(this.#size, end - pos);
        if (onData) onData(buf.subarray(pos, pos + n));
        pos += n;
        this.#size -= n;
        if (this.#size === 0) state = DATA_CR;
        continue;
      }
      const c = buf[pos++]!;
      switch (state) {
        case SIZE: {
          const v = hexValue(c);
          if (v >= 0) {
            if (++this.#digits > MAX_SIZE_DIGITS) return this.#fail('chunk size too large');
            this.#size = this.#size * 16 + v;
          } else if (this.#digits === 0) return this.#fail('malformed chunk size');
          else if (c === 0x3b) state = EXT; // ';'
          else if (c === 0x0d) state = SIZE_LF;
          else return this.#fail('malformed chunk size');
          break;
        }
        case EXT:
          if (c === 0x0d) state = SIZE_LF;
          else if ((c < 0x20 && c !== 0x09) || c === 0x7f) return this.#fail('invalid character in chunk extension');
          else if (++this.#meta > MAX_META_BYTES) return this.#fail('chunk extensions too long');
          break;
        case SIZE_LF:
          if (c !== 0x0a) return this.#fail('chunk size line not ended by CRLF');
          this.#digits = 0;
          state = this.#size === 0 ? TRAILER_START : DATA;
          break;
        case DATA_CR:
          if (c !== 0x0d) return this.#fail('chunk data not followed by CRLF');
          state = DATA_LF;
          break;
        case DATA_LF:
          if (c !== 0x0a) return this.#fail('chunk data not followed by CRLF');
          state = SIZE;
          break;
        case TRAILER_START:
          if (c === 0x0d) state = FINAL_LF;
          else if (c < 0x21 || c === 0x7f) return this.#fail('malformed trailer');
          else state = TRAILER;
          break;
        case TRAILER:
          if (c === 0x0d) state = TRAILER_LF;
          else if ((c < 0x20 && c !== 0x09) || c === 0x7f) return this.#fail('invalid character in trailer');
          else if (++this.#meta > MAX_META_BYTES) return this.#fail('trailers too long');
          break;
        case TRAILER_LF:
          if (c !== 0x0a) return this.#fail('trailer line not ended by CRLF');
          state = TRAILER_START;
          break;
        case FINAL_LF:
          if (c !== 0x0a) return this.#fail('chunked body not ended by CRLF');
          this.#state = DONE;
          return pos;
        default:
          // DONE: the caller hands bytes past the end to the next message, never here.
          return pos - 1;
      }
    }
    this.#state = state;
    return end;
  }

  #fail(why: string): never {
    throw new HeadError(400, why);
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}
