import { hostname } from 'node:os';
import { ClusterError } from '../core/errors.js';
import { close, link, openExclusive, readFile, rename, stat, uniqueToken, unlink, writeAll } from './fs-async.js';

export interface LockOptions {
  /** Give up after this long; the holder of a healthy lock keeps it for milliseconds only. */
  timeoutMs?: number;
  /**
   * A lock whose owner cannot be checked (another host, or a file with no owner written yet) is
   * taken as abandoned after this long.
   */
  staleMs?: number;
}

export type ReleaseLock = () => Promise<void>;

const HOST = hostname();

/**
 * Takes an exclusive cross-process lock by creating `lockPath` with O_EXCL, the one file-system
 * operation that is atomic on every local file system. The file names its owner (pid, host) so a
 * lock left behind by a process that died (kill -9, a crash) is detected and broken instead of
 * blocking every later write until someone deletes it by hand.
 */
export async function acquireLock(lockPath: string, opts: LockOptions = {}): Promise<ReleaseLock> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const staleMs = opts.staleMs ?? 30_000;
  const token = `${process.pid} ${HOST} ${uniqueToken()}\n`;
  const deadline = Date.now() + timeoutMs;
  // Short, growing, jittered waits: a healthy holder keeps the lock for a few milliseconds, and the
  // jitter keeps two waiters from retrying in lockstep.
  let wait = 1;
  let lastOwner = '';
  for (;;) {
    try {
      const fd = await openExclusive(lockPath);
      try {
        try {
          await writeAll(fd, token);
        } finally {
          await close(fd);
        }
      } catch (err) {
        // The file is ours but names no owner (or one we cannot vouch for): left behind, it would
        // block every writer until judged stale, or for good while this process lives.
        await unlink(lockPath).catch(() => undefined);
        throw err;
      }
      return async () => {
        await unlink(lockPath).catch(() => undefined);
      };
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) {
        throw new ClusterError(`cannot create lock file ${lockPath}: ${errMessage(err)}`, 'check that the directory is writable', err);
      }
    }
    const owner = await readOwner(lockPath, staleMs);
    if (owner.stale) await breakStaleLock(lockPath, owner.content);
    else lastOwner = owner.content.trim();
    if (Date.now() >= deadline) {
      throw new ClusterError(
        `timed out after ${timeoutMs} ms waiting for the lock ${lockPath}${lastOwner ? ` (held by pid/host ${lastOwner.split(' ').slice(0, 2).join('@')})` : ''}`,
        `if no meshctl process is using that directory, delete ${lockPath}`,
      );
    }
    await sleep(wait + Math.random() * wait);
    wait = Math.min(wait * 2, 20);
  }
}

/** Runs `fn` while holding the lock; the lock is released whatever `fn` does. */
export async function withLock<T>(lockPath: string, fn: () => Promise<T>, opts?: LockOptions): Promise<T> {
  const release = await acquireLock(lockPath, opts);
  try {
    return await fn();
  } finally {
    await release();
  }
}

async function readOwner(lockPath: string, staleMs: number): Promise<{ stale: boolean; content: string }> {
  let content: string;
  let ageMs: number;
  try {
    [content, ageMs] = await Promise.all([readFile(lockPath, 'utf8'), stat(lockPath).then((s) => Date.now() - s.mtimeMs)]);
  } catch (err) {
    // Released between our open() and now: simply try again.
    if (isErrno(err, 'ENOENT')) return { stale: false, content: '' };
    throw err;
  }
  const [pidText, host] = content.trim().split(' ');
  const pid = Number(pidText);
  // An owner that has created the file but not yet written its pid is a live one, for a moment.
  if (!Number.isInteger(pid) || pid <= 0 || host !== HOST) return { stale: ageMs > staleMs, content };
  return { stale: !processAlive(pid), content };
}

/**
 * Removes a lock judged abandoned. Two waiters may both judge it so; renaming it away first (atomic)
 * means only one of them removes it, and the content check notices the rare case where the rename
 * took a fresh lock that replaced the stale one in between, which is then put back with link()
 * (which, like O_EXCL, fails rather than overwrite).
 */
async function breakStaleLock(lockPath: string, staleContent: string): Promise<void> {
  const aside = `${lockPath}.stale-${uniqueToken()}`;
  try {
    await rename(lockPath, aside);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return; // someone else broke it already
    throw err;
  }
  try {
    const content = await readFile(aside, 'utf8');
    if (content !== staleContent) await link(aside, lockPath).catch(() => undefined);
  } finally {
    await unlink(aside).catch(() => undefined);
  }
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return isErrno(err, 'EPERM');
  }
}

export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
