import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Resource } from '../../src/api/resource.js';
import { findPackageRoot, loadCrds, loadTemplates } from '../../src/commands/manifest-inputs.js';
import { NO_CA_NOTE } from '../../src/commands/manifest.js';
import { clusterCA, generateRootCA } from '../../src/commands/install.js';
import { injectDiscoveryAddress } from '../../src/controller/run.js';
import type { Context } from '../../src/context.js';
import { CA_SECRET, GENERATED_CA_ANNOTATION, NAMESPACE, renderManifests } from '../../src/manifests/render.js';
import { resolveValues } from '../../src/manifests/values.js';
import type { KubeApplier } from '../../src/store/kube-apply.js';
import { meshctl } from '../helpers/run-meshctl.js';

/**
 * The root CA when the values bring none: install reads the meshctl-ca Secret or generates a CA and
 * hands it to the (pure) renderer; manifest generate renders none and says so on stderr. And the
 * discovery address the mesh config names is the one injected sidecars get: plain HTTP, port 15010.
 */
const root = findPackageRoot();
const templates = await loadTemplates(root);
const crds = await loadCrds(root);
const repo = new URL('../../', import.meta.url).pathname;
const ca = await generateRootCA(new Date('2026-01-01T00:00:00Z'), 'cluster.local');
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

type Obj = Resource & { data?: Record<string, string>; webhooks?: { clientConfig: { caBundle?: string } }[]; spec?: Record<string, unknown> };
const find = (items: Resource[], kind: string) => items.find((r) => r.kind === kind) as Obj | undefined;
const podTemplate = (d: Obj | undefined) => (d?.spec as { template: { metadata: { annotations: Record<string, string> }; spec: { containers: { env: { name: string; value?: string }[] }[]; volumes: { name: string }[] } } }).template;

async function render(profile: string, extra: { cert: string; key: string; generated: boolean } | undefined, set: string[] = []): Promise<Resource[]> {
  const values = await resolveValues(templates, { profile, set });
  return renderManifests({ values, profile, version: '9.9.9', crds, ca: extra });
}

/** A KubeApplier that answers get() from a map; every other call is a test failure. */
function fakeKube(objects: Record<string, Resource>, getError?: Error): KubeApplier {
  return {
    context: 'test',
    async get(ref: { kind: string; namespace?: string; name: string }) {
      if (getError) throw getError;
      return objects[`${ref.kind}/${ref.namespace ?? ''}/${ref.name}`];
    },
  } as unknown as KubeApplier;
}
const ctx = { now: () => new Date('2026-01-01T00:00:00Z') } as unknown as Context;

describe('renderer with a CA from the installer', () => {
  it('renders the Secret (marked generated), mounts it, and puts its cert in the webhook caBundle', async () => {
    const items = await render('default', { cert: ca.certPem, key: ca.keyPem, generated: true });
    const secret = find(items, 'Secret');
    expect(secret?.metadata).toMatchObject({ name: CA_SECRET, namespace: NAMESPACE, annotations: { [GENERATED_CA_ANNOTATION]: expect.any(String) } });
    expect(secret?.data).toEqual({ 'tls.crt': b64(ca.certPem), 'tls.key': b64(ca.keyPem), 'ca.crt': b64(ca.certPem) });
    expect(find(items, 'MutatingWebhookConfiguration')?.webhooks?.[0]?.clientConfig.caBundle).toBe(b64(ca.certPem));
    const tpl = podTemplate(find(items, 'Deployment'));
    expect(tpl.spec.containers[0]?.env).toContainEqual({ name: 'MESHCTL_CA_DIR', value: '/etc/meshctl/ca' });
    expect(tpl.spec.volumes.map((v) => v.name)).toContain('ca');
    expect(tpl.metadata.annotations['meshctl.dev/ca-hash']).toMatch(/^[0-9a-f]{16}$/);
  });

  it('is deterministic for the same CA, and a different CA changes the pod template (controller restarts)', async () => {
    const a = await render('default', { cert: ca.certPem, key: ca.keyPem, generated: true });
    const b = await render('default', { cert: ca.certPem, key: ca.keyPem, generated: true });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    const other = await generateRootCA(new Date('2026-01-01T00:00:00Z'), 'cluster.local');
    const c = await render('default', { cert: other.certPem, key: other.keyPem, generated: true });
    expect(podTemplate(find(c, 'Deployment')).metadata.annotations['meshctl.dev/ca-hash']).not.toBe(podTemplate(find(a, 'Deployment')).metadata.annotations['meshctl.dev/ca-hash']);
  });

  it('a CA in the values wins over the installer\'s, and is not marked generated', async () => {
    const other = await generateRootCA(new Date('2026-01-01T00:00:00Z'), 'cluster.local');
    const items = await render('default', { cert: other.certPem, key: other.keyPem, generated: true }, [`ca.cert=${ca.certPem}`, `ca.key=${ca.keyPem}`]);
    const secret = find(items, 'Secret');
    expect(secret?.data?.['tls.crt']).toBe(b64(ca.certPem));
    expect(secret?.metadata.annotations?.[GENERATED_CA_ANNOTATION]).toBeUndefined();
  });

  it('the controller role has no access to Secrets and no write access to the webhook configuration', async () => {
    const items = await render('demo', { cert: ca.certPem, key: ca.keyPem, generated: true });
    const rules = items.filter((r) => r.kind === 'Role' || r.kind === 'ClusterRole').flatMap((r) => (r as unknown as { rules: { resources: string[]; verbs: string[] }[] }).rules);
    expect(rules.filter((r) => r.resources.includes('secrets'))).toEqual([]);
    expect(rules.filter((r) => r.resources.includes('mutatingwebhookconfigurations'))).toEqual([]);
  });

  it('the mesh config names plain-HTTP discovery on 15010, the port the Service and container expose', async () => {
    const items = await render('default', undefined);
    const mesh = (find(items, 'ConfigMap')?.data as Record<string, string>).mesh ?? '';
    expect((parse(mesh) as { defaultConfig: { discoveryAddress: string } }).defaultConfig.discoveryAddress).toBe('meshctl-controller.meshctl-system.svc:15010');
    const ports = ((find(items, 'Service')?.spec as { ports: { port: number }[] }).ports).map((p) => p.port);
    expect(ports).toContain(15010);
    expect(ports).not.toContain(15012);
    expect(await injectDiscoveryAddress({}, mesh, 'elsewhere')).toBe('http://meshctl-controller.meshctl-system.svc:15010');
  });
});

describe('injectDiscoveryAddress', () => {
  it('env wins, then the mesh config, then the controller Service in the pod namespace', async () => {
    const mesh = 'defaultConfig:\n  discoveryAddress: ctl.mesh.svc:9999\n';
    expect(await injectDiscoveryAddress({ MESHCTL_DISCOVERY_ADDRESS: 'http://x:1' }, mesh, 'ns')).toBe('http://x:1');
    expect(await injectDiscoveryAddress({}, mesh, 'ns')).toBe('http://ctl.mesh.svc:9999');
    expect(await injectDiscoveryAddress({}, 'defaultConfig:\n  discoveryAddress: http://a:2\n', 'ns')).toBe('http://a:2');
    expect(await injectDiscoveryAddress({}, undefined, 'ns')).toBe('http://meshctl-controller.ns.svc:15010');
    expect(await injectDiscoveryAddress({}, 'trustDomain: x\n', 'ns')).toBe('http://meshctl-controller.ns.svc:15010');
  });

  it('refuses a TLS address rather than pretending TLS discovery exists', async () => {
    await expect(injectDiscoveryAddress({}, 'defaultConfig:\n  discoveryAddress: https://a:15012\n', 'ns')).rejects.toThrow(/not plain HTTP/);
  });
});

describe('clusterCA (install, values without a CA)', () => {
  const values = { meshConfig: { trustDomain: 'cluster.local' }, ca: { cert: '', key: '' } };
  const secretRef = `Secret/${NAMESPACE}/${CA_SECRET}`;

  it('reuses the CA in an existing meshctl-ca Secret, keeping whether meshctl generated it', async () => {
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: CA_SECRET, namespace: NAMESPACE, annotations: { [GENERATED_CA_ANNOTATION]: 'x' } }, data: { 'tls.crt': b64(ca.certPem), 'tls.key': b64(ca.keyPem) } } as Resource;
    const got = await clusterCA(ctx, fakeKube({ [secretRef]: secret }), values);
    expect(got?.ca).toEqual({ cert: ca.certPem, key: ca.keyPem, generated: true });
    const mine = { ...secret, metadata: { name: CA_SECRET, namespace: NAMESPACE } } as Resource;
    expect((await clusterCA(ctx, fakeKube({ [secretRef]: mine }), values))?.ca.generated).toBe(false);
  });

  it('generates a self-signed CA when there is none, a new one each time', async () => {
    const a = await clusterCA(ctx, fakeKube({}), values);
    const b = await clusterCA(ctx, fakeKube({}), values);
    expect(a?.ca.generated).toBe(true);
    expect(a?.ca.cert).toContain('-----BEGIN CERTIFICATE-----');
    expect(a?.ca.key).toMatch(/-----BEGIN PRIVATE KEY-----/);
    expect(a?.ca.cert).not.toBe(b?.ca.cert);
    expect(a?.note).toMatch(/generated a self-signed one/);
  });

  it('does nothing when the values bring a CA', async () => {
    expect(await clusterCA(ctx, fakeKube({}, new Error('must not read the cluster')), { ...values, ca: { cert: ca.certPem, key: ca.keyPem } })).toBeUndefined();
  });

  it('a meshctl-ca Secret without PEM data is an error naming the fix, not silently replaced', async () => {
    const broken = { apiVersion: 'v1', kind: 'Secret', metadata: { name: CA_SECRET, namespace: NAMESPACE }, data: { 'tls.crt': b64('nope') } } as Resource;
    await expect(clusterCA(ctx, fakeKube({ [secretRef]: broken }), values)).rejects.toMatchObject({ code: 'E_BAD_CA', hint: expect.stringMatching(/delete secret meshctl-ca/) });
  });
});

describe('manifest generate without a CA', () => {
  it('prints the same bytes twice, with no CA Secret or caBundle, and one note on stderr saying how install provides it', async () => {
    const a = await meshctl('manifest generate', { cwd: repo });
    const b = await meshctl('manifest generate', { cwd: repo });
    expect(a.exitCode).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).not.toContain('kind: Secret');
    expect(a.stdout).not.toContain('caBundle');
    expect(a.stderr).toBe(`${NO_CA_NOTE}\n`);
    expect(NO_CA_NOTE).toMatch(/meshctl install reuses Secret meshctl-system\/meshctl-ca or generates one/);
    const minimal = await meshctl('manifest generate --profile minimal', { cwd: repo });
    expect(minimal.stderr).toBe('');
  });
});
