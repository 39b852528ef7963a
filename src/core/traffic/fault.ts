/**
 * Fault plans: `inject fault` puts a rule named `meshctl-fault-<id>` ahead of the service's
 * existing routes, with the fault and the destinations those requests would have had anyway;
 * `--clear` removes meshctl's rules; `--list` reports every fault in the mesh with its expiry.
 * The id is a hash of what the rule matches, so injecting again with the same match replaces the
 * rule instead of stacking a second one.
 */
import type { Resource } from '../../api/resource.js';
import { UsageError } from '../errors.js';
import { FAULT_EXPIRES_ANNOTATION, faultActive, faultExpiry } from './fault-expiry.js';
import {
  FAULT_ROUTE_PREFIX,
  annotationJson,
  clone,
  definedSubsets,
  destinationHost,
  findDestinationRule,
  findVirtualService,
  gitopsWarning,
  isCatchAll,
  isFaultRoute,
  newVirtualService,
  planOf,
  requireSubset,
  resolveTarget,
  setAnnotationJson,
  vsRef,
  vsSpec,
  type HTTPMatchRequest,
  type HTTPRoute,
  type Plan,
  type Snapshot,
  type Target,
} from './model.js';
import { durationString } from './parse.js';

export interface FaultInput {
  snapshot: Snapshot;
  service: string;
  delayMs?: number | undefined;
  abortStatus?: number | undefined;
  /** Share of matching requests that get the fault, 0-100. */
  percent: number;
  header?: { name: string; value: string } | undefined;
  subset?: string | undefined;
  sourceLabels?: Record<string, string> | undefined;
  durationMs?: number | undefined;
  now: Date;
}

export interface FaultPlan extends Plan {
  target: Target;
  routeName: string;
  expires: string | undefined;
}

/** FNV-1a, 32 bits: a short stable id for a rule's match, no crypto needed. */
function shortHash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

function sameMatch(a: HTTPMatchRequest[] | undefined, b: HTTPMatchRequest[] | undefined): boolean {
  return JSON.stringify(a ?? []) === JSON.stringify(b ?? []);
}

export function planInjectFault(input: FaultInput): FaultPlan {
  if (input.delayMs === undefined && input.abortStatus === undefined) {
    throw new UsageError('inject fault needs --delay DURATION or --abort STATUS', 'e.g. --delay 5s --percent 10, or --abort 503 --percent 50');
  }
  const { snapshot } = input;
  const target = resolveTarget(snapshot, input.service);
  const warnings: string[] = [];
  const vs = findVirtualService(snapshot, target, warnings);
  if (input.subset !== undefined) requireSubset(input.subset, definedSubsets(findDestinationRule(snapshot, target)), target, '--subset');
  const gw = gitopsWarning(vs);
  if (gw) warnings.push(gw);

  const m: HTTPMatchRequest = {};
  if (input.header) m.headers = { [input.header.name]: { exact: input.header.value } };
  if (input.sourceLabels && Object.keys(input.sourceLabels).length) m.sourceLabels = input.sourceLabels;
  const match = Object.keys(m).length ? [m] : undefined;
  const routeName = FAULT_ROUTE_PREFIX + shortHash(JSON.stringify({ match: match ?? null, subset: input.subset ?? null }));
  const fault: NonNullable<HTTPRoute['fault']> = {};
  if (input.delayMs !== undefined) fault.delay = { fixedDelay: durationString(input.delayMs), percentage: { value: input.percent } };
  if (input.abortStatus !== undefined) fault.abort = { httpStatus: input.abortStatus, percentage: { value: input.percent } };
  const expires = input.durationMs === undefined ? undefined : new Date(input.now.getTime() + input.durationMs).toISOString();

  const created = vs ? undefined : newVirtualService(snapshot, target);
  const ref = vs ? vsRef(vs, snapshot) : { kind: 'VirtualService', namespace: target.namespace, name: created?.metadata.name ?? target.objectName };
  const mutate = (current: Resource | undefined): Resource => {
    const out = clone(current ?? (created as Resource));
    const spec = vsSpec(out);
    out.spec = spec;
    const http = (spec.http ?? []).filter((r) => r.name !== routeName);
    const vsNs = out.metadata.namespace ?? snapshot.namespace;
    let route;
    if (input.subset !== undefined) {
      route = [{ destination: { host: destinationHost(target, vsNs), subset: input.subset } }];
    } else {
      // The requests this rule catches keep the destinations they would have had: those of the first
      // route that certainly takes them (same match, or a catch-all).
      const own = http.filter((r) => !isFaultRoute(r));
      const takes = own.find((r) => isCatchAll(r) || sameMatch(r.match, match));
      route = takes?.route ? clone(takes.route) : [{ destination: { host: destinationHost(target, vsNs) } }];
    }
    const rule: HTTPRoute = { name: routeName, ...(match ? { match } : {}), fault, route };
    spec.http = [rule, ...http];
    const expiries = annotationJson(out, FAULT_EXPIRES_ANNOTATION);
    if (expires) expiries[routeName] = expires;
    else delete expiries[routeName];
    setAnnotationJson(out, FAULT_EXPIRES_ANNOTATION, expiries);
    return out;
  };
  if (input.subset === undefined && vs) {
    const own = (vsSpec(vs).http ?? []).filter((r) => !isFaultRoute(r));
    const idx = own.findIndex((r) => isCatchAll(r) || sameMatch(r.match, match));
    if (idx > 0 || (idx < 0 && own.length > 0)) {
      warnings.push(
        `the fault rule goes ahead of ${idx < 0 ? own.length : idx} route(s) with other matches in ${vs.metadata.name}; requests it catches go to ${idx < 0 ? 'the service (all versions)' : 'the default route'} (use --subset to choose)`,
      );
    }
  }
  const what = [
    fault.delay ? `delay ${fault.delay.fixedDelay}` : '',
    fault.abort ? `abort ${fault.abort.httpStatus}` : '',
  ].filter(Boolean).join(' + ');
  const who = input.header ? ` for ${input.header.name}=${input.header.value}` : '';
  const src = input.sourceLabels ? ` from ${Object.entries(input.sourceLabels).map(([k, v]) => `${k}=${v}`).join(',')}` : '';
  const summary = `${target.name}: ${what} on ${input.percent}% of requests${who}${src}${expires ? `, until ${expires}` : ''} (rule ${routeName})`;
  return { ...planOf(snapshot, [{ ref, mutate }], warnings, summary), target, routeName, expires };
}

/** `inject fault SERVICE --clear`: removes meshctl's fault rules (and only those) from the service. */
export function planClearFaults(input: { snapshot: Snapshot; service: string }): FaultPlan {
  const target = resolveTarget(input.snapshot, input.service);
  const warnings: string[] = [];
  const vs = findVirtualService(input.snapshot, target, warnings);
  if (!vs) return { ...planOf(input.snapshot, [], warnings, `${target.name}: no VirtualService, so no fault rules`), target, routeName: '', expires: undefined };
  const ref = vsRef(vs, input.snapshot);
  const mutate = (current: Resource | undefined): Resource | undefined => {
    if (!current) return undefined;
    const out = clone(current);
    const spec = vsSpec(out);
    const names = (spec.http ?? []).filter(isFaultRoute).map((r) => r.name);
    if (names.length === 0) return undefined;
    spec.http = (spec.http ?? []).filter((r) => !isFaultRoute(r));
    out.spec = spec;
    setAnnotationJson(out, FAULT_EXPIRES_ANNOTATION, {});
    return out;
  };
  const count = (vsSpec(vs).http ?? []).filter(isFaultRoute).length;
  return { ...planOf(input.snapshot, [{ ref, mutate }], warnings, `${target.name}: ${count ? `removing ${count} meshctl fault rule(s)` : 'no meshctl fault rules'}`), target, routeName: '', expires: undefined };
}

export interface FaultRow {
  namespace: string;
  virtualService: string;
  route: string;
  hosts: string[];
  fault: string;
  match: string;
  owner: 'meshctl' | 'other';
  expires: string | null;
  state: 'active' | 'expired';
}

function describeMatch(match: HTTPMatchRequest[] | undefined): string {
  if (!match || match.length === 0) return '*';
  return match
    .map((m) =>
      [
        ...Object.entries(m.headers ?? {}).map(([k, v]) => `header:${k}=${v.exact ?? v.prefix ?? v.regex ?? '?'}`),
        ...Object.entries(m.sourceLabels ?? {}).map(([k, v]) => `source:${k}=${v}`),
        ...(m.uri ? [`uri:${m.uri.exact ?? m.uri.prefix ?? m.uri.regex ?? '?'}`] : []),
      ].join(' ') || '*',
    )
    .join(' | ');
}

/** Every fault in the given VirtualServices (meshctl's and anyone else's), expired ones marked. */
export function listFaults(virtualServices: readonly Resource[], now: Date): FaultRow[] {
  const rows: FaultRow[] = [];
  for (const vs of virtualServices) {
    (vsSpec(vs).http ?? []).forEach((r, i) => {
      if (!r.fault) return;
      const parts: string[] = [];
      if (r.fault.delay) parts.push(`delay ${r.fault.delay.fixedDelay ?? '?'} ${r.fault.delay.percentage?.value ?? 100}%`);
      if (r.fault.abort) parts.push(`abort ${r.fault.abort.httpStatus ?? '?'} ${r.fault.abort.percentage?.value ?? 100}%`);
      const expiry = faultExpiry(r, vs);
      rows.push({
        namespace: vs.metadata.namespace ?? '',
        virtualService: vs.metadata.name,
        route: r.name ?? `#${i}`,
        hosts: vsSpec(vs).hosts ?? [],
        fault: parts.join(', '),
        match: describeMatch(r.match),
        owner: isFaultRoute(r) ? 'meshctl' : 'other',
        expires: expiry ? expiry.toISOString() : null,
        state: faultActive(r, vs, now) ? 'active' : 'expired',
      });
    });
  }
  return rows;
}
