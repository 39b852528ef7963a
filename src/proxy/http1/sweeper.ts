/**
 * One coarse clock and one interval timer for every connection timeout in the proxy (header, idle,
 * stream idle, pooled-connection idle). Per-socket timers would be armed and cleared on every request:
 * Node's own http server and undici pay that on the hot path. Here a connection stamps `sweepClock.now`
 * (a plain field read) when its state changes, and the sweep compares stamps — timeouts fire within one
 * tick of their due time, which is fine for limits measured in seconds.
 */

export interface Sweepable {
  /** Checks deadlines against `now` (ms, Date.now()). A member leaves with sweepClock.delete. */
  sweep(now: number): void;
}

class Sweeper {
  now = Date.now();
  #members = new Set<Sweepable>();
  #timer: NodeJS.Timeout | undefined;
  #tickMs = 1000;

  /** Adds a member; `tickMs` is the finest resolution it needs (the smallest asked for wins). */
  add(m: Sweepable, tickMs = 1000): void {
    this.#members.add(m);
    const tick = Math.max(50, Math.min(1000, tickMs));
    if (this.#timer && tick >= this.#tickMs) return;
    this.#tickMs = tick;
    if (this.#timer) clearInterval(this.#timer);
    this.now = Date.now();
    this.#timer = setInterval(() => this.#run(), this.#tickMs);
    // Timeouts never keep a process alive on their own.
    this.#timer.unref();
  }

  delete(m: Sweepable): void {
    this.#members.delete(m);
    if (this.#members.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#tickMs = 1000;
    }
  }

  #run(): void {
    const now = (this.now = Date.now());
    for (const m of this.#members) m.sweep(now);
  }
}

export const sweepClock = new Sweeper();
