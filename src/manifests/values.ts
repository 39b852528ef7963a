import { closest, InputError } from '../core/errors.js';
import { applySetArguments, applySetPair, type SetPair } from './set-values.js';
import { cjs } from '../core/module-interop.js';

/** A profile as stored in templates/profiles/NAME.yaml. */
export interface Profile {
  name: string;
  description: string;
  /** Another profile whose values this one overlays (demo inherits default). */
  inherits?: string;
  values: Record<string, unknown>;
}

/** Everything rendering needs that lives in files; read by the command and passed in. */
export interface TemplateSet {
  /** templates/values.yaml: what every profile starts from. */
  baseValues: Record<string, unknown>;
  profiles: ReadonlyMap<string, Profile>;
  /** templates/values.schema.json */
  schema: Record<string, unknown>;
}

export interface ValueSources {
  profile: string;
  /** Parsed -f files, in order, with their names for error messages. */
  files?: readonly { name: string; values: unknown }[];
  set?: readonly string[];
  setString?: readonly string[];
  /** --set-file pairs, already read by the command: path -> file content. Applied last. */
  setFile?: readonly SetPair[];
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Helm's merge: maps merge key by key, anything else (lists included) replaces. An explicit null
 * removes the key, so a values file can switch a profile's setting back to the base default.
 */
export function mergeValues(base: Record<string, unknown>, overlay: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(base);
  for (const [k, v] of Object.entries(overlay)) {
    if (v === null) delete out[k];
    else if (isRecord(v) && isRecord(out[k])) out[k] = mergeValues(out[k] as Record<string, unknown>, v);
    else out[k] = structuredClone(v);
  }
  return out;
}

/** The profile chain, base first: demo -> [default, demo]. Cycles are a template bug, reported. */
export function profileChain(templates: TemplateSet, name: string): Profile[] {
  const chain: Profile[] = [];
  const seen = new Set<string>();
  let current: string | undefined = name;
  while (current !== undefined) {
    const p = templates.profiles.get(current);
    if (!p) {
      const names = [...templates.profiles.keys()].sort();
      const near = closest(current, names);
      // One line, one pair of parentheses: `unknown profile "defualt" (did you mean "default"? profiles: ...)`.
      throw new InputError(`unknown profile "${current}"`, `${near ? `did you mean "${near}"? ` : ''}profiles: ${names.join(', ')}`);
    }
    if (seen.has(current)) throw new InputError(`profile "${name}" inherits itself (through "${current}")`, 'fix "inherits" in templates/profiles');
    seen.add(current);
    chain.unshift(p);
    current = p.inherits;
  }
  return chain;
}

/** Values of a profile alone, before -f and --set: what `profile dump` prints. */
export function profileValues(templates: TemplateSet, name: string): Record<string, unknown> {
  let values = templates.baseValues;
  for (const p of profileChain(templates, name)) values = mergeValues(values, p.values);
  return values;
}

/**
 * base <- profile chain <- each -f file <- --set <- --set-string <- --set-file, then checked against the schema.
 * Returns validated values (types coerced where the schema asks, e.g. "0.5" -> 0.5).
 */
export async function resolveValues(templates: TemplateSet, sources: ValueSources): Promise<Record<string, unknown>> {
  let values = profileValues(templates, sources.profile);
  for (const f of sources.files ?? []) {
    if (f.values === null || f.values === undefined) continue; // an empty file sets nothing
    if (!isRecord(f.values)) throw new InputError(`values file ${f.name} is not a map of keys`, 'write it like templates/values.yaml: key: value');
    values = mergeValues(values, f.values);
  }
  values = applySetArguments(values, sources.set ?? [], sources.setString ?? []);
  for (const pair of sources.setFile ?? []) applySetPair(values, pair);
  await validateValues(values, templates.schema);
  return values;
}

interface AjvError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

/**
 * Validates in place with ajv (imported here, not at load time: only install and manifest commands
 * pay for it). Unknown keys and wrong types become one InputError naming the key, with a
 * "did you mean" from the schema's own property names.
 */
export async function validateValues(values: Record<string, unknown>, schema: Record<string, unknown>): Promise<void> {
  const { Ajv } = cjs(await import('ajv'));
  const ajv = new Ajv({ allErrors: true, coerceTypes: true, strict: false });
  const validate = ajv.compile(schema);
  if (validate(values)) return;
  const errors = (validate.errors ?? []) as AjvError[];
  // additionalProperties first: a typo is the likeliest mistake and explains any type error below it.
  const sorted = [...errors].sort((a, b) => rank(a) - rank(b));
  const first = sorted[0];
  if (!first) throw new InputError('values do not match templates/values.schema.json');
  throw toInputError(first, schema, values, errors.length);
}

function rank(e: AjvError): number {
  return e.keyword === 'additionalProperties' ? 0 : 1;
}

function toInputError(e: AjvError, schema: Record<string, unknown>, values: Record<string, unknown>, count: number): InputError {
  const segments = e.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const more = count > 1 ? ` (and ${count - 1} more problem${count > 2 ? 's' : ''})` : '';
  if (e.keyword === 'additionalProperties') {
    const key = String(e.params.additionalProperty);
    const full = [...segments, key].join('.');
    const known = Object.keys(propertiesAt(schema, segments));
    const near = closest(key, known);
    const hint = near ? `did you mean "${[...segments, near].join('.')}"?` : known.length ? `known keys here: ${known.sort().join(', ')}` : undefined;
    return new InputError(`unknown value "${full}"${more}`, hint, 'E_VALUES');
  }
  const key = segments.join('.') || '(top level)';
  const actual = valueAt(values, segments);
  const shown = typeof actual === 'string' ? JSON.stringify(actual) : JSON.stringify(actual) ?? 'nothing';
  let why = e.message ?? 'is invalid';
  if (e.keyword === 'enum') why = `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  return new InputError(`value "${key}" ${why}, got ${shown}${more}`, 'see templates/values.schema.json, or `meshctl profile dump default`', 'E_VALUES');
}

/** The `properties` of the schema node at a path, following $ref into definitions. */
function propertiesAt(schema: Record<string, unknown>, segments: readonly string[]): Record<string, unknown> {
  let node: unknown = schema;
  const deref = (n: unknown): unknown => {
    if (isRecord(n) && typeof n.$ref === 'string' && n.$ref.startsWith('#/')) {
      let target: unknown = schema;
      for (const part of n.$ref.slice(2).split('/')) target = isRecord(target) ? target[part] : undefined;
      return target;
    }
    return n;
  };
  for (const seg of segments) {
    node = deref(node);
    const props = isRecord(node) && isRecord(node.properties) ? node.properties : undefined;
    node = props?.[seg];
  }
  node = deref(node);
  return isRecord(node) && isRecord(node.properties) ? node.properties : {};
}

function valueAt(values: unknown, segments: readonly string[]): unknown {
  let v = values;
  for (const s of segments) v = isRecord(v) ? v[s] : Array.isArray(v) ? v[Number(s)] : undefined;
  return v;
}
