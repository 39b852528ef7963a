import { spawn } from 'node:child_process';
import { readdir, stat } from 'node:fs';
import type { ProxyKey } from '../controller/hub.js';
import { DirWatches } from '../core/dir-watches.js';
import { MeshctlError, type ExitCode } from '../core/errors.js';
import { isHiddenName, isYamlName } from '../core/mesh-dir-names.js';
import { fingerprintOf, type CompiledConfig } from './snapshot-feed.js';

/**
 * `meshctl proxy --config DIR`'s config source. The proxy does not parse YAML or compile: a compile
 * step (src/proxy/config-compile.ts) reads the directory and hands back the same CompiledConfig the
 * controller streams to a sidecar, and this module watches the directories that step read and asks
 * for a new compile when one of them changes. In the runtime bundle the step runs in a short-lived
 * child process (dist/proxy-compile.cjs, see childCompiler) for three reasons, measured on a mesh
 * of 1,000 services in 20 files: the proxy held 130 MB RSS against the sidecar's 76 MB with the
 * same snapshot (the parsed YAML documents and the resources stay cached), every save stalled all
 * traffic ~37 ms while the proxy parsed and compiled, and idle RSS was 53.4 MB against 47.8 (the
 * YAML parser's code and heap; issue #4's goal is 50). The in-process CLI fallback (no execve)
 * passes the step in directly.
 */

/** A path the compile read, and its stamp when read: a directory (entries) or a YAML file. */
export interface SourceStamp {
  path: string;
  dir: boolean;
  stamp: string;
}

export interface DirCompileRequest {
  dir: string;
  key: ProxyKey;
  /** The fingerprint of the config the proxy has: a compile that yields it again answers `unchanged`. */
  known?: string | undefined;
}

/**
 * What a compile found: the sources it read (stamped before reading, so a change made while it
 * ran shows as a difference afterwards) and the compiled config, or why there is none.
 */
export type DirCompileResult = { sources: SourceStamp[] } & ({ config: CompiledConfig } | { unchanged: true } | { error: Error });

export type DirCompiler = (req: DirCompileRequest, signal: AbortSignal) => Promise<DirCompileResult>;

/**
 * What a source looked like when read. A YAML file: inode, size and mtime (ns), so an atomic save
 * (rename over) changes the inode and an in-place write the size or mtime; through a symlink (a
 * ConfigMap volume's ..data swap) the target's. A directory: the names in it the file store would
 * read (YAML files and sub-directories, no dotfiles) and its inode, so an editor's swap file, a lock
 * or a temp file coming and going is not a change, and does not cost a compile.
 */
export function stampSource(s: { path: string; dir: boolean }): Promise<string> {
  return new Promise((resolve) => {
    if (s.dir) {
      // The inode too: a directory removed and made again under the same name is a change (its
      // watch is on the old one), even when it holds the same names.
      stat(s.path, (err, st) => {
        if (err) return resolve(`error:${err.code ?? err.message}`);
        readdir(s.path, { withFileTypes: true }, (err2, entries) => {
          if (err2) return resolve(`error:${err2.code ?? err2.message}`);
          const names = entries.filter((e) => !isHiddenName(e.name) && (e.isDirectory() || isYamlName(e.name))).map((e) => e.name);
          resolve(`${st.ino}:${names.sort().join('/')}`);
        });
      });
      return;
    }
    stat(s.path, { bigint: true }, (err, st) => resolve(err ? `error:${err.code ?? err.message}` : `${st.ino}:${st.size}:${st.mtimeNs}`));
  });
}

/** An error as it crosses the process boundary: meshctl's typed errors keep their code, hint and exit code. */
export interface WireError {
  name: string;
  message: string;
  stack?: string | undefined;
  code?: string | undefined;
  hint?: string | undefined;
  exitCode?: number | undefined;
}

export function toWireError(err: unknown): WireError {
  const e = err instanceof Error ? err : new Error(String(err));
  const m = e as Partial<MeshctlError>;
  return { name: e.name, message: e.message, stack: e.stack, code: m.code, hint: m.hint, exitCode: m.exitCode };
}

/** The compile process's error, rebuilt here so it prints the same line and exit code; its stack is the cause (-v). */
export function fromWireError(w: WireError): Error {
  const cause = Object.assign(new Error(w.message), { stack: w.stack ?? '' });
  const err = w.code && w.exitCode !== undefined ? new MeshctlError(w.code, w.message, { hint: w.hint, exitCode: w.exitCode as ExitCode, cause }) : new Error(w.message, { cause });
  err.name = w.name;
  return err;
}

/** The one line the compile process writes to stdout (src/proxy/runtime-compile.ts). */
export type WireResult = { sources: SourceStamp[] } & ({ config: CompiledConfig } | { unchanged: true } | { error: WireError });

/**
 * Compiles in a child process running `file` (dist/proxy-compile.cjs): the request as argv, one
 * JSON result on stdout. The child exits when done, so the YAML parser, the documents and the
 * compiler's garbage leave with it; it is killed after `timeoutMs` or on abort.
 */
export function childCompiler(file: string, timeoutMs = 120_000): DirCompiler {
  return (req, signal) =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [file, JSON.stringify(req)], { stdio: ['ignore', 'pipe', 'pipe'], signal, killSignal: 'SIGKILL' });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      const out: Buffer[] = [];
      let err = '';
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (s: string) => (err = (err + s).slice(-8192)));
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(signal.aborted ? new Error('config compile stopped') : new Error(`cannot run the config compiler ${file}: ${e.message}`));
      });
      child.on('close', (code, sig) => {
        clearTimeout(timer);
        if (signal.aborted) return reject(new Error('config compile stopped'));
        if (code !== 0) {
          const why = timedOut ? `was killed after ${timeoutMs / 1000} s` : sig ? `was killed by ${sig}${sig === 'SIGKILL' ? ' (out of memory?)' : ''}` : `exited with ${code}`;
          const line = telling(err);
          return reject(new Error(`the config compiler ${why}${line ? `: ${line}` : ''}`));
        }
        try {
          const w = JSON.parse(Buffer.concat(out).toString('utf8')) as WireResult;
          resolve('error' in w ? { sources: w.sources, error: fromWireError(w.error) } : w);
        } catch (e) {
          reject(new Error(`the config compiler wrote no result: ${(e as Error).message}`));
        }
      });
    });
}

/**
 * The stderr line that says what went wrong: Node ends a crash with its version banner and an
 * out-of-memory abort with a native stack, so the last line that names an error wins, else the last line.
 */
function telling(stderr: string): string | undefined {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^Node\.js v\d/.test(l));
  return lines.findLast((l) => /^(\w*Error\b|FATAL ERROR)/.test(l)) ?? lines.at(-1);
}

export interface ConfigDirSourceOptions {
  dir: string;
  key: ProxyKey;
  compile: DirCompiler;
  /** JSON log lines (warnings, compile errors). */
  log: (line: string) => void;
  /** A change is checked this long after its first event, so the events of one save make one check. Default 30 ms. */
  debounceMs?: number;
  /** Stamps are re-read this often, for changes a directory watch misses (network file systems, a failed watch). Default 2 s. */
  pollMs?: number;
  /** Directory watches on (default); off leaves changes to the poll (tests). */
  watch?: boolean;
}

/**
 * Runs the compile step at start and again whenever a source it read changes. A directory watch
 * per directory read, and a poll every pollMs, make it compare the stamps of those sources (any
 * event name counts: a ConfigMap volume swaps a dot-named link); only a difference costs a compile,
 * so files the store does not read (an editor's swap file, a log written beside the YAML) cost a
 * listing, not a process. One step at a time; changes during a compile make one more check after
 * it. A failed compile keeps the config the proxy has, and the sources it read are still watched,
 * so the fix is picked up.
 */
export class ConfigDirSource {
  readonly #o: Required<ConfigDirSourceOptions>;
  #sources: SourceStamp[] = [];
  /** One watch per directory the last compile read (src/core/dir-watches.ts); undefined until follow(), or with watches off. */
  #watches: DirWatches | undefined;
  #onConfig: ((c: CompiledConfig) => void) | undefined;
  /** What the next step is: compare stamps (a watch event, the poll) or compile regardless (refresh). */
  #wanted: 'none' | 'check' | 'compile' = 'none';
  #busy = false;
  #timer: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  #running: AbortController | undefined;
  #stopped = false;
  /** fingerprintOf the last config handed out. */
  #known: string | undefined;
  /** Compiles run and failed, for admin /stats. */
  compiles = 0;
  failures = 0;

  constructor(opts: ConfigDirSourceOptions) {
    this.#o = { debounceMs: 30, pollMs: 2000, watch: true, ...opts };
  }

  /** The first compile; throws its error (the proxy does not start without a config). Watches start with follow(). */
  async first(): Promise<CompiledConfig> {
    const r = await this.#compile();
    this.#sources = r.sources;
    if ('error' in r) throw r.error;
    if (!('config' in r)) throw new Error('the config compiler answered "unchanged" to the first compile');
    this.#known = fingerprintOf(r.config);
    return r.config;
  }

  /**
   * Starts watching; `onConfig` gets each new compiled config. Changes made since the first compile
   * read its sources (while the proxy was binding its ports, say) are caught by comparing stamps now.
   */
  follow(onConfig: (c: CompiledConfig) => void): void {
    this.#onConfig = onConfig;
    if (this.#o.watch) {
      let warned = false;
      this.#watches = new DirWatches(
        () => this.#request('check'),
        (d, err, when) => {
          // A directory removed since the compile read it needs no watch, and one whose watch fails
          // is left to the poll; out of watches, the poll still sees changes, 2 s late: said once, for the root.
          if (d !== this.#o.dir || when !== 'open' || warned) return;
          warned = true;
          this.#o.log(JSON.stringify({ level: 'warn', msg: `cannot watch ${d}: ${err.message}; checking it every ${this.#o.pollMs / 1000} s instead` }));
        },
        false,
      );
    }
    this.#adopt(this.#sources);
    this.#poll = setInterval(() => this.#request('check'), this.#o.pollMs);
    this.#poll.unref();
    this.#request('check');
  }

  /** Asks for a compile whatever the stamps say: a fault expiry past the precompiled ones. */
  refresh(): void {
    this.#request('compile');
  }

  stats(): string[] {
    return [`config.compiles: ${this.compiles}`, `config.compile_failures: ${this.failures}`, `config.sources: ${this.#sources.length}`];
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#poll) clearInterval(this.#poll);
    this.#running?.abort();
    this.#watches?.close();
  }

  /**
   * One step at a time: a request while one runs is taken up right after it (a burst of saves
   * during a compile makes one more check, not one compile each); an idle source waits debounceMs
   * first, so the several events of one save make one step.
   */
  #request(kind: 'check' | 'compile'): void {
    if (this.#stopped) return;
    if (kind === 'compile' || this.#wanted === 'none') this.#wanted = kind;
    if (this.#busy) return;
    this.#timer ??= setTimeout(() => void this.#drain(), this.#o.debounceMs);
  }

  async #drain(): Promise<void> {
    this.#timer = undefined;
    this.#busy = true;
    try {
      while (this.#wanted !== 'none' && !this.#stopped) {
        const want = this.#wanted;
        this.#wanted = 'none';
        if (want === 'check' && !(await this.#changed())) continue;
        await this.#run();
      }
    } finally {
      this.#busy = false;
    }
  }

  /** Whether a source differs from its stamp in the last compile: a stat per file, a listing per directory. */
  async #changed(): Promise<boolean> {
    this.#watchDirs(); // reopens the watch of a directory removed and made again
    const sources = this.#sources;
    const now = await Promise.all(sources.map((s) => stampSource(s)));
    return now.some((st, i) => st !== sources[i]!.stamp);
  }

  async #compile(): Promise<DirCompileResult> {
    const ac = new AbortController();
    this.#running = ac;
    this.compiles++;
    try {
      const r = await this.#o.compile({ dir: this.#o.dir, key: this.#o.key, known: this.#known }, ac.signal);
      if ('error' in r) this.failures++;
      return r;
    } catch (err) {
      this.failures++;
      throw err;
    } finally {
      this.#running = undefined;
    }
  }

  async #run(): Promise<void> {
    let r: DirCompileResult;
    try {
      r = await this.#compile();
    } catch (err) {
      if (this.#stopped) return;
      this.#notApplied(err as Error);
      // The compiler itself failed (crashed, timed out) and read nothing back: take the stamps as
      // they are now, so the next change retries, not every poll (a child every 2 s, for good).
      this.#sources = await Promise.all(this.#sources.map(async (s) => ({ ...s, stamp: await stampSource(s) })));
      return;
    }
    if (this.#stopped) return;
    this.#adopt(r.sources);
    if ('error' in r) return this.#notApplied(r.error);
    if (!('config' in r)) return;
    this.#known = fingerprintOf(r.config);
    this.#onConfig?.(r.config);
  }

  #notApplied(err: Error): void {
    this.#o.log(JSON.stringify({ level: 'error', msg: `config not applied, keeping version ${this.#known?.split(' ')[0]}: ${err.message}` }));
  }

  /** Takes the stamps of a compile as the state to compare against, and watches the directories it read. */
  #adopt(sources: SourceStamp[]): void {
    this.#sources = sources;
    this.#watchDirs();
  }

  #watchDirs(): void {
    if (!this.#stopped) this.#watches?.set(this.#sources.filter((s) => s.dir).map((s) => s.path));
  }
}
