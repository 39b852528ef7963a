import { watch, type FSWatcher } from 'node:fs';
import { basename } from 'node:path';

/**
 * One plain (inotify) fs.watch per directory of a local mesh, re-aimed with `set()` at the
 * directories last read. Shared by the file store's watch (src/store/file-store.ts) and
 * `meshctl proxy --config`'s config source (src/proxy/config-source.ts), which must not load the store.
 *
 * Not Node's recursive watch: on Linux it is JavaScript that watches each file it has seen, and
 * after an atomic save (a temp file renamed over the target) it reported nothing more for that
 * file; it also cost the proxy ~2 MB of idle RSS. A directory's own watch sees every entry in it.
 * A watch follows the directory it was opened on: when that one is removed (an event named like
 * the directory itself) the watch is marked stale and opened again at the next `set()`, or edits in
 * a directory made again under the same name (the filesystem may even reuse its inode) would be missed.
 */
export class DirWatches {
  readonly #watches = new Map<string, { watcher: FSWatcher; stale: boolean }>();

  /**
   * `onEvent` runs on every event, whatever its name. `onFailure` hears a directory that could not
   * be watched (`open`) or whose watch failed (`error`); the directory is then left to the caller's poll.
   */
  constructor(
    private readonly onEvent: () => void,
    private readonly onFailure: (dir: string, err: Error, when: 'open' | 'error') => void,
    private readonly persistent = true,
  ) {}

  /** Watches exactly `dirs`: closes the others and the stale, opens the missing. */
  set(dirs: Iterable<string>): void {
    const want = new Set(dirs);
    for (const [d, w] of this.#watches) {
      if (want.has(d) && !w.stale) continue;
      w.watcher.close();
      this.#watches.delete(d);
    }
    for (const d of want) if (!this.#watches.has(d)) this.#open(d);
  }

  close(): void {
    for (const w of this.#watches.values()) w.watcher.close();
    this.#watches.clear();
  }

  #open(d: string): void {
    let entry: { watcher: FSWatcher; stale: boolean };
    try {
      entry = { watcher: watch(d, { persistent: this.persistent }), stale: false };
    } catch (err) {
      this.onFailure(d, err as Error, 'open');
      return;
    }
    const name = basename(d);
    entry.watcher.on('change', (_event, filename) => {
      if (filename === name) entry.stale = true;
      this.onEvent();
    });
    entry.watcher.on('error', (err) => {
      entry.watcher.close();
      if (this.#watches.get(d) === entry) this.#watches.delete(d);
      this.onFailure(d, err, 'error');
      this.onEvent();
    });
    this.#watches.set(d, entry);
  }
}
