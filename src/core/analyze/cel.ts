import { celEnv, celFunc, celMethod, CelScalar, isCelError, parse, plan } from '@bufbuild/cel';
import type { FieldPath } from './types.js';

export interface CelViolation {
  path: FieldPath;
  rule: string;
  message: string;
}

type Program = (bindings: Record<string, unknown>) => unknown;

/**
 * Evaluates a CRD's `x-kubernetes-validations` (CEL) rules against an object offline, the way the
 * API server does on create: each rule runs with `self` bound to the value at its schema node.
 * Rules that need the old object (`oldSelf`, transition rules) or Kubernetes library functions
 * this evaluator lacks are counted as not evaluated rather than guessed. The URL library the Istio
 * CRDs use (`url(s).getScheme()`, `isURL(s)`) is provided, on WHATWG URL parsing.
 */
export class CelValidator {
  readonly #programs = new Map<string, Program | undefined>();
  readonly #env = celEnv({ funcs: KUBERNETES_URL_LIBRARY });
  /** Rules that could not be evaluated offline, by text. */
  readonly unevaluated = new Set<string>();

  validate(schema: unknown, value: unknown, path: FieldPath = []): CelViolation[] {
    const out: CelViolation[] = [];
    this.#walk(schema, value, [...path], out);
    return out;
  }

  #program(rule: string): Program | undefined {
    if (this.#programs.has(rule)) return this.#programs.get(rule);
    let p: Program | undefined;
    try {
      p = rule.includes('oldSelf') ? undefined : (plan(this.#env, parse(rule)) as Program);
    } catch {
      p = undefined;
    }
    if (!p) this.unevaluated.add(rule);
    this.#programs.set(rule, p);
    return p;
  }

  #walk(schema: unknown, value: unknown, path: (string | number)[], out: CelViolation[]): void {
    if (typeof schema !== 'object' || schema === null || value === undefined || value === null) return;
    const s = schema as Record<string, unknown>;
    const rules = s['x-kubernetes-validations'];
    if (Array.isArray(rules)) {
      let self: unknown;
      for (const r of rules) {
        if (typeof r !== 'object' || r === null || typeof (r as { rule?: unknown }).rule !== 'string') continue;
        const { rule, message } = r as { rule: string; message?: unknown };
        const program = this.#program(rule);
        if (!program) continue;
        self ??= toCel(value);
        let result: unknown;
        try {
          result = program({ self });
        } catch {
          this.unevaluated.add(rule);
          continue;
        }
        if (result === true) continue;
        if (isCelError(result)) {
          // A type mismatch means the schema family already reports the value; an unbound function is ours.
          // An unbound function is this evaluator's gap, and a type mismatch the schema check's to report;
          // any other runtime error (a duration that does not parse) is a refusal, as on the API server.
          if (/unbound function|no such overload|unsupported|no matching overload/i.test(String((result as { message?: unknown }).message ?? ''))) this.unevaluated.add(rule);
          else out.push({ path: [...path], rule, message: typeof message === 'string' && message ? message : `failed rule: ${rule}` });
          continue;
        }
        out.push({ path: [...path], rule, message: typeof message === 'string' && message ? message : `failed rule: ${rule}` });
      }
    }
    if (Array.isArray(value)) {
      const items = s.items;
      value.forEach((v, i) => this.#walk(items, v, [...path, i], out));
    } else if (typeof value === 'object') {
      const props = (s.properties ?? {}) as Record<string, unknown>;
      const extra = s.additionalProperties;
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const sub = props[k] ?? (typeof extra === 'object' ? extra : undefined);
        if (sub) this.#walk(sub, v, [...path, k], out);
      }
    }
  }
}

/**
 * Kubernetes' CEL URL library, as far as the Istio CRDs use it. `url()` keeps the string (a URL
 * value type is not needed for getScheme) and fails like the API server on a relative or bad URL.
 */
const KUBERNETES_URL_LIBRARY = [
  celFunc('url', [CelScalar.STRING], CelScalar.STRING, (s: string) => {
    new URL(s);
    return s;
  }),
  celFunc('isURL', [CelScalar.STRING], CelScalar.BOOL, (s: string) => URL.canParse(s)),
  celMethod('getScheme', CelScalar.STRING, [], CelScalar.STRING, function (this: string) {
    return new URL(this).protocol.replace(/:$/, '');
  }),
];

/** JSON-ish values into CEL inputs: objects become maps, integers become CEL ints (bigint). */
function toCel(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toCel);
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : v;
  if (typeof v === 'object' && v !== null) return new Map(Object.entries(v).map(([k, x]) => [k, toCel(x)]));
  return v;
}
