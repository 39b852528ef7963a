import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { findPackageRoot, loadCrds, loadTemplates } from '../../src/commands/manifest-inputs.js';
import { renderManifests } from '../../src/manifests/render.js';
import { mergeValues, profileChain, profileValues, resolveValues } from '../../src/manifests/values.js';
import { meshctl } from '../helpers/run-meshctl.js';

const templates = await loadTemplates(findPackageRoot());
const crds = await loadCrds(findPackageRoot());

async function fails(p: Promise<unknown>): Promise<InputError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error('expected an InputError');
}

describe('values', () => {
  it('merges maps key by key, replaces lists, and removes keys set to null', () => {
    expect(mergeValues({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, d: null })).toEqual({ a: { b: 1, c: [3] } });
  });

  it('resolves demo through default (inherits)', () => {
    expect(profileChain(templates, 'demo').map((p) => p.name)).toEqual(['default', 'demo']);
    const demo = profileValues(templates, 'demo') as { controller: { autoscale: { enabled: boolean } }; meshConfig: { tracing: { enabled: boolean } } };
    expect(demo.controller.autoscale.enabled).toBe(true); // from default
    expect(demo.meshConfig.tracing.enabled).toBe(true); // demo's own
  });

  it('names an unknown profile with a suggestion', async () => {
    const e = await fails(resolveValues(templates, { profile: 'defualt' }));
    expect(e.message).toBe('unknown profile "defualt"');
    expect(e.hint).toBe('did you mean "default"? profiles: default, demo, minimal');
    const none = await fails(resolveValues(templates, { profile: 'production' }));
    expect(none.hint).toBe('profiles: default, demo, minimal');
  });

  it('rejects an unknown key, naming it with "did you mean"', async () => {
    const e = await fails(resolveValues(templates, { profile: 'default', set: ['controller.replcas=3'] }));
    expect(e.message).toBe('unknown value "controller.replcas"');
    expect(e.hint).toBe('did you mean "controller.replicas"?');
  });

  it('lists the known keys when nothing is close', async () => {
    const e = await fails(resolveValues(templates, { profile: 'default', set: ['injection.zzzzzzzzzz=1'] }));
    expect(e.hint).toBe('known keys here: enabled, failurePolicy, namespaceLabel');
  });

  it('rejects a wrong type, naming the key and the value', async () => {
    const e = await fails(resolveValues(templates, { profile: 'default', set: ['controller.replicas=many'] }));
    expect(e.message).toBe('value "controller.replicas" must be integer, got "many"');
    const e2 = await fails(resolveValues(templates, { profile: 'default', set: ['meshConfig.mtls.mode=STRICTER'] }));
    expect(e2.message).toBe('value "meshConfig.mtls.mode" must be one of "STRICT", "PERMISSIVE", "DISABLE", got "STRICTER"');
  });

  it('rejects unknown keys in -f files too, and a file that is not a map', async () => {
    const e = await fails(resolveValues(templates, { profile: 'minimal', files: [{ name: 'v.yaml', values: { image: { tagg: 'x' } } }] }));
    expect(e.hint).toBe('did you mean "image.tag"?');
    const e2 = await fails(resolveValues(templates, { profile: 'minimal', files: [{ name: 'v.yaml', values: ['a'] }] }));
    expect(e2.message).toContain('v.yaml is not a map');
  });

  it('converts a number given as text where the schema wants a number, but keeps tags as text', async () => {
    const v = (await resolveValues(templates, { profile: 'demo', set: ['meshConfig.tracing.sampling=0.5', 'image.tag=1.20'] })) as {
      meshConfig: { tracing: { sampling: unknown } };
      image: { tag: unknown };
    };
    expect(v.meshConfig.tracing.sampling).toBe(0.5);
    expect(v.image.tag).toBe('1.20');
  });

  it('refuses a key removed with null that the renderer needs', async () => {
    const e = await fails(resolveValues(templates, { profile: 'default', set: ['controller.replicas=null'] }));
    expect(e.message).toContain('"controller"');
    expect(e.message).toContain('replicas');
  });
});

describe('render', () => {
  const render = async (profile: string, set: string[] = []) =>
    renderManifests({ values: await resolveValues(templates, { profile, set }), profile, version: '9.9.9', crds });

  it('labels every object so it can be found again', async () => {
    for (const r of await render('demo')) {
      expect(r.metadata.labels?.['app.kubernetes.io/managed-by'], `${r.kind} ${r.metadata.name}`).toBe('meshctl');
      expect(r.metadata.labels?.['app.kubernetes.io/version']).toBe('9.9.9');
    }
  });

  it('renders the profiles as the issue describes', async () => {
    const kinds = async (p: string) => new Set((await render(p)).map((r) => r.kind));
    const minimal = await kinds('minimal');
    expect(minimal.has('CustomResourceDefinition')).toBe(true);
    expect(minimal.has('Deployment')).toBe(true);
    for (const k of ['MutatingWebhookConfiguration', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Secret']) expect(minimal.has(k)).toBe(false);
    const def = await kinds('default');
    for (const k of ['MutatingWebhookConfiguration', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'PeerAuthentication']) expect(def.has(k)).toBe(true);
  });

  it('renders every vendored CRD, in dependency order, with the webhook last', async () => {
    const rs = await render('default');
    expect(rs.filter((r) => r.kind === 'CustomResourceDefinition')).toHaveLength(crds.length);
    expect(rs[0]?.kind).toBe('Namespace');
    expect(rs[1]?.kind).toBe('CustomResourceDefinition');
    expect(rs[rs.length - 1]?.kind).toBe('MutatingWebhookConfiguration');
  });

  it('uses the version as image tag unless one is set, and leaves replicas to the HPA', async () => {
    const dep = (await render('default')).find((r) => r.kind === 'Deployment') as unknown as { spec: { replicas?: number; template: { spec: { containers: { image: string }[] } } } };
    expect(dep.spec.template.spec.containers[0]?.image).toBe('ghcr.io/meshctl/meshctl:9.9.9');
    expect(dep.spec.replicas).toBeUndefined();
    const min = (await render('minimal', ['image.tag=dev'])).find((r) => r.kind === 'Deployment') as unknown as typeof dep;
    expect(min.spec.replicas).toBe(1);
    expect(min.spec.template.spec.containers[0]?.image).toBe('ghcr.io/meshctl/meshctl:dev');
  });

  it('rejects half a CA and min > max replicas', async () => {
    await expect(render('minimal', ['ca.cert=x'])).rejects.toThrow(/ca.key/);
    await expect(render('default', ['controller.autoscale.minReplicas=9'])).rejects.toThrow(/maxReplicas/);
  });
});

describe('commands', () => {
  it('manifest generate names a bad key and exits 65', async () => {
    const r = await meshctl('manifest generate --set controller.replcas=2');
    expect(r.exitCode).toBe(65);
    expect(r.stderr).toBe('Error: unknown value "controller.replcas" (did you mean "controller.replicas"?)\n');
  });

  it('manifest generate reports a bad --set as a usage error (64)', async () => {
    const r = await meshctl(['manifest', 'generate', '--set', 'a..b=1']);
    expect(r.exitCode).toBe(64);
    expect(r.stderr).toContain('--set "a..b=1": empty key segment');
  });

  it('manifest generate names a missing values file', async () => {
    const r = await meshctl('manifest generate -f /nonexistent/values.yaml');
    expect(r.exitCode).toBe(65);
    expect(r.stderr).toContain('cannot read values file /nonexistent/values.yaml: ENOENT');
  });

  it('profile list shows the three profiles', async () => {
    const r = await meshctl('profile list -o json');
    expect(r.exitCode).toBe(0);
    expect((JSON.parse(r.stdout) as { name: string }[]).map((p) => p.name)).toEqual(['default', 'demo', 'minimal']);
  });

  it('profile dump prints values that manifest generate accepts back', async () => {
    const r = await meshctl('profile dump demo -o json');
    expect(JSON.parse(r.stdout)).toEqual(profileValues(templates, 'demo'));
  });

  it('profile diff shows what demo changes', async () => {
    const r = await meshctl('profile diff default demo -o json');
    const changes = (JSON.parse(r.stdout) as { changes: { key: string; from: unknown; to: unknown }[] }).changes;
    expect(changes).toContainEqual({ key: 'meshConfig.tracing.enabled', from: false, to: true });
    expect(changes.find((c) => c.key === 'injection.enabled')).toBeUndefined();
    const text = await meshctl('profile diff default demo');
    expect(text.stdout).toContain('-     enabled: false');
    expect((await meshctl('profile diff demo demo')).stdout).toBe('profiles demo and demo have the same values\n');
  });
});

describe('--set-file', () => {
  it('brings your own CA from PEM files: a Secret, mounted, and the webhook trusts it', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { parse } = await import('yaml');
    const dir = mkdtempSync(join(tmpdir(), 'meshctl-setfile-'));
    try {
      const ca = parse(readFileSync(new URL('../fixtures/manifests/ca-values.yaml', import.meta.url), 'utf8')) as { ca: { cert: string; key: string } };
      writeFileSync(join(dir, 'root-cert.pem'), ca.ca.cert);
      writeFileSync(join(dir, 'root-key.pem'), ca.ca.key);
      const r = await meshctl(['manifest', 'generate', '-o', 'json', '--set-file', 'ca.cert=root-cert.pem,ca.key=root-key.pem'], { cwd: dir });
      expect(r.stderr).toBe('');
      const items = (JSON.parse(r.stdout) as { items: { kind: string; data?: Record<string, string>; webhooks?: { clientConfig: { caBundle?: string } }[] }[] }).items;
      const secret = items.find((i) => i.kind === 'Secret');
      expect(Buffer.from(secret?.data?.['tls.crt'] ?? '', 'base64').toString()).toBe(ca.ca.cert);
      expect(items.find((i) => i.kind === 'MutatingWebhookConfiguration')?.webhooks?.[0]?.clientConfig.caBundle).toBe(secret?.data?.['ca.crt']);
      const missing = await meshctl(['manifest', 'generate', '--set-file', 'ca.cert=nope.pem'], { cwd: dir });
      expect(missing.exitCode).toBe(65);
      expect(missing.stderr).toContain('--set-file ca.cert=nope.pem: cannot read nope.pem: ENOENT');
      const half = await meshctl(['manifest', 'generate', '--set-file', 'ca.cert=root-cert.pem'], { cwd: dir });
      expect(half.stderr).toContain('value "ca.key" is empty but "ca.cert" is set');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
