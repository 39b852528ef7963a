import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The built binary, as users run it (npm test builds dist/ first).
const bin = fileURLToPath(new URL('../../bin/meshctl', import.meta.url));
const env = { PATH: process.env.PATH, HOME: '/nonexistent-meshctl-e2e' };

describe('the meshctl binary', () => {
  it('prints help and exits 0, loading no cluster client', () => {
    const r = spawnSync(process.execPath, [bin, '--help'], { env, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: meshctl');
    expect(r.stderr).toBe('');
  });

  it('prints the version as JSON', () => {
    const r = spawnSync(process.execPath, [bin, 'version', '-o', 'json'], { env, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).client.node).toBe(process.version);
  });

  it('stops quietly with exit 0 when its reader goes away (| head)', async () => {
    const child = spawn(process.execPath, [bin, 'completion', 'bash'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Close our end after the first chunk, as `head -1` does.
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).not.toContain('EPIPE');
    expect(code).toBe(0);
  });

  it('a user mistake is one line on stderr and exit 64, no stack trace', () => {
    const r = spawnSync(process.execPath, [bin, 'version', '-o', 'xml'], { env, encoding: 'utf8' });
    expect(r.status).toBe(64);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
