/**
 * Schema validation of Istio resources against the openAPIV3Schema of their CRD, the way the
 * Kubernetes API server applies it, so `meshctl analyze` on files reports what `kubectl apply`
 * would reject. The schemas come from src/api/generated/schemas.json (extracted from
 * third_party/istio/istio-crds.yaml by scripts/gen-api-types.mjs), bundled into the binary.
 *
 * What the API server does and ajv does not, handled here:
 * - `x-kubernetes-*` keywords are removed before compiling (ajv would reject them as unknown);
 *   `x-kubernetes-int-or-string` becomes "integer or string", `x-kubernetes-preserve-unknown-fields`
 *   lets unknown fields through;
 * - unknown fields are errors (`kubectl apply` validates strictly): objects with `properties` get
 *   `additionalProperties: false` unless they preserve unknown fields;
 * - `null` in a field that is not `nullable` is pruned, not an error;
 * - Kubernetes formats (int32, int64, double, date-time, byte) are known, others are ignored.
 * CEL rules (`x-kubernetes-validations`) are not evaluated here: they stay in the raw schema that
 * {@link crdSchema} returns, for the analyzers.
 */
import type { Ajv, ErrorObject, SchemaValidateFunction, ValidateFunction } from 'ajv';
import { closest } from '../core/errors.js';
import { CRDS, type CrdVersion } from './generated/crds.js';
import schemasJson from './generated/schemas.json' with { type: 'json' };
import type { Resource } from './resource.js';
import { cjs } from '../core/module-interop.js';

export interface SchemaIssue {
  /** Dotted path with indices, e.g. `spec.http[0].route[1].weight`. */
  path: string;
  message: string;
  /** The schema keyword that failed (`type`, `enum`, `additionalProperties`, ...), or `apiVersion`/`kind`/`metadata`. */
  keyword: string;
}

type Schema = Record<string, unknown>;

const SCHEMAS = schemasJson as unknown as Readonly<Record<string, Readonly<Record<string, Schema>>>>;

/** The raw openAPIV3Schema of one CRD version (CEL rules included), or undefined. */
export function crdSchema(kind: string, version: string): object | undefined {
  return SCHEMAS[kind]?.[version];
}

/** The served versions of a CRD kind with their deprecation and storage flags; [] for unknown kinds. */
export function servedVersions(kind: string): { name: string; deprecated: boolean; storage: boolean; deprecationWarning?: string }[] {
  return (CRDS[kind]?.versions ?? [])
    .filter((v) => v.served)
    .map((v) => ({
      name: v.name,
      deprecated: v.deprecated,
      storage: v.storage,
      ...(v.deprecationWarning === undefined ? {} : { deprecationWarning: v.deprecationWarning }),
    }));
}

/** The apiVersion the cluster stores a kind in (`networking.istio.io/v1`), for "use X instead" hints. */
export function storageApiVersion(kind: string): string | undefined {
  const crd = CRDS[kind];
  const v = crd?.versions.find((x) => x.storage);
  return crd && v ? `${crd.group}/${v.name}` : undefined;
}

/** Every kind that has a CRD schema (all CRDs in the vendored file). */
export function crdKinds(): string[] {
  return Object.keys(CRDS);
}

/**
 * Validates a resource against the schema of its CRD version. Returns [] for kinds that are not
 * Istio CRDs (Service, Deployment, Gateway API `Gateway` ...), one issue for an apiVersion or kind the
 * CRDs do not serve, and otherwise every schema violation with its path.
 */
export async function validateResource(r: Resource): Promise<SchemaIssue[]> {
  const [group, version] = splitApiVersion(r.apiVersion);
  const crd = CRDS[r.kind];
  if (!crd || crd.group !== group) {
    if (!crd && group !== undefined && ISTIO_GROUPS.has(group)) {
      const kinds = Object.keys(CRDS).filter((k) => CRDS[k]?.group === group);
      const guess = closest(r.kind, kinds);
      return [{ path: 'kind', keyword: 'kind', message: `${group} has no kind ${JSON.stringify(r.kind)}${guess ? `; did you mean ${guess}?` : ''}` }];
    }
    if (crd && group !== undefined && ISTIO_GROUPS.has(group)) {
      return [{ path: 'apiVersion', keyword: 'apiVersion', message: `${r.kind} is in ${crd.group}, not ${group}; use apiVersion ${storageApiVersion(r.kind)}` }];
    }
    return [];
  }
  const v = crd.versions.find((x) => x.name === version && x.served);
  const schema = v && SCHEMAS[r.kind]?.[v.name];
  if (!v || !schema) {
    return [{ path: 'apiVersion', keyword: 'apiVersion', message: `${r.kind} is not served as ${r.apiVersion}; served versions: ${served(crd.versions)} (use ${storageApiVersion(r.kind)})` }];
  }

  const issues = metadataIssues(r);
  // The CRD schema describes spec and status only; apiVersion, kind and metadata are the API
  // server's own, so they are left out rather than reported as unknown fields.
  const { apiVersion: _a, kind: _k, metadata: _m, ...body } = r;
  const data = pruneNulls(body, schema);
  const validate = await validatorFor(r.kind, v.name, schema);
  if (!validate(data)) issues.push(...toIssues(validate.errors ?? [], data));
  return dedupe(issues);
}

const ISTIO_GROUPS = new Set(Object.values(CRDS).map((c) => c.group));

function splitApiVersion(apiVersion: unknown): [string | undefined, string | undefined] {
  if (typeof apiVersion !== 'string' || apiVersion === '') return [undefined, undefined];
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? ['', apiVersion] : [apiVersion.slice(0, slash), apiVersion.slice(slash + 1)];
}

const served = (versions: readonly CrdVersion[]): string =>
  versions
    .filter((x) => x.served)
    .map((x) => x.name)
    .join(', ');

// Names of namespaced custom resources must be DNS-1123 subdomains (API server ValidateObjectMeta).
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function metadataIssues(r: Resource): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  const meta: unknown = r.metadata;
  if (typeof meta !== 'object' || meta === null) return [{ path: 'metadata', keyword: 'metadata', message: 'metadata is missing' }];
  const { name, namespace, generateName } = meta as { name?: unknown; namespace?: unknown; generateName?: unknown };
  if (name === undefined || name === '') {
    if (typeof generateName !== 'string') issues.push({ path: 'metadata.name', keyword: 'metadata', message: 'name is required' });
  } else if (typeof name !== 'string' || name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    issues.push({ path: 'metadata.name', keyword: 'metadata', message: `${JSON.stringify(name)} is not a valid name: use lower-case letters, digits, '-' and '.', at most 253 characters` });
  }
  if (namespace !== undefined && (typeof namespace !== 'string' || namespace.length > 63 || !DNS1123_LABEL.test(namespace))) {
    issues.push({ path: 'metadata.namespace', keyword: 'metadata', message: `${JSON.stringify(namespace)} is not a valid namespace: use lower-case letters, digits and '-', at most 63 characters` });
  }
  return issues;
}

// ---------------------------------------------------------------------------------------------
// Compiling: one ajv instance, one validator per kind and version, made on first use. A module
// level memo is safe: the schemas are constants bundled with the binary.

let ajvPromise: Promise<Ajv> | undefined;
const validators = new Map<string, ValidateFunction>(); // by kind/version
const byContent = new Map<string, ValidateFunction>(); // by the compiled schema's JSON

async function validatorFor(kind: string, version: string, schema: Schema): Promise<ValidateFunction> {
  const key = `${kind}/${version}`;
  const cached = validators.get(key);
  if (cached) return cached;
  ajvPromise ??= createAjv();
  const ajv = await ajvPromise;
  // Another caller may have compiled it while this one waited for ajv.
  const again = validators.get(key);
  if (again) return again;
  // Versions of one CRD usually carry the same schema (VirtualService v1, v1beta1, v1alpha3):
  // compile each distinct schema once.
  const compiled = toAjvSchema(schema, true) as Schema;
  const text = JSON.stringify(compiled);
  const fn = byContent.get(text) ?? ajv.compile(compiled);
  byContent.set(text, fn);
  validators.set(key, fn);
  return fn;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

async function createAjv(): Promise<Ajv> {
  const { Ajv } = cjs(await import('ajv'));
  // strict: false and no logger: formats ajv does not know are ignored silently, as the API server
  // ignores them, and nothing is written to the console.
  // verbose: errors carry the failing schema, which the messages for oneOf/anyOf need.
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: false, logger: false, validateSchema: false });
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -2147483648 && n <= 2147483647 });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  ajv.addFormat('float', { type: 'number', validate: () => true });
  ajv.addFormat('double', { type: 'number', validate: () => true });
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => RFC3339.test(s) && !Number.isNaN(Date.parse(s.replace(' ', 'T'))) });
  ajv.addFormat('byte', { type: 'string', validate: (s: string) => BASE64.test(s) });
  ajv.addKeyword({ keyword: LIST_MAP_KEYS, type: 'array', schemaType: 'array', errors: true, validate: uniqueByKeys });
  return ajv;
}

/** The keyword `x-kubernetes-list-type: map` compiles to; its value is the key field names. */
const LIST_MAP_KEYS = 'listMapKeys';

const uniqueByKeys: SchemaValidateFunction = (keys: string[], items: unknown[]): boolean => {
  const seen = new Map<string, number>();
  const errors: Partial<ErrorObject>[] = [];
  items.forEach((item, index) => {
    if (!isObject(item)) return;
    const key = JSON.stringify(keys.map((k) => item[k] ?? null));
    const first = seen.get(key);
    if (first === undefined) seen.set(key, index);
    else errors.push({ keyword: LIST_MAP_KEYS, params: { index, first, keys }, message: `duplicate ${keys.map((k) => `${k}=${JSON.stringify(item[k])}`).join(', ')}` });
  });
  uniqueByKeys.errors = errors;
  return errors.length === 0;
};

const isObject = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The schema ajv compiles: Kubernetes extensions translated, descriptions dropped (they only make
 * the generated code bigger). `spine` is true along properties/items/additionalProperties and false
 * inside anyOf/oneOf/allOf/not, where Kubernetes forbids new properties, so closing objects there
 * would reject valid fields.
 */
export function toAjvSchema(schema: unknown, spine: boolean): unknown {
  if (!isObject(schema)) return schema;
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k.startsWith('x-kubernetes-') || k === 'description') continue;
    if (k === 'properties' && isObject(v)) {
      out[k] = Object.fromEntries(Object.entries(v).map(([name, s]) => [name, toAjvSchema(s, spine)]));
    } else if (k === 'items' || k === 'additionalProperties') {
      out[k] = toAjvSchema(v, spine);
    } else if ((k === 'anyOf' || k === 'oneOf' || k === 'allOf') && Array.isArray(v)) {
      out[k] = v.map((s) => toAjvSchema(s, false));
    } else if (k === 'not') {
      out[k] = toAjvSchema(v, false);
    } else if (k === 'nullable') {
      // ajv refuses `nullable` without `type`; Kubernetes allows it (int-or-string, preserve-unknown).
      if (schema.type !== undefined) out[k] = v;
    } else {
      out[k] = v;
    }
  }
  if (schema['x-kubernetes-int-or-string'] === true && out.type === undefined && out.anyOf === undefined) {
    out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  // List types: a `set` holds no duplicates, a `map` no two items with the same key fields; the API
  // server rejects both ("Duplicate value"). `atomic` (the default) allows anything.
  const listType = schema['x-kubernetes-list-type'];
  const mapKeys = schema['x-kubernetes-list-map-keys'];
  if (listType === 'set') out.uniqueItems = true;
  if (listType === 'map' && Array.isArray(mapKeys) && mapKeys.length > 0) out[LIST_MAP_KEYS] = mapKeys.map(String);
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  if (spine && !preserve && schema.additionalProperties === undefined && (isObject(schema.properties) || schema.type === 'object')) {
    out.additionalProperties = false;
  }
  return out;
}

/** Drops null values of fields that are not nullable, as the API server prunes them before validation. */
function pruneNulls(value: unknown, schema: unknown): unknown {
  if (!isObject(schema)) return value;
  if (Array.isArray(value)) return value.map((item) => pruneNulls(item, schema.items));
  if (!isObject(value)) return value;
  const props = isObject(schema.properties) ? schema.properties : undefined;
  const extra = isObject(schema.additionalProperties) ? schema.additionalProperties : undefined;
  const out: Schema = {};
  for (const [k, v] of Object.entries(value)) {
    const child = props?.[k] ?? extra;
    // Unknown fields keep their value so they are still reported as unknown.
    if (v === null && isObject(child) && child.nullable !== true) continue;
    out[k] = pruneNulls(v, child);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Errors: ajv's JSON pointers and messages -> dotted paths and messages that name the fix.

// Errors inside a oneOf/anyOf/not branch only explain why the branch failed; the combinator's own
// error is reported instead (with a better message below).
const IN_BRANCH = /\/(?:oneOf|anyOf)\/\d+\/|\/not\//;

function toIssues(errors: readonly ErrorObject[], data: unknown): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  for (const e of errors) {
    if (IN_BRANCH.test(e.schemaPath)) continue;
    const segments = pointerSegments(e.instancePath);
    const value = valueAt(data, segments);
    const params = e.params as Record<string, unknown>;
    switch (e.keyword) {
      case 'additionalProperties': {
        const field = String(params.additionalProperty);
        issues.push({ path: dotted(data, [...segments, field]), keyword: e.keyword, message: `unknown field ${JSON.stringify(field)}` });
        break;
      }
      case 'required': {
        const field = String(params.missingProperty);
        issues.push({ path: dotted(data, [...segments, field]), keyword: e.keyword, message: `required field ${JSON.stringify(field)} is missing` });
        break;
      }
      case LIST_MAP_KEYS:
        issues.push({ path: dotted(data, [...segments, String(params.index)]), keyword: e.keyword, message: `${e.message ?? 'duplicate'} (also at index ${String(params.first)})` });
        break;
      case 'uniqueItems':
        issues.push({
          path: dotted(data, [...segments, String(Math.max(Number(params.i), Number(params.j)))]),
          keyword: e.keyword,
          message: `duplicate of the item at index ${Math.min(Number(params.i), Number(params.j))}`,
        });
        break;
      default:
        issues.push({ path: dotted(data, segments), keyword: e.keyword, message: messageFor(e, value) });
    }
  }
  return issues;
}

function messageFor(e: ErrorObject, value: unknown): string {
  const params = e.params as Record<string, unknown>;
  const got = `got ${describe(value)}`;
  switch (e.keyword) {
    case 'type':
      return `must be ${article(String(params.type))}, ${got}`;
    case 'enum': {
      const allowed = Array.isArray(params.allowedValues) ? params.allowedValues.map((x) => String(x)).join(', ') : '';
      return `must be one of ${allowed}; ${got}`;
    }
    case 'format':
      return `must be a valid ${String(params.format)}, ${got}`;
    case 'oneOf':
    case 'anyOf': {
      const exclusive = exclusiveFields(e.schema);
      if (exclusive) return `set ${exclusive.optional ? 'at most' : 'exactly'} one of ${exclusive.fields.join(', ')}`;
      if (isIntOrString(e.schema)) return `must be an integer or a string, ${got}`;
      return `${e.message ?? `must match ${e.keyword}`}, ${got}`;
    }
    default:
      return `${e.message ?? e.keyword}, ${got}`;
  }
}

/**
 * Istio's CRDs write "at most one of these fields" as a oneOf of `required` branches plus a branch
 * `not: anyOf: [required...]` for "none". Returns those field names, or undefined for other shapes.
 */
function exclusiveFields(branches: unknown): { fields: string[]; optional: boolean } | undefined {
  if (!Array.isArray(branches)) return undefined;
  const fields: string[] = [];
  let optional = false;
  for (const b of branches) {
    if (!isObject(b) || Object.keys(b).length !== 1) return undefined;
    if (Array.isArray(b.required)) fields.push(...b.required.map(String));
    else if (isObject(b.not)) optional = true;
    else return undefined;
  }
  return fields.length > 1 ? { fields: [...new Set(fields)], optional } : undefined;
}

function isIntOrString(branches: unknown): boolean {
  if (!Array.isArray(branches) || branches.length !== 2) return false;
  const types = branches.map((b) => (isObject(b) ? b.type : undefined)).sort();
  return types[0] === 'integer' && types[1] === 'string';
}

const article = (t: string): string => (/^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`);

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return `${typeof value} ${String(value)}`;
}

function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function valueAt(data: unknown, segments: readonly string[]): unknown {
  let cur = data;
  for (const s of segments) {
    if (Array.isArray(cur)) cur = cur[Number(s)];
    else if (isObject(cur)) cur = cur[s];
    else return undefined;
  }
  return cur;
}

/** `spec.http[0].route[1].weight`; keys that are not identifiers are quoted: `labels["app.kubernetes.io/name"]`. */
function dotted(data: unknown, segments: readonly string[]): string {
  let out = '';
  let cur = data;
  for (const s of segments) {
    if (Array.isArray(cur)) {
      out += `[${s}]`;
      cur = cur[Number(s)];
    } else {
      out += /^[A-Za-z_$][\w$-]*$/.test(s) ? `${out ? '.' : ''}${s}` : `[${JSON.stringify(s)}]`;
      cur = isObject(cur) ? cur[s] : undefined;
    }
  }
  return out;
}

function dedupe(issues: SchemaIssue[]): SchemaIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.path}\u0000${i.keyword}\u0000${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
