import { EventEmitter } from 'node:events';
import { describe, expect, test, vi } from 'vitest';
import { liveViewAllowed, plainView, progressView, type RolloutProgress } from '../../../src/ui/progress.js';

/** A terminal-like stream ink can render into; keeps everything written. */
class FakeTTY extends EventEmitter {
  columns = 100;
  rows = 30;
  isTTY = true;
  out = '';
  write(chunk: string, cb?: () => void): boolean {
    this.out += chunk;
    cb?.(); // ink waits for its final write to be flushed before unmount settles
    return true;
  }
}

const progress = (over: Partial<RolloutProgress> = {}): RolloutProgress => ({
  service: 'reviews',
  stable: 'v1',
  canary: 'v2',
  steps: [10, 50, 100],
  step: 1,
  phase: 'progressing',
  activity: 'watching for 1m',
  log: ['step 1/3 (v2 10%): pass: 60 requests, 0.00% errors, p99 12ms -> step 2/3 (v2 50%)'],
  ...over,
});

describe('rollout progress view', () => {
  test('a live view only on a terminal outside CI', () => {
    expect(liveViewAllowed({ isTTY: true }, {})).toBe(true);
    expect(liveViewAllowed({ isTTY: true }, { CI: 'true' })).toBe(false);
    expect(liveViewAllowed({ isTTY: false }, {})).toBe(false);
  });

  test('plain lines: one per event, nothing redrawn', async () => {
    let err = '';
    const v = plainView({ stderr: { write: (s: string) => (err += s) } });
    v.update(progress());
    v.update(progress(), 'step 2/3 (v2 50%): pass');
    await v.close();
    expect(err).toBe('step 2/3 (v2 50%): pass\n');
  });

  test('ink view on a TTY shows every step, the current one with its activity, and the log', async () => {
    const tty = new FakeTTY();
    const io = { stdout: tty, stderr: tty, stdin: process.stdin, isTTY: true, color: false };
    const view = await progressView(io, {});
    view.update(progress());
    // ink throttles frames: wait (bounded) until this one is drawn before changing it, as a slow
    // machine may otherwise coalesce it with the next.
    await vi.waitFor(() => expect(stripAnsi(tty.out)).toContain('(progressing)'), { timeout: 5000, interval: 20 });
    view.update(progress({ step: 2, phase: 'failed', activity: 'rolled back', log: ['x -> rolled back to v1 100%'] }));
    await view.close();
    const text = stripAnsi(tty.out);
    expect(text).toContain('canary rollout reviews: v1 → v2 (progressing)');
    expect(text).toContain('✔ step 1/3: v2 10%');
    expect(text).toContain('▶ step 2/3: v2 50% — watching for 1m');
    expect(text).toContain('· step 3/3: v2 100%');
    expect(text).toContain('✘ step 3/3: v2 100%');
    expect(text).toContain('x -> rolled back to v1 100%');
  });
});

function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex -- strip ANSI escapes to read the frames
  return s.replace(/\u001b\[[0-9;?]*[a-zA-Z]/g, '');
}
