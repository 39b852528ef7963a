import type { Resource } from '../api/resource.js';
import type { WatchEvent, Watcher } from './config-store.js';
import { KubeHttpError, type KubeStatus } from './kube-errors.js';

/** One raw event of a Kubernetes watch stream. */
export interface RawWatchEvent {
  type: string;
  object: unknown;
}

/** How the loop reaches the API server; the kube store gives real HTTP, tests may give fakes. */
export interface ListWatchSource {
  list(): Promise<{ items: Resource[]; resourceVersion: string }>;
  /**
   * Opens a watch from `resourceVersion`; `onEvent` gets each event, `onClose` is called once when
   * the stream ends (err null: closed cleanly, e.g. the server's timeout). Returns a way to abort it.
   */
  watch(resourceVersion: string, onEvent: (e: RawWatchEvent) => void, onClose: (err: unknown) => void): Promise<{ abort(): void }>;
  /** Turns a failure into the error reported to onError (the store's error mapping). */
  toError(err: unknown): Error;
}

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

/** A watch is "Gone" when its resourceVersion was compacted away: only a fresh list helps. */
function isGone(err: unknown): boolean {
  const e = err as { statusCode?: unknown; status?: unknown; code?: unknown } | null;
  return e?.statusCode === 410 || e?.status === 410 || e?.code === 410;
}

const keyOf = (r: Resource): string => `${r.metadata.namespace ?? ''}/${r.metadata.name}`;

/**
 * List, then watch from the list's resourceVersion, like client-go's reflector: reconnects from the
 * last resourceVersion seen after a dropped connection (so nothing is missed), re-lists on 410 Gone
 * and emits synthetic ADDED / MODIFIED / DELETED events for what changed meanwhile, and waits a
 * bounded, growing delay between failed attempts.
 */
export class ListWatch implements Watcher {
  readonly #source: ListWatchSource;
  readonly #onEvent: (e: WatchEvent) => void;
  readonly #onError: (err: Error) => void;
  readonly #backoff: BackoffOptions;
  /** The last state seen of every object, for the diff after a re-list. */
  readonly #known = new Map<string, Resource>();
  #resourceVersion = '';
  #stopped = false;
  #current: { abort(): void } | undefined;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;

  constructor(source: ListWatchSource, onEvent: (e: WatchEvent) => void, onError: (err: Error) => void, backoff: BackoffOptions) {
    this.#source = source;
    this.#onEvent = onEvent;
    this.#onError = onError;
    this.#backoff = backoff;
  }

  /** The initial list: its errors go to the caller (a watch that cannot start should fail loudly). */
  async start(): Promise<void> {
    await this.#relist();
    this.#loop = this.#run();
  }

  get resourceVersion(): string {
    return this.#resourceVersion;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#current?.abort();
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    let delay = this.#backoff.initialMs;
    while (!this.#stopped) {
      let progressed = false;
      const closed = await new Promise<unknown>((resolve) => {
        this.#source
          .watch(
            this.#resourceVersion,
            (e) => {
              progressed = true;
              this.#handle(e);
            },
            resolve,
          )
          .then(
            (handle) => {
              this.#current = handle;
              if (this.#stopped || this.#pendingError) handle.abort();
            },
            resolve,
          );
      });
      this.#current = undefined;
      // An ERROR event in the stream explains the close better than the abort it caused.
      const reason = this.#pendingError ?? closed;
      this.#pendingError = undefined;
      if (this.#stopped) return;
      if (isGone(reason)) {
        // Not trouble: the server forgot our resourceVersion. A fresh list catches up.
        try {
          await this.#relist();
          delay = this.#backoff.initialMs;
          continue;
        } catch (err) {
          this.#onError(this.#source.toError(err));
        }
      } else if (reason === null || reason === undefined || isTimeout(reason)) {
        // A clean close (the server's watch timeout) or the client's idle timeout: resume at once,
        // unless the stream closed without a single event, which could otherwise spin.
        delay = this.#backoff.initialMs;
        if (progressed) continue;
      } else {
        this.#onError(this.#source.toError(reason));
        if (progressed) delay = this.#backoff.initialMs;
      }
      await this.#sleep(delay);
      delay = Math.min(delay * 2, this.#backoff.maxMs);
    }
  }

  #handle(e: RawWatchEvent): void {
    const obj = e.object as Resource & { code?: number; metadata?: { resourceVersion?: string } };
    switch (e.type) {
      case 'ADDED':
      case 'MODIFIED':
      case 'DELETED': {
        this.#resourceVersion = obj.metadata?.resourceVersion ?? this.#resourceVersion;
        if (e.type === 'DELETED') this.#known.delete(keyOf(obj));
        else this.#known.set(keyOf(obj), obj);
        this.#emit({ type: e.type, resource: obj });
        return;
      }
      case 'BOOKMARK':
        // Progress without a change: resuming from here skips events we already have.
        this.#resourceVersion = obj.metadata?.resourceVersion ?? this.#resourceVersion;
        return;
      case 'ERROR':
        // A Status in the stream; 410 means our resourceVersion is too old. Either way this stream is done.
        this.#pendingError = new KubeHttpError(typeof obj.code === 'number' ? obj.code : 500, obj as KubeStatus);
        this.#current?.abort();
        return;
    }
  }

  #pendingError: unknown;

  async #relist(): Promise<void> {
    const { items, resourceVersion } = await this.#source.list();
    const fresh = new Map(items.map((r) => [keyOf(r), r]));
    for (const [key, old] of this.#known) {
      if (!fresh.has(key)) this.#emit({ type: 'DELETED', resource: old });
    }
    for (const [key, r] of fresh) {
      const old = this.#known.get(key);
      if (!old) this.#emit({ type: 'ADDED', resource: r });
      else if (old.metadata.resourceVersion !== r.metadata.resourceVersion) this.#emit({ type: 'MODIFIED', resource: r });
    }
    this.#known.clear();
    for (const [key, r] of fresh) this.#known.set(key, r);
    this.#resourceVersion = resourceVersion;
  }

  #emit(event: WatchEvent): void {
    if (this.#stopped) return;
    try {
      this.#onEvent(event);
    } catch (err) {
      // A failing handler must not end the watch for everyone else.
      this.#onError(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

function isTimeout(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return name === 'TimeoutError' || name === 'AbortError';
}
