import type { FieldPath, InputResource } from './types.js';
import { obj, objs, specOf, str } from './util.js';

/** One destination a VirtualService sends traffic to, with the path of its `destination` field. */
export interface RouteDestination {
  /** `http`, `tcp` or `tls`, and the rule index. */
  section: 'http' | 'tcp' | 'tls';
  rule: number;
  destination: Record<string, unknown>;
  host: string | undefined;
  subset: string | undefined;
  port: number | undefined;
  weight: unknown;
  path: FieldPath;
  /** True for `mirror`/`mirrors` targets (they receive copies, not the traffic). */
  mirror: boolean;
}

/** Every route and mirror destination of a VirtualService, in document order. */
export function destinations(vs: InputResource): RouteDestination[] {
  const spec = specOf(vs.resource);
  const out: RouteDestination[] = [];
  for (const section of ['http', 'tcp', 'tls'] as const) {
    for (const [rule, i] of objs(spec[section])) {
      for (const [route, j] of objs(rule.route)) {
        const d = obj(route.destination);
        if (d) out.push(make(section, i, d, route.weight, ['spec', section, i, 'route', j, 'destination'], false));
      }
      if (section !== 'http') continue;
      const m = obj(rule.mirror);
      if (m) out.push(make(section, i, m, undefined, ['spec', section, i, 'mirror'], true));
      for (const [mm, j] of objs(rule.mirrors)) {
        const d = obj(mm.destination);
        if (d) out.push(make(section, i, d, undefined, ['spec', section, i, 'mirrors', j, 'destination'], true));
      }
    }
  }
  return out;
}

function make(section: RouteDestination['section'], rule: number, d: Record<string, unknown>, weight: unknown, path: FieldPath, mirror: boolean): RouteDestination {
  const port = obj(d.port)?.number;
  const subset = str(d.subset);
  return { section, rule, destination: d, host: str(d.host), subset: subset || undefined, port: typeof port === 'number' ? port : undefined, weight, path, mirror };
}

/** Calls `visit` for every key/value in a spec tree, with its path (bounded by the input's size). */
export function walk(value: unknown, path: (string | number)[], visit: (key: string | number, value: unknown, path: FieldPath) => void): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      const p = [...path, i];
      visit(i, v, p);
      walk(v, p, visit);
    });
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      const p = [...path, k];
      visit(k, v, p);
      walk(v, p, visit);
    }
  }
}

/** The gateways a VirtualService binds to (`mesh` when none are given). */
export function gatewaysOf(vs: InputResource): string[] {
  const g = specOf(vs.resource).gateways;
  const list = Array.isArray(g) ? g.filter((x): x is string => typeof x === 'string') : [];
  return list.length ? list : ['mesh'];
}
