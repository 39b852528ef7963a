/**
 * Route plans: `route header` sends requests with a header (or cookie) to a subset; `route mirror`
 * copies a share of the default route's traffic to a subset. Both leave every other route as it is.
 */
import type { Resource } from '../../api/resource.js';
import { InputError } from '../errors.js';
import {
  clone,
  defaultRouteIndex,
  definedSubsets,
  destinationHost,
  findDestinationRule,
  findVirtualService,
  gitopsWarning,
  isFaultRoute,
  newVirtualService,
  planOf,
  requireSubset,
  resolveTarget,
  vsRef,
  vsSpec,
  type HTTPMatchRequest,
  type HTTPRoute,
  type Plan,
  type Snapshot,
  type Target,
} from './model.js';

export interface RoutePlan extends Plan {
  target: Target;
}

interface Common {
  snapshot: Snapshot;
  service: string;
}

/** Shared set-up: target, its VirtualService (or a new one), and the edit's ref. */
function prepare(input: Common, subset: string | undefined, flag: string) {
  const target = resolveTarget(input.snapshot, input.service);
  const warnings: string[] = [];
  const vs = findVirtualService(input.snapshot, target, warnings);
  if (subset !== undefined) requireSubset(subset, definedSubsets(findDestinationRule(input.snapshot, target)), target, flag);
  const gw = gitopsWarning(vs);
  if (gw) warnings.push(gw);
  const created = vs ? undefined : newVirtualService(input.snapshot, target);
  const ref = vs ? vsRef(vs, input.snapshot) : { kind: 'VirtualService', namespace: target.namespace, name: created?.metadata.name ?? target.objectName };
  const base = (current: Resource | undefined): Resource => clone(current ?? (created as Resource));
  return { target, warnings, vs, ref, base };
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export interface HeaderRouteInput extends Common {
  header?: { name: string; value: string } | undefined;
  cookie?: { name: string; value: string } | undefined;
  to?: string | undefined;
  /** Remove the route with this match instead of adding it. */
  clear?: boolean | undefined;
}

/** The match `route header` writes: an exact header, or Istio's usual regex for one cookie. */
export function headerMatch(input: Pick<HeaderRouteInput, 'header' | 'cookie'>): HTTPMatchRequest {
  if (input.cookie) {
    return { headers: { cookie: { regex: `^(.*?;\\s*)?(${escapeRegex(input.cookie.name)}=${escapeRegex(input.cookie.value)})(;.*)?$` } } };
  }
  return { headers: { [input.header?.name ?? '']: { exact: input.header?.value ?? '' } } };
}

/**
 * Adds (or updates) a route that sends requests matching one header or cookie to a subset. It goes
 * after meshctl's fault rules and before every other route, so it wins over older header routes.
 */
export function planHeaderRoute(input: HeaderRouteInput): RoutePlan {
  const { target, warnings, ref, base } = prepare(input, input.clear ? undefined : input.to, '--to');
  const match = [headerMatch(input)];
  const key = JSON.stringify(match);
  const label = input.cookie ? `cookie ${input.cookie.name}=${input.cookie.value}` : `header ${input.header?.name}=${input.header?.value}`;
  const mutate = (current: Resource | undefined): Resource | undefined => {
    if (input.clear && !current) return undefined;
    const out = base(current);
    const spec = vsSpec(out);
    out.spec = spec;
    const http = spec.http ?? [];
    const existing = http.findIndex((r) => !isFaultRoute(r) && JSON.stringify(r.match ?? []) === key);
    if (input.clear) {
      if (existing < 0) return undefined;
      http.splice(existing, 1);
      spec.http = http;
      return out;
    }
    const destination = { host: destinationHost(target, out.metadata.namespace ?? input.snapshot.namespace), subset: input.to };
    if (existing >= 0) {
      const r = http[existing] as HTTPRoute;
      r.route = [{ destination: { ...(r.route?.[0]?.destination ?? {}), ...destination } }];
    } else {
      const at = http.findIndex((r) => !isFaultRoute(r));
      http.splice(at < 0 ? http.length : at, 0, { match, route: [{ destination }] });
    }
    spec.http = http;
    return out;
  };
  const summary = input.clear ? `${target.name}: removing the route for ${label}` : `${target.name}: requests with ${label} go to ${input.to}`;
  return { ...planOf(input.snapshot, [{ ref, mutate }], warnings, summary), target };
}

export interface MirrorInput extends Common {
  to?: string | undefined;
  percent?: number | undefined;
  clear?: boolean | undefined;
}

/** Mirrors a share of the default route's requests to a subset (responses from it are dropped). */
export function planMirror(input: MirrorInput): RoutePlan {
  const { target, warnings, vs, ref, base } = prepare(input, input.clear ? undefined : input.to, '--to');
  const mutate = (current: Resource | undefined): Resource | undefined => {
    if (input.clear && !current) return undefined;
    const out = base(current);
    const spec = vsSpec(out);
    out.spec = spec;
    const idx = defaultRouteIndex(spec);
    if (idx < 0) {
      if (input.clear) return undefined;
      throw new InputError(`VirtualService ${out.metadata.name} has no default route for ${target.name} to mirror`, 'run "meshctl canary shift" or add a catch-all route first');
    }
    const route = spec.http?.[idx] as HTTPRoute;
    if (input.clear) {
      if (!route.mirror && !route.mirrorPercentage) return undefined;
      delete route.mirror;
      delete route.mirrorPercentage;
      return out;
    }
    // Name the mirror the way the route names the service (short or long form, same port).
    const like = route.route?.find((d) => d.destination?.host !== undefined)?.destination;
    route.mirror = like ? { ...clone(like), subset: input.to } : { host: destinationHost(target, out.metadata.namespace ?? input.snapshot.namespace), subset: input.to };
    route.mirrorPercentage = { value: input.percent ?? 100 };
    return out;
  };
  if (vs && !input.clear) {
    const spec = vsSpec(vs);
    const route = spec.http?.[defaultRouteIndex(spec)];
    if ((route?.route ?? []).some((d) => d.destination?.subset === input.to && (d.weight ?? 100) > 0)) {
      warnings.push(`the default route already sends traffic to ${input.to}: those requests are mirrored to it too`);
    }
  }
  const summary = input.clear ? `${target.name}: mirroring off` : `${target.name}: mirroring ${input.percent ?? 100}% of the default route's requests to ${input.to}`;
  return { ...planOf(input.snapshot, [{ ref, mutate }], warnings, summary), target };
}
