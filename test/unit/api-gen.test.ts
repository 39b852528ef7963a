import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { DestinationRule, HTTPRoute, MeshSpecs, Service, VirtualService } from '../../src/api/types.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const committed = join(root, 'src/api/generated');
const out = mkdtempSync(join(tmpdir(), 'meshctl-gen-api-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('scripts/gen-api-types.mjs', () => {
  it('committed output is up to date (run `npm run gen:api` if this fails)', async () => {
    await promisify(execFile)(process.execPath, [join(root, 'scripts/gen-api-types.mjs'), '--out', out], { cwd: root });
    for (const file of ['schemas.json', 'crds.ts', 'types.ts']) {
      const fresh = readFileSync(join(out, file), 'utf8');
      expect(fresh.length).toBeGreaterThan(1000);
      // Compared as strings, not parsed: key order and formatting are part of "deterministic".
      expect(readFileSync(join(committed, file), 'utf8') === fresh, `${file} differs from a fresh generation`).toBe(true);
    }
  });

  it('schemas.json holds every version of every CRD in the vendored file', () => {
    const schemas = JSON.parse(readFileSync(join(committed, 'schemas.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    const crdFile = readFileSync(join(root, 'third_party/istio/istio-crds.yaml'), 'utf8');
    const kinds = [...crdFile.matchAll(/^ {4}kind: (\w+)$/gm)].map((m) => m[1]);
    expect(Object.keys(schemas).sort()).toEqual([...new Set(kinds)].sort());
    expect(Object.keys(schemas.VirtualService!).sort()).toEqual(['v1', 'v1alpha3', 'v1beta1']);
  });

  it('types.ts names nested types readably and carries doc comments', () => {
    const types = readFileSync(join(committed, 'types.ts'), 'utf8');
    for (const name of ['VirtualServiceSpec', 'HTTPRoute', 'HTTPMatchRequest', 'HTTPRouteDestination', 'Destination', 'StringMatch', 'Subset', 'TrafficPolicy', 'Server', 'PeerAuthenticationMutualTLS', 'Rule', 'JWTRule']) {
      expect(types).toMatch(new RegExp(`^export interface ${name} \\{`, 'm'));
    }
    expect(types).toContain('export type VirtualService = Resource<VirtualServiceSpec>;');
    expect(types).toContain("mode?: 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';");
    expect(types).toMatch(/\/\*\* The destination hosts to which traffic is being sent\. \*\/\n {2}hosts\?: string\[\];/);
  });

  it('types fit the Bookinfo samples (checked by tsc, which includes this file)', () => {
    const vs: VirtualService = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'reviews' },
      spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 80 }] }] },
    };
    // @ts-expect-error weight is a number in the schema
    const bad: HTTPRoute = { route: [{ destination: { host: 'reviews' }, weight: 'ten' }] };
    const dr: DestinationRule = { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'r' }, spec: { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }] } };
    const svc: Service = { metadata: { name: 'reviews' }, spec: { ports: [{ port: 9080 }] } };
    const spec: MeshSpecs['PeerAuthentication'] = { mtls: { mode: 'STRICT' } };
    expect([vs.spec?.http?.[0]?.route?.[0]?.weight, bad.route?.length, dr.spec?.subsets?.[0]?.name, svc.spec?.ports?.[0]?.port, spec.mtls?.mode]).toEqual([80, 1, 'v1', 9080, 'STRICT']);
  });
});
