import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateRootCA } from '../../src/commands/install.js';
import { FileStore } from '../../src/store/file-store.js';
import { meshctl } from '../helpers/run-meshctl.js';

const root = mkdtempSync(join(tmpdir(), 'meshctl-local-install-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('install --local DIR', () => {
  const dir = join(root, 'mesh');

  it('--dry-run for a directory that does not exist yet lists what it would create and creates nothing', async () => {
    const r = await meshctl(['install', '--local', dir, '--dry-run']);
    expect(r.stderr).toContain('would create Deployment meshctl-system/meshctl-controller');
    expect(r.stderr).toContain('would create Secret meshctl-system/meshctl-ca');
    expect(r.stdout).toContain(`dry run: 5 objects would change in ${dir}; nothing was changed`);
    expect(r.exitCode).toBe(0);
    expect(existsSync(dir)).toBe(false);
  });

  it('lays out a file-backed mesh that `version` reads', async () => {
    const r = await meshctl(['install', '--local', dir, '--profile', 'demo']);
    expect(r.stderr).toContain('created Deployment meshctl-system/meshctl-controller');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`laid out meshctl 0.1.0 (profile demo) in ${dir}`);
    const v = await meshctl(['--local', dir, 'version', '-o', 'json']);
    expect(v.exitCode).toBe(0);
    expect((JSON.parse(v.stdout) as { controlPlane: { version: string } }).controlPlane.version).toBe('0.1.0');
  });

  it('writes the mesh config and a real self-signed root CA whose key matches', async () => {
    const store = await FileStore.open(dir);
    const cm = await store.get({ kind: 'ConfigMap', namespace: 'meshctl-system', name: 'meshctl-mesh-config' });
    expect((cm?.data as { mesh: string }).mesh).toContain('enableTracing: true');
    const secret = await store.get({ kind: 'Secret', namespace: 'meshctl-system', name: 'meshctl-ca' });
    const file = (await store.sourceOf({ kind: 'Secret', namespace: 'meshctl-system', name: 'meshctl-ca' }))?.file ?? '';
    await store.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const data = secret?.data as Record<string, string>;
    const cert = new X509Certificate(Buffer.from(data['tls.crt'] ?? '', 'base64'));
    expect(cert.ca).toBe(true);
    expect(cert.subject).toContain('CN=meshctl root CA');
    expect(cert.verify(cert.publicKey)).toBe(true);
    const key = createPrivateKey(Buffer.from(data['tls.key'] ?? '', 'base64').toString('utf8'));
    expect(cert.checkPrivateKey(key)).toBe(true);
  });

  it('changes nothing on a re-run and keeps the CA', async () => {
    const store = await FileStore.open(dir);
    const before = await store.get({ kind: 'Secret', namespace: 'meshctl-system', name: 'meshctl-ca' });
    const r = await meshctl(['install', '--local', dir, '--profile', 'demo']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('is already laid out');
    const after = await store.get({ kind: 'Secret', namespace: 'meshctl-system', name: 'meshctl-ca' });
    await store.close();
    expect(after?.data).toEqual(before?.data);
  });

  it('updates what a new profile changes; --dry-run writes nothing', async () => {
    const dry = await meshctl(['install', '--local', dir, '--profile', 'minimal', '--dry-run']);
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toContain('dry run:');
    expect((await meshctl(['install', '--local', dir, '--profile', 'demo'])).stdout).toContain('is already laid out');
    const r = await meshctl(['install', '--local', dir, '--profile', 'minimal']);
    expect(r.stderr).toContain('updated ConfigMap meshctl-system/meshctl-mesh-config');
    expect(r.stderr).toContain('pruned PeerAuthentication meshctl-system/default');
  });

  it('verify-install --local checks the laid-out objects against the render', async () => {
    const ok = await meshctl(['verify-install', '--local', dir, '--profile', 'minimal']);
    expect(ok.stdout).toContain('meshctl 0.1.0 (profile minimal) is installed: 3 objects verified');
    expect(ok.exitCode).toBe(0);
    const drift = await meshctl(['verify-install', '--local', dir, '--profile', 'demo']);
    expect(drift.exitCode).toBe(69);
    expect(drift.stdout).toContain('✗ ConfigMap meshctl-system/meshctl-mesh-config: drifted (data.mesh: want');
    expect(drift.stdout).toContain('✗ PeerAuthentication meshctl-system/default: missing');
  });

  it('uninstall --local keeps the root CA unless --purge', async () => {
    const r = await meshctl(['uninstall', '--local', dir]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('kept the root CA (Secret meshctl-system/meshctl-ca)');
    const store = await FileStore.open(dir);
    expect(await store.get({ kind: 'Deployment', namespace: 'meshctl-system', name: 'meshctl-controller' })).toBeUndefined();
    expect(await store.get({ kind: 'Secret', namespace: 'meshctl-system', name: 'meshctl-ca' })).toBeDefined();
    const p = await meshctl(['uninstall', '--local', dir, '--purge']);
    expect(p.stdout).toContain('deleted 2 objects');
    expect(await store.list('Secret')).toEqual([]);
    expect(await store.list('Namespace')).toEqual([]);
    await store.close();
    expect((await meshctl(['uninstall', '--local', dir])).stdout).toContain('meshctl is not installed in');
  });

  it('generates CAs valid from now, for the trust domain', async () => {
    const now = new Date('2030-01-02T03:04:05Z');
    const ca = await generateRootCA(now, 'example.org');
    const cert = new X509Certificate(ca.certPem);
    expect(cert.subject).toContain('O=example.org');
    expect(new Date(cert.validFrom).getTime()).toBeLessThanOrEqual(now.getTime());
    expect(new Date(cert.validTo).getUTCFullYear()).toBe(2039);
  });
});
