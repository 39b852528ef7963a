import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { installProgress } from '../../src/commands/install.js';
import type { Context } from '../../src/context.js';

/** A terminal-like stream ink can render into; keeps everything written. */
class FakeTTY extends EventEmitter {
  columns = 100;
  rows = 30;
  isTTY = true;
  out = '';
  write(chunk: string, cb?: () => void): boolean {
    this.out += chunk;
    cb?.();
    return true;
  }
}

function fakeContext(isTTY: boolean, env: Record<string, string> = {}): { ctx: Context; tty: FakeTTY; err: () => string } {
  const tty = new FakeTTY();
  let err = '';
  const ctx = {
    io: { stdout: tty, stderr: { write: (s: string) => (err += s) }, stdin: process.stdin, isTTY, color: false },
    env,
    info: (m: string) => void (err += m + '\n'),
  } as unknown as Context;
  return { ctx, tty, err: () => err };
}

describe('install progress', () => {
  it('prints plain lines when not on a terminal, or under CI', async () => {
    for (const [isTTY, env] of [[false, {}], [true, { CI: 'true' }]] as const) {
      const { ctx, tty, err } = fakeContext(isTTY, env);
      const p = await installProgress(ctx);
      p.done('created Namespace meshctl-system');
      p.doing('waiting for 15 CRDs to be Established');
      await p.close();
      expect(err()).toBe('created Namespace meshctl-system\nwaiting for 15 CRDs to be Established\n');
      expect(tty.out).toBe('');
    }
  });

  it('draws finished steps and the current one with ink on a terminal', async () => {
    const { ctx, tty, err } = fakeContext(true);
    const p = await installProgress(ctx);
    p.done('created Namespace meshctl-system');
    p.doing('waiting for 15 CRDs to be Established');
    // ink throttles frames: wait (bounded) until this one is drawn before changing it, as a slow
    // machine may otherwise coalesce it with the next.
    await vi.waitFor(() => expect(stripAnsi(tty.out)).toContain('▶ waiting for 15 CRDs to be Established'), { timeout: 5000, interval: 20 });
    p.done('15 CRDs are Established');
    p.done('warning: two injectors');
    await p.close();
    const text = stripAnsi(tty.out);
    expect(text).toContain('✔ created Namespace meshctl-system');
    expect(text).toContain('▶ waiting for 15 CRDs to be Established');
    expect(text).toContain('✔ 15 CRDs are Established');
    expect(text).toContain('! warning: two injectors');
    expect(err()).toBe('');
  });

  it('pause gives the terminal back for a question, then draws below it without repeating lines', async () => {
    const { ctx, tty } = fakeContext(true);
    const p = await installProgress(ctx);
    p.done('meshctl 0.1.0 is installed: checking for changes');
    p.doing('planning');
    await new Promise((r) => setTimeout(r, 20));
    await p.pause();
    tty.write('Change the existing install? [y/N] y\n');
    const asked = tty.out.length;
    p.done('updated ConfigMap meshctl-system/meshctl-mesh-config');
    await p.close();
    const after = tty.out.slice(asked);
    // Nothing after the question moves the cursor up over it or erases it.
    // eslint-disable-next-line no-control-regex -- ANSI cursor-up and erase-line sequences
    expect(after).not.toMatch(/\u001b\[(\d*A|2K)/);
    // eslint-disable-next-line no-control-regex -- strip ANSI escapes to read the frames
    const text = after.replace(/\u001b\[[0-9;?]*[a-zA-Z]/g, '');
    expect(text).toContain('✔ updated ConfigMap meshctl-system/meshctl-mesh-config');
    expect(text).not.toContain('checking for changes');
  });
});

function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex -- strip ANSI escapes to read the frames
  return s.replace(/\u001b\[[0-9;?]*[a-zA-Z]/g, '');
}
