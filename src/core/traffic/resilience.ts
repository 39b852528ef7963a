/**
 * `resilience set`: timeouts and retries on the service's routes (VirtualService), connection-pool
 * limits and outlier detection on its traffic policy (DestinationRule). Only the fields given on the
 * command line change; everything else in both objects stays as it is.
 */
import type { Resource, ResourceRef } from '../../api/resource.js';
import { InputError, UsageError } from '../errors.js';
import {
  MANAGED_BY,
  clone,
  drSpec,
  findDestinationRule,
  findVirtualService,
  freeName,
  gitopsWarning,
  isTargetDestination,
  newVirtualService,
  planOf,
  resolveTarget,
  vsRef,
  vsSpec,
  type Edit,
  type Plan,
  type Snapshot,
  type Target,
} from './model.js';
import { durationString } from './parse.js';

export interface ResilienceInput {
  snapshot: Snapshot;
  service: string;
  timeoutMs?: number | undefined;
  retries?: number | undefined;
  perTryTimeoutMs?: number | undefined;
  retryOn?: string | undefined;
  maxConnections?: number | undefined;
  maxPending?: number | undefined;
  consecutive5xx?: number | undefined;
  ejectionTimeMs?: number | undefined;
  maxEjectionPercent?: number | undefined;
  intervalMs?: number | undefined;
}

export interface ResiliencePlan extends Plan {
  target: Target;
}

const RETRY_ON = new Set(['5xx', 'gateway-error', 'reset', 'connect-failure', 'envoy-ratelimited', 'retriable-4xx', 'refused-stream', 'retriable-status-codes', 'retriable-headers', 'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable']);

type Obj = Record<string, unknown>;
function obj(parent: Obj, key: string): Obj {
  const v = parent[key];
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Obj;
  const fresh: Obj = {};
  parent[key] = fresh;
  return fresh;
}

export function planResilience(input: ResilienceInput): ResiliencePlan {
  const vsWanted = input.timeoutMs !== undefined || input.retries !== undefined || input.perTryTimeoutMs !== undefined || input.retryOn !== undefined;
  const drWanted = [input.maxConnections, input.maxPending, input.consecutive5xx, input.ejectionTimeMs, input.maxEjectionPercent, input.intervalMs].some((v) => v !== undefined);
  if (!vsWanted && !drWanted) {
    throw new UsageError('resilience set needs at least one setting', 'e.g. --timeout 2s, --retries 3, --max-connections 100 or --consecutive-5xx 5');
  }
  for (const cond of input.retryOn?.split(',') ?? []) {
    if (!RETRY_ON.has(cond.trim()) && !/^\d{3}$/.test(cond.trim())) {
      throw new UsageError(`invalid --retry-on condition "${cond}"`, `use a comma-separated list of ${[...RETRY_ON].slice(0, 5).join(', ')}, ... or status codes`);
    }
  }
  if (input.maxEjectionPercent !== undefined && input.maxEjectionPercent > 100) throw new UsageError(`invalid --max-ejection-percent "${input.maxEjectionPercent}"`, 'use 0-100');
  const { snapshot } = input;
  const target = resolveTarget(snapshot, input.service);
  const warnings: string[] = [];
  const edits: Edit[] = [];
  const parts: string[] = [];

  if (vsWanted) {
    const vs = findVirtualService(snapshot, target, warnings);
    const gw = gitopsWarning(vs);
    if (gw) warnings.push(gw);
    if (vs) {
      const vsNs = vs.metadata.namespace ?? snapshot.namespace;
      const own = (vsSpec(vs).http ?? []).filter((r) => r.route?.length && r.route.every((d) => isTargetDestination(d.destination, target, vsNs)));
      if (own.length === 0) {
        throw new InputError(
          `no route of VirtualService ${vs.metadata.name} sends only to ${target.name}, so there is nothing to set a timeout or retries on`,
          `give ${target.name} a route of its own first`,
        );
      }
    }
    const created = vs ? undefined : newVirtualService(snapshot, target);
    const ref: ResourceRef = vs ? vsRef(vs, snapshot) : { kind: 'VirtualService', namespace: target.namespace, name: created?.metadata.name ?? target.objectName };
    edits.push({
      ref,
      mutate(current) {
        const out = clone(current ?? (created as Resource));
        const spec = vsSpec(out);
        out.spec = spec;
        const vsNs = out.metadata.namespace ?? snapshot.namespace;
        // Every route that sends to this service (and only to it) gets the policy: a header route to
        // v2 needs the same timeout as the default route, a route to another host does not.
        for (const r of spec.http ?? []) {
          if (!r.route?.length || !r.route.every((d) => isTargetDestination(d.destination, target, vsNs))) continue;
          if (input.timeoutMs !== undefined) r.timeout = durationString(input.timeoutMs);
          if (input.retries !== undefined || input.perTryTimeoutMs !== undefined || input.retryOn !== undefined) {
            const retries = (r.retries ??= {});
            if (input.retries !== undefined) retries.attempts = input.retries;
            if (input.perTryTimeoutMs !== undefined) retries.perTryTimeout = durationString(input.perTryTimeoutMs);
            if (input.retryOn !== undefined) retries.retryOn = input.retryOn.split(',').map((s) => s.trim()).join(',');
            retries.attempts ??= 2; // Istio's default, written so the object says what applies
          }
        }
        return out;
      },
    });
    if (input.timeoutMs !== undefined) parts.push(`timeout ${durationString(input.timeoutMs)}`);
    if (input.retries !== undefined) parts.push(`${input.retries} retries`);
    if (input.perTryTimeoutMs !== undefined) parts.push(`per-try timeout ${durationString(input.perTryTimeoutMs)}`);
    if (input.retryOn !== undefined) parts.push(`retry on ${input.retryOn}`);
  }

  if (drWanted) {
    const dr = findDestinationRule(snapshot, target);
    const gw = gitopsWarning(dr);
    if (gw) warnings.push(gw);
    const ref: ResourceRef = dr
      ? { kind: 'DestinationRule', namespace: dr.metadata.namespace ?? snapshot.namespace, name: dr.metadata.name }
      : { kind: 'DestinationRule', namespace: target.namespace, name: freeName(snapshot.destinationRules, target.objectName) };
    edits.push({
      ref,
      mutate(current) {
        const out = clone(
          current ?? {
            apiVersion: 'networking.istio.io/v1',
            kind: 'DestinationRule',
            metadata: { name: ref.name, namespace: ref.namespace, labels: { [MANAGED_BY.key]: MANAGED_BY.value } },
            spec: { host: target.name },
          },
        );
        const spec = drSpec(out) as Obj;
        out.spec = spec;
        const policy = obj(spec, 'trafficPolicy');
        if (input.maxConnections !== undefined) obj(obj(policy, 'connectionPool'), 'tcp').maxConnections = input.maxConnections;
        if (input.maxPending !== undefined) obj(obj(policy, 'connectionPool'), 'http').http1MaxPendingRequests = input.maxPending;
        if (input.consecutive5xx !== undefined) obj(policy, 'outlierDetection').consecutive5xxErrors = input.consecutive5xx;
        if (input.intervalMs !== undefined) obj(policy, 'outlierDetection').interval = durationString(input.intervalMs);
        if (input.ejectionTimeMs !== undefined) obj(policy, 'outlierDetection').baseEjectionTime = durationString(input.ejectionTimeMs);
        if (input.maxEjectionPercent !== undefined) obj(policy, 'outlierDetection').maxEjectionPercent = input.maxEjectionPercent;
        return out;
      },
    });
    if (input.maxConnections !== undefined) parts.push(`max ${input.maxConnections} connections`);
    if (input.maxPending !== undefined) parts.push(`max ${input.maxPending} pending requests`);
    if (input.consecutive5xx !== undefined) parts.push(`eject after ${input.consecutive5xx} consecutive 5xx`);
    if (input.ejectionTimeMs !== undefined) parts.push(`for ${durationString(input.ejectionTimeMs)}`);
    if (input.maxEjectionPercent !== undefined) parts.push(`at most ${input.maxEjectionPercent}% ejected`);
  }
  return { ...planOf(snapshot, edits, warnings, `${target.name}: ${parts.join(', ')}`), target };
}
