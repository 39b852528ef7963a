import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { Resource } from '../../src/api/resource.js';
import { crdKinds, crdSchema, servedVersions, storageApiVersion, toAjvSchema, validateResource } from '../../src/api/validate.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const clone = <T>(x: T): T => structuredClone(x);

const reviews8020: Resource = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'reviews', namespace: 'default' },
  spec: {
    hosts: ['reviews'],
    http: [
      {
        route: [
          { destination: { host: 'reviews', subset: 'v1' }, weight: 80 },
          { destination: { host: 'reviews', subset: 'v2' }, weight: 20 },
        ],
      },
    ],
  },
};

type Http = { route: { weight: unknown; destination: Record<string, unknown> }[]; match?: unknown[]; [k: string]: unknown };
const httpOf = (r: Resource): Http[] => (r.spec as { http: Http[] }).http;

describe('validateResource', () => {
  it('passes a valid Bookinfo VirtualService', async () => {
    expect(await validateResource(reviews8020)).toEqual([]);
  });

  it('reports a wrong type with its path', async () => {
    const r = clone(reviews8020);
    httpOf(r)[0]!.route[1]!.weight = 'ten';
    const issues = await validateResource(r);
    expect(issues).toEqual([{ path: 'spec.http[0].route[1].weight', keyword: 'type', message: 'must be an integer, got "ten"' }]);
  });

  it('reports an unknown field', async () => {
    const r = clone(reviews8020);
    httpOf(r)[0]!.route[0]!.destination.subnet = 'v1';
    (r.spec as Record<string, unknown>).hostz = ['x'];
    const issues = await validateResource(r);
    expect(issues).toContainEqual({ path: 'spec.http[0].route[0].destination.subnet', keyword: 'additionalProperties', message: 'unknown field "subnet"' });
    expect(issues).toContainEqual({ path: 'spec.hostz', keyword: 'additionalProperties', message: 'unknown field "hostz"' });
    expect(issues).toHaveLength(2);
  });

  it('reports an unknown top-level field but not apiVersion/kind/metadata', async () => {
    const r = { ...clone(reviews8020), specs: {} };
    expect(await validateResource(r)).toEqual([{ path: 'specs', keyword: 'additionalProperties', message: 'unknown field "specs"' }]);
  });

  it('reports a bad enum value', async () => {
    const pa: Resource = {
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name: 'default', namespace: 'istio-system' },
      spec: { mtls: { mode: 'STRICTER' } },
    };
    const issues = await validateResource(pa);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: 'spec.mtls.mode', keyword: 'enum' });
    expect(issues[0]!.message).toBe('must be one of UNSET, DISABLE, PERMISSIVE, STRICT; got "STRICTER"');
  });

  it('reports a missing required field', async () => {
    const r = clone(reviews8020);
    delete httpOf(r)[0]!.route[0]!.destination.host;
    expect(await validateResource(r)).toEqual([
      { path: 'spec.http[0].route[0].destination.host', keyword: 'required', message: 'required field "host" is missing' },
    ]);
  });

  it('explains mutually exclusive fields (oneOf) at the object', async () => {
    const r = clone(reviews8020);
    httpOf(r)[0]!.match = [{ uri: { exact: '/a', prefix: '/b' } }];
    expect(await validateResource(r)).toEqual([{ path: 'spec.http[0].match[0].uri', keyword: 'oneOf', message: 'set at most one of exact, prefix, regex' }]);
  });

  it('checks int-or-string, int32 range and prunes nulls as the API server does', async () => {
    const se: Resource = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'ServiceEntry',
      metadata: { name: 'ext', namespace: 'default' },
      spec: { hosts: ['api.example.com'], ports: [{ number: 443, name: 'https', protocol: 'TLS' }], resolution: 'DNS', location: null },
    };
    expect(await validateResource(se)).toEqual([]);
    const big = clone(se);
    (big.spec as { ports: { number: number }[] }).ports[0]!.number = 2 ** 33; // 1-65535 is a CEL rule, left to analyze
    expect((await validateResource(big)).map((i) => [i.path, i.keyword])).toEqual([['spec.ports[0].number', 'maximum']]);
    const retries = clone(reviews8020);
    httpOf(retries)[0]!.retries = { attempts: 2 ** 40 };
    expect(await validateResource(retries)).toEqual([
      { path: 'spec.http[0].retries.attempts', keyword: 'format', message: 'must be a valid int32, got number 1099511627776' },
    ]);
    const status = { ...clone(se), status: { observedGeneration: true } };
    expect(await validateResource(status)).toEqual([
      { path: 'status.observedGeneration', keyword: 'anyOf', message: 'must be an integer or a string, got boolean true' },
    ]);
    const ok = { ...clone(se), status: { observedGeneration: '3', anything: { goes: 1 } } };
    expect(await validateResource(ok)).toEqual([]);
  });

  it('rejects duplicate keys in list-type map lists', async () => {
    const se: Resource = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'ServiceEntry',
      metadata: { name: 'ext', namespace: 'default' },
      spec: {
        hosts: ['api.example.com'],
        ports: [
          { number: 443, name: 'https', protocol: 'TLS' },
          { number: 80, name: 'http', protocol: 'HTTP' },
          { number: 8443, name: 'https', protocol: 'TLS' },
        ],
      },
    };
    expect(await validateResource(se)).toEqual([
      { path: 'spec.ports[2]', keyword: 'listMapKeys', message: 'duplicate name="https" (also at index 0)' },
    ]);
  });

  it('lets preserve-unknown-fields objects through', async () => {
    const wasm: Resource = {
      apiVersion: 'extensions.istio.io/v1alpha1',
      kind: 'WasmPlugin',
      metadata: { name: 'p', namespace: 'default' },
      spec: { url: 'oci://example.com/p:1', pluginConfig: { any: { nested: ['thing'] } } },
    };
    expect(await validateResource(wasm)).toEqual([]);
  });

  it('quotes map keys that are not identifiers', async () => {
    const dr: Resource = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'r', namespace: 'default' },
      spec: { host: 'reviews', subsets: [{ name: 'v1', labels: { 'app.kubernetes.io/version': 1 } }] },
    };
    expect(await validateResource(dr)).toEqual([
      { path: 'spec.subsets[0].labels["app.kubernetes.io/version"]', keyword: 'type', message: 'must be a string, got number 1' },
    ]);
  });

  it('validates older served versions and rejects unserved ones', async () => {
    expect(await validateResource({ ...clone(reviews8020), apiVersion: 'networking.istio.io/v1alpha3' })).toEqual([]);
    const issues = await validateResource({ ...clone(reviews8020), apiVersion: 'networking.istio.io/v2' });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: 'apiVersion', keyword: 'apiVersion' });
    expect(issues[0]!.message).toContain('networking.istio.io/v1');
    const wrongGroup = await validateResource({ ...clone(reviews8020), apiVersion: 'security.istio.io/v1' });
    expect(wrongGroup).toEqual([
      { path: 'apiVersion', keyword: 'apiVersion', message: 'VirtualService is in networking.istio.io, not security.istio.io; use apiVersion networking.istio.io/v1' },
    ]);
  });

  it('names a misspelt Istio kind and ignores kinds that are not Istio CRDs', async () => {
    expect(await validateResource({ ...clone(reviews8020), kind: 'VirtualSevice' })).toEqual([
      { path: 'kind', keyword: 'kind', message: 'networking.istio.io has no kind "VirtualSevice"; did you mean VirtualService?' },
    ]);
    expect(await validateResource({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'x' }, spec: { bogus: 1 } })).toEqual([]);
    // The Gateway API's Gateway shares the kind name with Istio's but is a different API.
    expect(await validateResource({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'g' }, spec: { gatewayClassName: 'istio' } })).toEqual([]);
  });

  it('checks metadata names as the API server does', async () => {
    const issues = await validateResource({ ...clone(reviews8020), metadata: { name: 'Reviews_1', namespace: 'Default' } });
    expect(issues.map((i) => i.path)).toEqual(['metadata.name', 'metadata.namespace']);
  });

  it('validates every Bookinfo networking sample clean', async () => {
    const dir = join(root, 'samples/bookinfo/networking');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThan(15);
    let count = 0;
    for (const f of files) {
      for (const doc of parseAllDocuments(readFileSync(join(dir, f), 'utf8'))) {
        const r = doc.toJS() as Resource | null;
        if (!r) continue;
        count++;
        expect({ file: f, issues: await validateResource(r) }).toEqual({ file: f, issues: [] });
      }
    }
    expect(count).toBeGreaterThan(20);
  });

  it('compiles the schema of every served version of every CRD', async () => {
    for (const kind of crdKinds()) {
      for (const v of servedVersions(kind)) {
        const [group] = storageApiVersion(kind)!.split('/');
        const issues = await validateResource({ apiVersion: `${group}/${v.name}`, kind, metadata: { name: 'x', namespace: 'default' }, spec: {} });
        // An empty spec is valid for most kinds; whatever is reported must be a schema finding.
        for (const i of issues) expect(i.keyword).not.toBe('apiVersion');
      }
    }
  });
});

describe('toAjvSchema', () => {
  it('translates Kubernetes structural-schema extensions', () => {
    const schema = {
      type: 'object',
      description: 'dropped',
      properties: {
        tags: { type: 'array', items: { type: 'string' }, 'x-kubernetes-list-type': 'set' },
        port: { 'x-kubernetes-int-or-string': true },
        free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        anything: { 'x-kubernetes-preserve-unknown-fields': true, nullable: true },
        rule: { type: 'string', 'x-kubernetes-validations': [{ rule: 'self != ""' }] },
      },
      oneOf: [{ required: ['tags'] }, { properties: { port: {} } }],
    };
    expect(toAjvSchema(schema, true)).toEqual({
      type: 'object',
      properties: {
        tags: { type: 'array', items: { type: 'string' }, uniqueItems: true },
        port: { anyOf: [{ type: 'integer' }, { type: 'string' }] },
        free: { type: 'object' },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        anything: {},
        rule: { type: 'string' },
      },
      // Inside combinators objects stay open: closing them would reject the fields declared outside.
      oneOf: [{ required: ['tags'] }, { properties: { port: {} } }],
      additionalProperties: false,
    });
  });
});

describe('CRD info', () => {
  it('returns raw schemas with their CEL rules', () => {
    const s = crdSchema('VirtualService', 'v1') as { properties: { spec: unknown } };
    expect(s.properties.spec).toBeDefined();
    expect(JSON.stringify(crdSchema('DestinationRule', 'v1'))).toContain('x-kubernetes-validations');
    expect(crdSchema('VirtualService', 'v9')).toBeUndefined();
    expect(crdSchema('Service', 'v1')).toBeUndefined();
  });

  it('lists served versions with storage and deprecation flags', () => {
    const vs = servedVersions('VirtualService');
    expect(vs.map((v) => v.name).sort()).toEqual(['v1', 'v1alpha3', 'v1beta1']);
    expect(vs.find((v) => v.storage)?.name).toBe('v1');
    expect(vs.every((v) => typeof v.deprecated === 'boolean')).toBe(true);
    expect(servedVersions('Service')).toEqual([]);
    expect(crdKinds()).toEqual(expect.arrayContaining(['Telemetry', 'EnvoyFilter', 'WorkloadGroup', 'ProxyConfig', 'WasmPlugin']));
    expect(crdKinds()).toHaveLength(15);
  });
});

describe('in the esbuild bundle', () => {
  // Regression: the bundle exposes CommonJS ajv only as `default`, so a named import of Ajv was
  // undefined there while every test in vitest passed.
  it('loads ajv lazily into its own chunk and validates', async () => {
    const { build } = await import('esbuild');
    const dir = mkdtempSync(join(tmpdir(), 'meshctl-validate-bundle-'));
    try {
      const entry = join(dir, 'entry.ts');
      const validate = JSON.stringify(join(root, 'src/api/validate.ts'));
      writeFileSync(
        entry,
        `import { validateResource } from ${validate};\n` +
          `const r = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'r' }, spec: { hosts: ['r'], http: [{ route: [{ destination: { host: 'r' }, weight: 'ten' }] }] } };\n` +
          `process.stdout.write(JSON.stringify(await validateResource(r)));\n`,
      );
      await build({
        absWorkingDir: root,
        entryPoints: { entry },
        outdir: join(dir, 'out'),
        bundle: true,
        splitting: true,
        format: 'esm',
        platform: 'node',
        logLevel: 'silent',
        banner: { js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);" },
      });
      expect(readdirSync(join(dir, 'out')).some((f) => f.startsWith('ajv-'))).toBe(true);
      const { stdout } = await promisify(execFile)(process.execPath, [join(dir, 'out/entry.js')]);
      expect(JSON.parse(stdout)).toEqual([{ path: 'spec.http[0].route[0].weight', keyword: 'type', message: 'must be an integer, got "ten"' }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
