/**
 * The file operations the file store and its lock need, as promises over node:fs's callback API.
 * Not fs's promises API: `meshctl proxy --config DIR` loads the store into the sidecar, and that
 * module costs it ~1.1 MB of idle RSS (it loads readline and FileHandle machinery with it),
 * while node:fs and node:util are loaded by Node's bootstrap anyway. FileHandle uses become
 * fd-based calls (openExclusive, writeAll, fsync, close) so callers keep their try/finally shape.
 */
import * as fs from 'node:fs';
import { promisify } from 'node:util';

export const link = promisify(fs.link);
export const mkdir = promisify(fs.mkdir);
export const readdir = promisify(fs.readdir);
export const readFile = promisify(fs.readFile);
export const rename = promisify(fs.rename);
/** `stat(path)` and `stat(path, { bigint: true })`, typed by overload as fs.promises.stat is. */
export const stat = promisify(fs.stat);
export const unlink = promisify(fs.unlink);
export const fsync = promisify(fs.fsync);
export const close = promisify(fs.close);

const openFd = promisify(fs.open);
const writeFd = promisify(fs.write);

/** Creates `path` with O_CREAT|O_EXCL ('wx'): fails with EEXIST rather than open a file that exists. */
export function openExclusive(path: string, mode = 0o666): Promise<number> {
  return openFd(path, 'wx', mode);
}

/**
 * Writes all of `text` to `fd` from its current position. fs.write may write less than it was
 * given (FileHandle.writeFile loops for the same reason), so this loops until every byte is out.
 */
export async function writeAll(fd: number, text: string): Promise<void> {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await writeFd(fd, buf, off, buf.length - off, null);
    off += bytesWritten;
  }
}

let counter = 0;

/**
 * A name part no other writer uses at the same time: pid (other processes), a counter (this
 * process) and a few random base36 digits (a recycled pid after a crash). It needs no
 * unpredictability: files named with it are created with 'wx', which refuses to reuse one.
 */
export function uniqueToken(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `${process.pid}-${counter.toString(36)}-${Math.random().toString(36).slice(2, 10).padEnd(8, '0')}`;
}
