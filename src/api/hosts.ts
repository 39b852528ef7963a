/**
 * Host names as the Istio API uses them: normalising the `hosts` of VirtualService, DestinationRule,
 * ServiceEntry and Sidecar, wildcard matching, and small helpers for subset and port references.
 * Pure functions over strings and plain objects: no I/O, no cluster lookups.
 *
 * Everything here follows Istio's own code so that meshctl and istiod agree on which rule applies to
 * which service (pilot `ResolveShortnameToFQDN`, `host.Name.Matches`/`SubsetOf`, analyzer
 * `util.ConvertHostToFQDN`). Where meshctl adds a rule (case, trailing dots) it is one DNS already
 * implies, and the comment says so.
 */
import type { Resource } from './resource.js';

/** The Kubernetes cluster domain Istio assumes unless the mesh is configured otherwise. */
export const DEFAULT_DOMAIN = 'cluster.local';

/**
 * Lower-cases and drops one trailing dot. DNS names are case-insensitive and `reviews.default.` is
 * the absolute form of `reviews.default`, so both spellings must land on the same key.
 */
export function normalizeHost(host: string): string {
  const h = host.trim().toLowerCase();
  return h.endsWith('.') && h.length > 1 ? h.slice(0, -1) : h;
}

const IPV4 = /^(?:\d{1,3}\.){3}\d{1,3}$/;

/** IPv4 or IPv6 literal (IPv6 is the only host form that contains a colon). */
export function isIPAddress(host: string): boolean {
  return IPV4.test(host) || host.includes(':');
}

/**
 * The fully qualified name Istio gives a host written in a rule that lives in `namespace`.
 *
 * Rules, in order (Istio: pilot/pkg/model `ResolveShortnameToFQDN`):
 * 1. Case and one trailing dot are normalised (`Reviews.` -> `reviews`). A host written with a
 *    trailing dot is absolute in DNS, so it is never expanded.
 * 2. `*` and wildcard names (`*.example.com`) stay as they are: they name a set of hosts.
 * 3. IP addresses stay as they are.
 * 4. A short name without any dot (`reviews`) resolves in the namespace of the rule, not of the
 *    service: `reviews` -> `reviews.<namespace>.svc.<domain>`. This is the behaviour the Istio docs
 *    describe for VirtualService/DestinationRule `hosts` (and why they recommend FQDNs); the same
 *    docs define a short name as one that "has no dots in the name".
 * 5. Anything that already contains a dot stays as written: `reviews.prod.svc.cluster.local`,
 *    `reviews.prod.svc.<custom domain>`, and also `reviews.prod` and `example.com`. Istio treats
 *    every dotted name as fully qualified, so a rule naming `reviews.prod` does NOT reach the
 *    `reviews` service in `prod` (istiod routes to a host `reviews.prod` that has no endpoints, and
 *    `istioctl analyze` reports IST0101). meshctl keeps that meaning so `analyze` flags the same
 *    mistake; command-line arguments in `name.namespace` form use {@link serviceHost} instead.
 */
export function fqdn(host: string, namespace: string, domain: string = DEFAULT_DOMAIN): string {
  const absolute = host.trim().endsWith('.');
  const h = normalizeHost(host);
  if (h === '' || absolute || h.startsWith('*') || isIPAddress(h) || h.includes('.')) return h;
  const ns = namespace.trim().toLowerCase();
  return ns ? `${h}.${ns}.svc.${normalizeHost(domain)}` : h;
}

/**
 * The host of a Kubernetes service named on the command line, kubectl-style: `reviews` is in
 * `namespace`, `reviews.prod` is in `prod`, and a name that already ends in `.svc` or `.svc.<domain>`
 * is completed. This is the CLI's convenience, not Istio's rule for hosts inside resources.
 */
export function serviceHost(name: string, namespace: string, domain: string = DEFAULT_DOMAIN): string {
  const h = normalizeHost(name);
  const d = normalizeHost(domain);
  if (h.startsWith('*') || isIPAddress(h)) return h;
  const labels = h.split('.');
  if (labels.length === 1) return fqdn(h, namespace, d);
  if (labels.length === 2) return `${h}.svc.${d}`;
  if (labels.length === 3 && labels[2] === 'svc') return `${h}.${d}`;
  return h;
}

/** True for `*` and for names written as `*.suffix`. */
export function isWildcard(host: string): boolean {
  return host.startsWith('*');
}

/**
 * Whether `host` is covered by `pattern` (Istio's `host.Name.SubsetOf`, i.e. host ⊆ pattern):
 * - `*` matches every host, including wildcard hosts;
 * - `*.ns.svc.cluster.local` matches `a.ns.svc.cluster.local` and deeper names (`a.b.ns...`), and
 *   wildcard hosts under it (`*.x.ns.svc.cluster.local`), but not the bare suffix `ns.svc.cluster.local`;
 * - otherwise names must be equal.
 * Case and trailing dots are ignored. Neither side is expanded: call {@link fqdn} first.
 */
export function hostMatches(pattern: string, host: string): boolean {
  const p = normalizeHost(pattern);
  const h = normalizeHost(host);
  if (p === '*') return true;
  if (isWildcard(p)) {
    const suffix = p.slice(1); // `.ns.svc.cluster.local`
    if (isWildcard(h)) return h !== '*' && h.slice(1).endsWith(suffix);
    return h.endsWith(suffix) && h.length > suffix.length;
  }
  return p === h;
}

/**
 * Whether some host could match both names (Istio's `host.Name.Matches`): the check for two rules
 * that claim the same traffic, e.g. two VirtualServices or two Gateway servers with overlapping hosts.
 */
export function hostsOverlap(a: string, b: string): boolean {
  return hostMatches(a, b) || hostMatches(b, a);
}

/**
 * The Kubernetes service a host names, for `name.namespace.svc.<domain>` only; wildcard, external
 * and deeper names (`pod.name.ns.svc...`) are not services. Call {@link fqdn} first for short names.
 */
export function serviceOfHost(host: string, domain: string = DEFAULT_DOMAIN): { name: string; namespace: string } | undefined {
  const h = normalizeHost(host);
  const suffix = `.svc.${normalizeHost(domain)}`;
  if (!h.endsWith(suffix) || isWildcard(h)) return undefined;
  const labels = h.slice(0, -suffix.length).split('.');
  if (labels.length !== 2) return undefined;
  const [name, namespace] = labels as [string, string];
  return name && namespace ? { name, namespace } : undefined;
}

/**
 * Splits the `namespace/host` form of Sidecar egress hosts and Gateway-bound VirtualService hosts.
 * `namespace` is `*` (any), `.` (the rule's own), `~` (none) or a name; undefined when absent.
 */
export function parseNamespacedHost(value: string): { namespace: string | undefined; host: string } {
  const slash = value.indexOf('/');
  if (slash < 0) return { namespace: undefined, host: normalizeHost(value) };
  return { namespace: value.slice(0, slash).trim(), host: normalizeHost(value.slice(slash + 1)) };
}

/**
 * Splits `host:port` as written on the command line (`reviews:9080`, `[::1]:8080`). The port is
 * undefined when absent; a non-numeric or out-of-range port makes the whole value the host.
 */
export function splitHostPort(value: string): { host: string; port: number | undefined } {
  const v = value.trim();
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(v);
  if (bracket) return { host: bracket[1]!.toLowerCase(), port: validPort(bracket[2]) };
  const colon = v.lastIndexOf(':');
  // More than one colon without brackets is a bare IPv6 address.
  if (colon < 0 || v.indexOf(':') !== colon) return { host: normalizeHost(v), port: undefined };
  const port = validPort(v.slice(colon + 1));
  return port === undefined ? { host: normalizeHost(v), port: undefined } : { host: normalizeHost(v.slice(0, colon)), port };
}

function validPort(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/** The parts of a route destination these helpers read (VirtualService `Destination`). */
export interface DestinationLike {
  host?: string;
  subset?: string;
  port?: { number?: number };
}

/** The parts of a DestinationRule subset these helpers read. */
export interface SubsetLike {
  name?: string;
  labels?: Record<string, string>;
  [key: string]: unknown;
}

/** `destination.port.number`, or undefined when the destination names no (valid) port. */
export function portNumberOf(destination: DestinationLike | undefined): number | undefined {
  const n = destination?.port?.number;
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535 ? n : undefined;
}

/**
 * The subset called `name` in a DestinationRule (`spec.subsets[].name`), or undefined. Takes any
 * Resource so callers holding an untyped object need no cast; the spec is narrowed here.
 */
export function findSubset(dr: Resource, name: string): SubsetLike | undefined {
  return subsetsOf(dr).find((s) => s.name === name);
}

/** The subsets a DestinationRule declares; [] when the spec has none or is malformed. */
export function subsetsOf(dr: Resource): SubsetLike[] {
  const spec = dr.spec;
  if (typeof spec !== 'object' || spec === null) return [];
  const subsets = (spec as { subsets?: unknown }).subsets;
  if (!Array.isArray(subsets)) return [];
  return subsets.filter((s): s is SubsetLike => typeof s === 'object' && s !== null && !Array.isArray(s));
}

/** A reference from a route to a subset, resolved to a fully qualified host. */
export interface SubsetRef {
  host: string;
  subset: string | undefined;
  port: number | undefined;
}

/**
 * Resolves a route destination written in a rule in `namespace` to the host, subset and port it
 * names, with the host expanded by {@link fqdn}. Undefined when the destination has no host.
 */
export function parseSubsetRef(destination: DestinationLike, namespace: string, domain: string = DEFAULT_DOMAIN): SubsetRef | undefined {
  if (typeof destination.host !== 'string' || destination.host.trim() === '') return undefined;
  const subset = typeof destination.subset === 'string' && destination.subset !== '' ? destination.subset : undefined;
  return { host: fqdn(destination.host, namespace, domain), subset, port: portNumberOf(destination) };
}

/**
 * Istio's cluster name for a destination, `direction|port|subset|host` (empty parts stay empty), e.g.
 * `outbound|9080|v2|reviews.default.svc.cluster.local`. Used as a stable key for upstream pools, and
 * it is the name Envoy-based tooling shows for the same upstream.
 */
export function subsetKey(direction: 'inbound' | 'outbound', ref: SubsetRef): string {
  return `${direction}|${ref.port ?? ''}|${ref.subset ?? ''}|${ref.host}`;
}
