import { describe, expect, it } from 'vitest';
import { meshctl } from '../../helpers/run-meshctl.js';

describe('meshctl proxy flags', () => {
  it('needs --config', async () => {
    const r = await meshctl('proxy');
    expect(r.exitCode).toBe(64);
    expect(r.stderr).toMatch(/meshctl proxy needs --config DIR/);
  });

  it('rejects a bad port with the flag name', async () => {
    const r = await meshctl('proxy --config . --admin-port 99999');
    expect(r.exitCode).toBe(64);
    expect(r.stderr).toMatch(/--admin-port 99999 is not a port/);
  });

  it('a missing config directory is exit 69 naming it', async () => {
    const r = await meshctl('proxy --config /nonexistent-meshctl-dir --outbound-port 0');
    expect(r.exitCode).toBe(69);
    expect(r.stderr).toMatch(/nonexistent-meshctl-dir/);
  });

  it('--help lists the ports and examples', async () => {
    const r = await meshctl('proxy --help');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/--outbound-port/);
    expect(r.stdout).toMatch(/Examples:/);
  });
});
