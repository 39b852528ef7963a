/**
 * When a meshctl fault rule stops applying. `meshctl inject fault --duration 10m` writes the expiry
 * beside the rule, in the VirtualService annotation `meshctl.io/fault-expires`: a JSON object from
 * HTTP route name to an RFC 3339 time, e.g.
 *
 *   metadata.annotations["meshctl.io/fault-expires"] = '{"meshctl-fault-1a2b3c4d":"2026-11-22T03:10:00.000Z"}'
 *   spec.http[0].name = "meshctl-fault-1a2b3c4d"
 *
 * The proxy (src/core/compile) calls {@link faultExpiry} per route and drops the route's `fault`
 * (keeping its destinations) once `now >= expiry`, so an expired fault stops on its own without
 * anyone editing the object; `inject fault --list` marks it for removal, `--clear` removes it.
 * Pure: no clock; the caller passes `now`.
 */
import type { Resource } from '../../api/resource.js';

export const FAULT_EXPIRES_ANNOTATION = 'meshctl.io/fault-expires';

/** The expiry of `route` (an element of `vs.spec.http`), or undefined when it has none. */
export function faultExpiry(route: { name?: unknown }, vs: Pick<Resource, 'metadata'>): Date | undefined {
  if (typeof route.name !== 'string' || route.name === '') return undefined;
  const raw = vs.metadata.annotations?.[FAULT_EXPIRES_ANNOTATION];
  if (!raw) return undefined;
  let map: unknown;
  try {
    map = JSON.parse(raw);
  } catch {
    return undefined; // a hand-edited, broken annotation must not take the route down with it
  }
  if (typeof map !== 'object' || map === null) return undefined;
  const value = (map as Record<string, unknown>)[route.name];
  if (typeof value !== 'string') return undefined;
  const t = new Date(value);
  return Number.isNaN(t.getTime()) ? undefined : t;
}

/** Whether the route's fault still applies at `now` (true for faults without an expiry). */
export function faultActive(route: { name?: unknown }, vs: Pick<Resource, 'metadata'>, now: Date): boolean {
  const expiry = faultExpiry(route, vs);
  return expiry === undefined || now.getTime() < expiry.getTime();
}

/**
 * The earliest expiry after `now` among the meshctl fault rules in `virtualServices`, so a proxy
 * that compiled its routes can schedule one recompile for the moment a fault has to stop.
 */
export function nextFaultExpiry(virtualServices: readonly Pick<Resource, 'metadata' | 'spec'>[], now: Date): Date | undefined {
  let next: Date | undefined;
  for (const vs of virtualServices) {
    const http = (vs.spec as { http?: unknown } | undefined)?.http;
    if (!Array.isArray(http)) continue;
    for (const route of http) {
      if (typeof route !== 'object' || route === null || !('fault' in route)) continue;
      const t = faultExpiry(route as { name?: unknown }, vs);
      if (t && t.getTime() > now.getTime() && (!next || t.getTime() < next.getTime())) next = t;
    }
  }
  return next;
}
