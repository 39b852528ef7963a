/**
 * Live progress of `canary rollout`: an ink view in a terminal, plain lines elsewhere (pipes, CI
 * logs), always on stderr-like channels so stdout keeps only the final result. ink and React are
 * imported only when the live view is used.
 */
import type { IO } from '../context.js';
import { cjs } from '../core/module-interop.js';

export interface RolloutProgress {
  service: string;
  stable: string;
  canary: string;
  steps: number[];
  step: number;
  phase: string;
  /** What is happening now: "watching 1m", "rolling back". */
  activity: string;
  /** One line per finished window, oldest first. */
  log: string[];
}

export interface ProgressView {
  update(p: RolloutProgress, line?: string): void;
  close(): Promise<void>;
}

/** True when a live view may take over the terminal: stdout is a TTY and this is not CI. */
export function liveViewAllowed(io: Pick<IO, 'isTTY'>, env: Record<string, string | undefined>): boolean {
  return io.isTTY && !env.CI;
}

/** Plain lines: one per event, nothing redrawn. */
export function plainView(io: Pick<IO, 'stderr'>): ProgressView {
  return {
    update(_p, line) {
      if (line) io.stderr.write(line + '\n');
    },
    async close() {},
  };
}

export async function progressView(io: IO, env: Record<string, string | undefined>): Promise<ProgressView> {
  if (!liveViewAllowed(io, env)) return plainView(io);
  const [{ render }, { createElement }, { RolloutView }] = await Promise.all([import('ink'), import('react').then(cjs), import('./progress-view.js')]);
  let instance: ReturnType<typeof render> | undefined;
  return {
    update(p) {
      const el = createElement(RolloutView, { progress: p });
      if (instance) instance.rerender(el);
      // liveViewAllowed() already decided from ctx.env and the TTY; ink's own CI check reads process.env.
      else instance = render(el, { stdout: io.stdout as NodeJS.WriteStream, patchConsole: false, interactive: true });
    },
    async close() {
      instance?.unmount();
      // Bounded: the result must print even if the terminal never confirms ink's last write.
      await Promise.race([instance?.waitUntilExit().catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
    },
  };
}
