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

  it('rejects a bad --otlp-endpoint and --trace-sampling with the fix', async () => {
    const a = await meshctl('proxy --config . --otlp-endpoint collector:4318');
    expect(a.exitCode).toBe(64);
    expect(a.stderr).toMatch(/--otlp-endpoint collector:4318 is not an http\(s\) URL/);
    const b = await meshctl('proxy --config . --otlp-endpoint http://c:4318 --trace-sampling 150');
    expect(b.exitCode).toBe(64);
    expect(b.stderr).toMatch(/--trace-sampling 150 is not a percentage/);
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
