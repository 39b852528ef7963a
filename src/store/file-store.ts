import { basename, dirname, join, relative } from 'node:path';
import { kindInfo, lookupKind } from '../api/kinds.js';
import type { Resource, ResourceRef } from '../api/resource.js';
import { contentHash64 } from '../core/compile/content-hash.js';
import { DirWatches } from '../core/dir-watches.js';
import { ClusterError, ConflictError, InputError } from '../core/errors.js';
import { isHiddenName, isYamlName } from '../core/mesh-dir-names.js';
import {
  MAX_MODIFY_RETRIES,
  StoreConflict,
  type ApplyOptions,
  type ConfigStore,
  type ModifyResult,
  type WatchEvent,
  type Watcher,
} from './config-store.js';
import { isErrno, withLock } from './file-lock.js';
import { close, fsync, mkdir, openExclusive, readdir, readFile, rename, stat, uniqueToken, unlink, writeAll } from './fs-async.js';
import { canonicalJson, deepEqualJson, isRecord, objectsOf, parseYamlFile, renderEdited, type DocEdit, type YamlFile } from './yaml-docs.js';
import { mapLimit } from '../core/map-limit.js';

export const DEFAULT_NAMESPACE = 'default';
export const LOCK_FILE = '.meshctl.lock';

export interface FileStoreOptions {
  /** How long a write waits for another process's lock before giving up. */
  lockTimeoutMs?: number;
  /** Safety-net rescan interval for watches, beside fs.watch events (which can be dropped). */
  watchPollMs?: number;
  /** Quiet time after a file-system event before a watch rescans: editors write in bursts. */
  watchDebounceMs?: number;
}

/** Where an object lives: which file, which document, which List item. */
interface Entry {
  resource: Resource;
  file: string;
  docIndex: number;
  itemIndex?: number;
  line: number;
  /** True when the file gives no namespace and the object is in the default one by implication. */
  impliedNamespace: boolean;
}

interface CachedFile {
  mtimeNs: bigint;
  ctimeNs: bigint;
  size: bigint;
  ino: bigint;
  /** When the text was read: a file changed within the clock's granularity of that is re-read. */
  readAtMs: number;
  text: string;
  entries: Entry[];
}

type Index = Map<string, Entry>;

// File times come from a coarse kernel clock (a few ms), so two writes of the same size in one tick
// leave (mtime, size) unchanged. As git does for its index, a file whose mtime is this close to the
// moment it was read is "racily clean" and is read again (only re-parsed if its text changed).
const RACY_WINDOW_MS = 2_000;

/**
 * The file backend of the ConfigStore: a directory of multi-document YAML files (recursively;
 * dotfiles and dot-directories are skipped). Edits change the document in place and keep the rest of
 * the file byte for byte; writes are atomic (temp file + rename) and serialised across processes by
 * a lock file; resourceVersions are content hashes, so nothing but the objects is ever written.
 */
export class FileStore implements ConfigStore {
  readonly backend = 'file' as const;
  readonly defaultNamespace = DEFAULT_NAMESPACE;
  readonly location: string;
  readonly #dir: string;
  readonly #opts: Required<FileStoreOptions>;
  readonly #cache = new Map<string, CachedFile>();
  readonly #watchers = new Set<Watcher>();
  #dirWatch: DirWatch | undefined;
  /** The directories the last index walked (the root and its namespace directories): what the watch watches. */
  #dirs: readonly string[] = [];
  #parses = 0;
  /** Serialises this process's own writers before they contend for the lock file. */
  #lockChain: Promise<unknown> = Promise.resolve();

  private constructor(dir: string, opts: FileStoreOptions) {
    this.#dir = dir;
    this.location = dir;
    this.#opts = { lockTimeoutMs: opts.lockTimeoutMs ?? 15_000, watchPollMs: opts.watchPollMs ?? 2_000, watchDebounceMs: opts.watchDebounceMs ?? 25 };
  }

  static async open(dir: string, opts: FileStoreOptions = {}): Promise<FileStore> {
    const fix = 'create it with `meshctl install --local DIR`, or pass an existing directory';
    try {
      const st = await stat(dir);
      if (!st.isDirectory()) throw new ClusterError(`local mesh ${dir} is not a directory`, fix);
    } catch (err) {
      if (err instanceof ClusterError) throw err;
      if (isErrno(err, 'ENOENT')) throw new ClusterError(`local mesh directory ${dir} does not exist`, fix, err);
      throw new ClusterError(`cannot open local mesh directory ${dir}: ${(err as Error).message}`, fix, err);
    }
    return new FileStore(dir, opts);
  }

  async list(kind: string, namespace?: string): Promise<Resource[]> {
    return this.#select(await this.#index(), kind, namespace);
  }

  /** Every object of these kinds, kind by kind, from one read of the directory (list() reads it once per call). */
  async listKinds(kinds: readonly string[]): Promise<Resource[]> {
    const index = await this.#index();
    return kinds.flatMap((kind) => this.#select(index, kind));
  }

  #select(index: Index, kind: string, namespace?: string): Resource[] {
    const k = canonicalKind(kind);
    const out: Resource[] = [];
    for (const e of index.values()) {
      if (e.resource.kind !== k) continue;
      if (namespace !== undefined && isNamespaced(k) && e.resource.metadata.namespace !== namespace) continue;
      out.push(structuredClone(e.resource));
    }
    return out.sort((a, b) => compareStr(a.metadata.namespace ?? '', b.metadata.namespace ?? '') || compareStr(a.metadata.name, b.metadata.name));
  }

  async get(ref: ResourceRef): Promise<Resource | undefined> {
    const e = (await this.#index()).get(keyOf(ref));
    return e ? structuredClone(e.resource) : undefined;
  }

  /** How many times a file has been parsed: the stat cache should keep this flat for an unchanged directory. */
  get parseCount(): number {
    return this.#parses;
  }

  /** The file and line an object was read from, for messages that point people at their YAML. */
  async sourceOf(ref: ResourceRef): Promise<{ file: string; line: number } | undefined> {
    const e = (await this.#index()).get(keyOf(ref));
    return e ? { file: e.file, line: e.line } : undefined;
  }

  async apply(resource: Resource, opts: ApplyOptions = {}): Promise<Resource> {
    const expected = resource.metadata?.resourceVersion;
    return this.#write(resource, expected === undefined ? { kind: 'any' } : { kind: 'version', version: expected }, opts.dryRun ?? false);
  }

  async modify(ref: ResourceRef, mutate: (current: Resource | undefined) => Resource | undefined, opts: ApplyOptions = {}): Promise<ModifyResult> {
    const dryRun = opts.dryRun ?? false;
    const attempt = async (inLock: boolean): Promise<ModifyResult> => {
      const before = await this.get(ref);
      const desired = mutate(before === undefined ? undefined : structuredClone(before));
      if (desired === undefined || (before !== undefined && sameObject(normalize(desired), before))) {
        return { before, after: before, changed: false, retries: 0 };
      }
      const expect: Expectation = before === undefined ? { kind: 'absent' } : { kind: 'version', version: before.metadata.resourceVersion ?? '' };
      const after = await this.#write(desired, expect, dryRun, inLock);
      return { before, after, changed: true, retries: 0 };
    };
    // The first try is optimistic: read and mutate outside the lock, check-and-write inside it. A
    // retry reads, mutates and writes all under the lock, so it cannot lose to another meshctl;
    // only a writer that ignores the lock (an editor) can still make it conflict again.
    for (let retries = 0; ; retries++) {
      try {
        const result = retries === 0 ? await attempt(false) : await this.#locked(() => attempt(true));
        return { ...result, retries };
      } catch (err) {
        if (!(err instanceof StoreConflict)) throw err;
        if (retries >= MAX_MODIFY_RETRIES) {
          throw new ConflictError(
            `${ref.kind} ${ref.namespace ?? this.defaultNamespace}/${ref.name} in ${this.#dir} kept changing while being updated (${retries + 1} attempts)`,
            'try again; if it persists, stop whatever else is rewriting that file',
          );
        }
      }
    }
  }

  async delete(ref: ResourceRef, opts: { dryRun?: boolean } = {}): Promise<boolean> {
    return this.#locked(async () => {
      const hit = await this.#find(ref);
      if (!hit) return false;
      if (opts.dryRun) return true;
      const { entry, file, found } = hit;
      const edit: DocEdit = { op: 'delete', docIndex: found.docIndex, ...(found.itemIndex === undefined ? {} : { itemIndex: found.itemIndex }) };
      const text = renderEdited(file, [edit]);
      // A file left with nothing but comments (or nothing) goes: it described the deleted object.
      if (parseYamlFile(entry.file, text).docs.every((d) => d.contents === null)) await unlink(entry.file);
      else await writeAtomic(entry.file, text);
      this.#cache.delete(entry.file);
      return true;
    });
  }

  async watch(kind: string, namespace: string | undefined, onEvent: (event: WatchEvent) => void, onError?: (err: Error) => void): Promise<Watcher> {
    const k = canonicalKind(kind);
    const select = (index: Index): Map<string, Resource> => {
      const m = new Map<string, Resource>();
      for (const [key, e] of index) {
        if (e.resource.kind !== k) continue;
        if (namespace !== undefined && isNamespaced(k) && e.resource.metadata.namespace !== namespace) continue;
        m.set(key, e.resource);
      }
      return m;
    };
    const report = (err: unknown): void => onError?.(err instanceof Error ? err : new Error(String(err)));

    // Like a Kubernetes watch started without a resourceVersion: the current objects arrive first
    // as ADDED, then changes.
    let known = select(await this.#index());
    for (const r of known.values()) onEvent({ type: 'ADDED', resource: structuredClone(r) });

    const subscriber: Subscriber = {
      onIndex: (index) => {
        const now = select(index);
        for (const [key, r] of now) {
          const old = known.get(key);
          if (!old) onEvent({ type: 'ADDED', resource: structuredClone(r) });
          else if (old.metadata.resourceVersion !== r.metadata.resourceVersion) onEvent({ type: 'MODIFIED', resource: structuredClone(r) });
        }
        for (const [key, r] of known) if (!now.has(key)) onEvent({ type: 'DELETED', resource: structuredClone(r) });
        known = now;
      },
      onError: report,
    };
    const dir = this.#dirWatch ?? this.#startDirWatch(report);
    dir.subscribers.add(subscriber);

    let stopped = false;
    const watcher: Watcher = {
      stop: async () => {
        if (stopped) return;
        stopped = true;
        this.#watchers.delete(watcher);
        dir.subscribers.delete(subscriber);
        if (dir.subscribers.size === 0) {
          if (this.#dirWatch === dir) this.#dirWatch = undefined;
          dir.stop();
        }
        await dir.running;
      },
    };
    this.#watchers.add(watcher);
    return watcher;
  }

  /**
   * One directory watch for all of this store's watches (the controller watches eight kinds): one
   * fs.watch per directory the index walked, one poll, one index per change, handed to every
   * subscriber. Eight of each kept an idle watcher rescanning four times a second and its RSS creeping up.
   */
  #startDirWatch(reportFirst: (err: unknown) => void): DirWatch {
    const dir: DirWatch = {
      subscribers: new Set(),
      running: undefined,
      stop: () => {
        stopped = true;
        clearTimeout(timer);
        clearInterval(poll);
        watches.close();
      },
    };
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let again = false;
    const rescan = async (): Promise<void> => {
      // Only the subscribers there when the scan starts: one that joins meanwhile has read a newer
      // index of its own, and this older one would take its objects back a version.
      const subs = [...dir.subscribers];
      let index: Index;
      try {
        index = await this.#index();
      } catch (err) {
        // A half-saved file is normal while someone edits: keep the last good state and say why.
        watchDirs();
        if (!stopped) for (const s of subs) if (dir.subscribers.has(s)) tell(s, err);
        return;
      }
      watchDirs();
      if (stopped) return;
      for (const s of subs) {
        if (!dir.subscribers.has(s)) continue;
        // One watcher's failing callback is its own error; the others still get the change.
        try {
          s.onIndex(index);
        } catch (err) {
          tell(s, err);
        }
      }
    };
    const tell = (s: Subscriber, err: unknown): void => {
      try {
        s.onError(err);
      } catch {
        // An error handler that throws has nowhere left to report to; the watch goes on.
      }
    };
    const run = (): void => {
      if (dir.running) {
        again = true;
        return;
      }
      dir.running = rescan().finally(() => {
        dir.running = undefined;
        if (again && !stopped) {
          again = false;
          run();
        }
      });
    };
    const schedule = (): void => {
      if (stopped) return;
      clearTimeout(timer);
      timer = setTimeout(run, this.#opts.watchDebounceMs);
    };
    const reportAll = (err: Error): void => {
      if (dir.subscribers.size === 0) reportFirst(err);
      for (const s of dir.subscribers) s.onError(err);
    };

    // One plain watch per directory walked (src/core/dir-watches.ts). Every event schedules a
    // (debounced) rescan, whatever its name; a rescan of unchanged files costs a stat each, and it
    // re-aims the watches at the directories it walked.
    let warned = false;
    const watches = new DirWatches(schedule, (d, err, when) => {
      // A directory removed since it was walked needs no watch; the root that cannot be watched is said once.
      if (d !== this.#dir) return;
      if (when === 'error') return reportAll(new ClusterError(`watching ${this.#dir} failed: ${err.message}; falling back to polling`));
      if (warned) return;
      warned = true;
      reportAll(new ClusterError(`cannot watch ${this.#dir}: ${err.message}; falling back to polling every ${this.#opts.watchPollMs} ms`));
    });
    const watchDirs = (): void => {
      if (!stopped) watches.set([this.#dir, ...this.#dirs]);
    };
    watchDirs();
    // fs.watch can drop events (inotify queue overflow, new sub-directories racing the watcher), so a
    // slow poll backs it up; with the stat cache a rescan of an unchanged directory parses nothing.
    const poll = setInterval(run, this.#opts.watchPollMs);
    poll.unref();
    this.#dirWatch = dir;
    return dir;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#watchers].map((w) => w.stop()));
  }

  // ---- writing ----

  /** `inLock`: the caller already holds the lock (a retry inside modify). */
  async #write(resource: Resource, expect: Expectation, dryRun: boolean, inLock = false): Promise<Resource> {
    const desired = normalize(resource);
    validateForWrite(desired);
    const ref = { kind: desired.kind, namespace: desired.metadata.namespace, name: desired.metadata.name };
    const body = async (): Promise<Resource> => {
      const hit = await this.#find(ref);
      const { entry, file, found } = hit ?? {};
      const current = found?.current;
      if (expect.kind === 'absent' && current) throw new StoreConflict(ref);
      if (expect.kind === 'version' && current?.metadata.resourceVersion !== expect.version) throw new StoreConflict(ref);

      const stored = withVersion(desired);
      if (dryRun) return stored;
      const toWrite = forFile(desired, entry?.impliedNamespace ?? false);
      if (file && found && entry) {
        const edit: DocEdit = { op: 'update', docIndex: found.docIndex, value: toWrite, ...(found.itemIndex === undefined ? {} : { itemIndex: found.itemIndex }) };
        await writeAtomic(entry.file, renderEdited(file, [edit]));
        this.#cache.delete(entry.file);
        return stored;
      }
      const path = this.#newPath(desired);
      await mkdir(dirname(path), { recursive: true });
      let existing: YamlFile | undefined;
      try {
        existing = parseYamlFile(path, await readFile(path, 'utf8'));
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
      }
      const text = existing ? renderEdited(existing, [], [toWrite]) : renderEdited(parseYamlFile(path, ''), [], [toWrite]);
      await writeAtomic(path, text);
      this.#cache.delete(path);
      return stored;
    };
    // dryRun still checks the version, but needs no lock: it changes nothing.
    if (dryRun) return body();
    return inLock ? body() : this.#locked(body);
  }

  /** Runs `fn` under the directory's lock file, after this process's earlier writers are done. */
  async #locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = (): Promise<T> => withLock(join(this.#dir, LOCK_FILE), fn, { timeoutMs: this.#opts.lockTimeoutMs });
    const result = this.#lockChain.then(run, run);
    this.#lockChain = result.catch(() => undefined);
    return result;
  }

  #newPath(r: Resource): string {
    const file = `${r.kind.toLowerCase()}-${r.metadata.name}.yaml`;
    return isNamespaced(r.kind) ? join(this.#dir, r.metadata.namespace ?? DEFAULT_NAMESPACE, file) : join(this.#dir, file);
  }

  /**
   * The object's file, read afresh (not from the cache: this is the state a write must be based on)
   * and the object's place in it. If the file no longer matches the index (an editor saved it a
   * moment ago) the index is rebuilt once; if it still moves, that is a conflict.
   */
  async #find(ref: ResourceRef): Promise<{ entry: Entry; file: YamlFile; found: Located } | undefined> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const entry = (await this.#index()).get(keyOf(ref));
      if (!entry) return undefined;
      let text: string;
      try {
        text = await readFile(entry.file, 'utf8');
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
        this.#cache.delete(entry.file);
        continue;
      }
      const file = parseYamlFile(entry.file, text);
      const found = locate(file, entry.resource);
      if (found) return { entry, file, found };
      this.#cache.delete(entry.file);
    }
    throw new StoreConflict(ref);
  }

  // ---- reading ----

  /** Every object in the directory by kind/namespace/name, from cached parses where files are unchanged. */
  async #index(): Promise<Index> {
    const dirs: string[] = [];
    const files = await listYamlFiles(this.#dir, dirs);
    this.#dirs = dirs;
    const index: Index = new Map();
    const seen = new Set<string>();
    // At most 32 files open at once: a big directory must not exhaust file descriptors.
    const loaded = await mapLimit(files, 32, (f) => this.#load(f));
    for (const [i, path] of files.entries()) {
      seen.add(path);
      for (const e of loaded[i] ?? []) {
        const k = keyOf(refOfResource(e.resource));
        const other = index.get(k);
        if (other) {
          const where = (x: Entry): string => `${relative(this.#dir, x.file) || x.file}:${x.line}`;
          throw new InputError(
            `${e.resource.kind} ${e.resource.metadata.namespace ?? ''}${e.resource.metadata.namespace ? '/' : ''}${e.resource.metadata.name} is defined twice in ${this.#dir}: ${where(other)} and ${where(e)}`,
            'remove one of the two',
          );
        }
        index.set(k, e);
      }
    }
    for (const path of this.#cache.keys()) if (!seen.has(path)) this.#cache.delete(path);
    return index;
  }

  async #load(path: string): Promise<Entry[]> {
    let st;
    try {
      st = await stat(path, { bigint: true });
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return []; // removed since the directory was listed
      throw err;
    }
    const cached = this.#cache.get(path);
    const sameStat = cached && cached.mtimeNs === st.mtimeNs && cached.ctimeNs === st.ctimeNs && cached.size === st.size && cached.ino === st.ino;
    if (cached && sameStat && cached.readAtMs - Number(st.mtimeNs / 1_000_000n) > RACY_WINDOW_MS) return cached.entries;
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
    const readAtMs = Date.now();
    let entries: Entry[];
    if (cached && cached.text === text) entries = cached.entries;
    else {
      entries = entriesOf(parseYamlFile(path, text));
      this.#parses++;
    }
    this.#cache.set(path, { mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, size: st.size, ino: st.ino, readAtMs, text, entries });
    return entries;
  }
}

/** One watch() call's share of the directory watch: it diffs each new index against what it last saw. */
interface Subscriber {
  onIndex(index: Index): void;
  onError(err: unknown): void;
}

interface DirWatch {
  subscribers: Set<Subscriber>;
  /** The rescan in progress, if any (a stopping watcher waits for it). */
  running: Promise<void> | undefined;
  stop(): void;
}

type Expectation = { kind: 'any' } | { kind: 'absent' } | { kind: 'version'; version: string };

function entriesOf(file: YamlFile): Entry[] {
  return objectsOf(file).map((o) => {
    const impliedNamespace = isNamespaced(String(o.value.kind)) && !(isRecord(o.value.metadata) && typeof o.value.metadata.namespace === 'string' && o.value.metadata.namespace !== '');
    const resource = withVersion(normalize(o.value as unknown as Resource));
    return { resource, file: file.path, docIndex: o.docIndex, ...(o.itemIndex === undefined ? {} : { itemIndex: o.itemIndex }), line: o.line, impliedNamespace };
  });
}

/** Finds the object again in a freshly read file (it may have moved within it since it was indexed). */
interface Located {
  docIndex: number;
  itemIndex?: number;
  current: Resource;
}

function locate(file: YamlFile, want: Resource): Located | undefined {
  const k = keyOf(refOfResource(want));
  for (const o of objectsOf(file)) {
    const r = withVersion(normalize(o.value as unknown as Resource));
    if (keyOf(refOfResource(r)) === k) return { docIndex: o.docIndex, ...(o.itemIndex === undefined ? {} : { itemIndex: o.itemIndex }), current: r };
  }
  return undefined;
}

/** A plain-data copy with the namespace filled in (namespaced kinds) or dropped (cluster-scoped). */
function normalize(r: Resource): Resource {
  const copy = JSON.parse(JSON.stringify(r)) as Resource;
  if (!isRecord(copy.metadata)) copy.metadata = { name: '' };
  if (isNamespaced(copy.kind)) {
    if (typeof copy.metadata.namespace !== 'string' || copy.metadata.namespace === '') copy.metadata.namespace = DEFAULT_NAMESPACE;
  } else {
    delete copy.metadata.namespace;
  }
  return copy;
}

/**
 * The object as stored: its resourceVersion is a hash of everything else, so any change changes it.
 * The project's 64-bit content hash (16 hex digits), not sha256: a version only has to notice that
 * an object changed, nobody gains by forging one, and loading the crypto module for it would cost the sidecar ~2.3 MB RSS.
 */
function withVersion(r: Resource): Resource {
  const meta = { ...r.metadata };
  delete meta.resourceVersion;
  const bare = { ...r, metadata: meta };
  const version = contentHash64(canonicalJson(bare));
  return { ...bare, metadata: { ...meta, resourceVersion: version } };
}

function sameObject(a: Resource, b: Resource): boolean {
  const strip = (r: Resource): Resource => ({ ...r, metadata: { ...r.metadata, resourceVersion: undefined } });
  return deepEqualJson(strip(a), strip(b));
}

/** What goes into the YAML: no resourceVersion ever, and no namespace where the file implied it. */
function forFile(r: Resource, impliedNamespace: boolean): Record<string, unknown> {
  const meta: Record<string, unknown> = { ...r.metadata };
  delete meta.resourceVersion;
  if (impliedNamespace && meta.namespace === DEFAULT_NAMESPACE) delete meta.namespace;
  return { ...r, metadata: meta };
}

// Names become file and directory names, so nothing that could climb out of the directory or hide
// a file (a leading dot) gets through. Kubernetes' own rules are stricter; these are the store's.
const NAME = /^[A-Za-z0-9]([-A-Za-z0-9._:]*[A-Za-z0-9])?$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const KIND = /^[A-Za-z][A-Za-z0-9]*$/;

function validateForWrite(r: Resource): void {
  if (typeof r.kind !== 'string' || !KIND.test(r.kind) || r.kind === 'List') {
    throw new InputError(`cannot store an object of kind ${JSON.stringify(r.kind)}`, 'give each object a kind such as VirtualService');
  }
  const name = r.metadata.name;
  if (typeof name !== 'string' || !NAME.test(name) || name.length > 253) {
    throw new InputError(`${r.kind} has an invalid metadata.name ${JSON.stringify(name)}`, 'use letters, digits, "-" and "." (a DNS name)');
  }
  const ns = r.metadata.namespace;
  if (ns !== undefined && (!NAMESPACE.test(ns) || ns.length > 63)) {
    throw new InputError(`${r.kind} ${name} has an invalid metadata.namespace ${JSON.stringify(ns)}`, 'use lower-case letters, digits and "-"');
  }
}

function canonicalKind(kind: string): string {
  return lookupKind(kind)?.kind ?? kind;
}

/** Unknown kinds are taken as namespaced: nearly every custom resource is. */
function isNamespaced(kind: string): boolean {
  return kindInfo(kind)?.namespaced ?? true;
}

function refOfResource(r: Resource): ResourceRef {
  return { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name };
}

function keyOf(ref: ResourceRef): string {
  const kind = canonicalKind(ref.kind);
  const ns = isNamespaced(kind) ? ref.namespace || DEFAULT_NAMESPACE : '';
  return `${kind}/${ns}/${ref.name}`;
}

function compareStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * `*.yaml` and `*.yml` under `dir`, sorted, skipping dotfiles and dot-directories (the lock, temp
 * files, .git). `dirs`, when given, receives every directory walked (`meshctl proxy --config`
 * watches exactly those, src/proxy/config-source.ts).
 */
export async function listYamlFiles(dir: string, dirs?: string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch (err) {
      if (isErrno(err, 'ENOENT') && d !== dir) return; // a namespace directory removed mid-scan
      if (isErrno(err, 'ENOENT')) throw new ClusterError(`local mesh directory ${dir} no longer exists`, 'create it with `meshctl install --local DIR`, or pass an existing directory', err);
      throw err;
    }
    dirs?.push(d);
    for (const ent of entries) {
      if (isHiddenName(ent.name)) continue;
      const p = join(d, ent.name);
      let isDir = ent.isDirectory();
      let isFile = ent.isFile();
      if (ent.isSymbolicLink()) {
        // Files mounted from a Kubernetes ConfigMap are symlinks into a hidden ..data directory.
        // Symlinked directories are not followed: a link cycle would never end.
        const st = await stat(p).catch(() => undefined);
        isFile = st?.isFile() ?? false;
        isDir = false;
      }
      if (isDir) await walk(p);
      else if (isFile && isYamlName(ent.name)) out.push(p);
    }
  };
  await walk(dir);
  return out.sort();
}

/**
 * Replaces `path` atomically: readers see the old file or the new one, never half of either. The temp
 * file is a dotfile in the same directory (rename is only atomic within one file system, and the
 * store skips dotfiles) and is fsynced first so a crash cannot leave an empty file behind the rename.
 */
async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${uniqueToken()}.tmp`);
  let mode = 0o644;
  try {
    mode = (await stat(path)).mode & 0o777;
  } catch {
    // a new file
  }
  const fd = await openExclusive(tmp, mode);
  try {
    try {
      await writeAll(fd, text);
      await fsync(fd);
    } finally {
      await close(fd);
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
