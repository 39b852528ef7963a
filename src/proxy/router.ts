import type { IncomingHttpHeaders } from 'node:http';
import type { HeaderMatch, HeaderOps, Route, RouteMatch, Snapshot, StringMatch, VirtualHost } from '../core/compile/snapshot.js';

/**
 * The route table of one snapshot, with every matcher built once at load: regexes compiled,
 * weights turned into cumulative arrays, header operations into sets. Per request the router does a
 * Map lookup on the authority and walks the ordered routes of one port; nothing is parsed or compiled
 * on that path except the query string, and only for routes that match on query params.
 */

/** What the matchers read from a request. `incoming` is Node's lazily built lower-cased header object. */
export interface RequestView {
  method: string;
  /** Path and query as received (`/a/b?x=1`). */
  url: string;
  incoming: IncomingHttpHeaders;
  authority: string;
}

type Predicate = (r: RequestView, path: string) => boolean;

export interface CompiledDestination {
  cluster: string;
  requestHeaders: CompiledHeaderOps | undefined;
  responseHeaders: CompiledHeaderOps | undefined;
}

export interface CompiledHeaderOps {
  /** Names whose incoming values are dropped (remove + set), lower-case. */
  drop: Set<string>;
  /** Pairs appended (set + add), flat [name, value, ...]. */
  append: string[];
}

export interface CompiledRoute {
  route: Route;
  /** OR of ANDs; an empty list matches everything. */
  matches: Predicate[];
  /** Cumulative weights (same order as destinations); `total` 0 means every weight was 0. */
  cumulative: number[];
  total: number;
  destinations: CompiledDestination[];
  requestHeaders: CompiledHeaderOps | undefined;
  responseHeaders: CompiledHeaderOps | undefined;
  rewriteRegex: RegExp | undefined;
  rewriteRegexReplacement: string;
  /** Index in `matches` of the match that matched last, for prefix rewrites. */
  uriPrefixes: (string | undefined)[];
}

interface PortTable {
  routes: CompiledRoute[];
}

interface HostEntry {
  vhost: VirtualHost;
  defaultPort: number;
  ports: Map<number, PortTable>;
}

export interface RouteResult {
  host: HostEntry;
  port: number;
  route: CompiledRoute;
  /** The `uri` prefix (or exact path) the winning match used; undefined for regex / no uri match. */
  matchedPrefix: string | undefined;
}

export class RouteTable {
  /** Exact names (`reviews`, `reviews.default`, FQDN) -> entry: one Map lookup per request. */
  #byName = new Map<string, HostEntry>();
  /** Wildcard hosts, most specific (longest) first, as Envoy orders wildcard domains. */
  #wildcards: { suffix: string; entry: HostEntry }[] = [];
  readonly routeCount: number;

  constructor(snapshot: Snapshot) {
    let count = 0;
    for (const vh of snapshot.virtualHosts) {
      const entry: HostEntry = { vhost: vh, defaultPort: vh.defaultPort, ports: new Map() };
      for (const p of vh.ports) {
        const routes = p.routes.map(compileRoute);
        count += routes.length;
        entry.ports.set(p.port, { routes });
      }
      if (vh.host.startsWith('*')) this.#wildcards.push({ suffix: vh.host.slice(1), entry });
      else for (const d of vh.domains) if (!this.#byName.has(d)) this.#byName.set(d, entry);
    }
    this.#wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
    this.routeCount = count;
  }

  /** The host entry and port for an authority (`reviews:9080`, `reviews`, `[::1]:80`). */
  resolveHost(authority: string): { host: HostEntry; port: number } | undefined {
    let name = authority;
    let port = 0;
    const colon = authority.lastIndexOf(':');
    if (colon > 0 && authority.indexOf(']') < colon) {
      port = Number(authority.slice(colon + 1));
      name = authority.slice(0, colon);
    }
    name = name.toLowerCase();
    let host = this.#byName.get(name);
    if (!host) {
      for (const w of this.#wildcards) {
        if (name.endsWith(w.suffix) && name.length > w.suffix.length) {
          host = w.entry;
          break;
        }
      }
    }
    if (!host) return undefined;
    return { host, port: port || host.defaultPort };
  }

  /** First route whose match matches wins (VirtualService semantics). */
  match(r: RequestView): RouteResult | undefined {
    const h = this.resolveHost(r.authority);
    if (!h) return undefined;
    const table = h.host.ports.get(h.port);
    if (!table) return undefined;
    const q = r.url.indexOf('?');
    const path = q < 0 ? r.url : r.url.slice(0, q);
    for (const route of table.routes) {
      if (route.matches.length === 0) return { host: h.host, port: h.port, route, matchedPrefix: undefined };
      for (let i = 0; i < route.matches.length; i++) {
        if (route.matches[i]!(r, path)) return { host: h.host, port: h.port, route, matchedPrefix: route.uriPrefixes[i] };
      }
    }
    return undefined;
  }

  /** Every compiled route, for composing their stages once per snapshot. */
  *allRoutes(): Generator<CompiledRoute> {
    const seen = new Set<HostEntry>();
    for (const e of [...this.#byName.values(), ...this.#wildcards.map((w) => w.entry)]) {
      if (seen.has(e)) continue;
      seen.add(e);
      for (const t of e.ports.values()) yield* t.routes;
    }
  }

  /** Weighted choice; `rand` in [0,1). Undefined when every weight is 0. */
  static pick(route: CompiledRoute, rand: number): CompiledDestination | undefined {
    if (route.destinations.length === 1) return route.total > 0 ? route.destinations[0] : undefined;
    if (route.total <= 0) return undefined;
    const x = rand * route.total;
    for (let i = 0; i < route.cumulative.length; i++) if (x < route.cumulative[i]!) return route.destinations[i];
    return route.destinations[route.destinations.length - 1];
  }
}

export function compileRoute(route: Route): CompiledRoute {
  const destinations = (route.destinations ?? []).map((d) => ({
    cluster: d.cluster,
    requestHeaders: compileOps(d.requestHeaders),
    responseHeaders: compileOps(d.responseHeaders),
  }));
  const cumulative: number[] = [];
  let total = 0;
  for (const d of route.destinations ?? []) cumulative.push((total += Math.max(0, d.weight)));
  const rx = route.rewrite?.regex;
  return {
    route,
    matches: route.match.map(compileMatch),
    uriPrefixes: route.match.map((m) => m.uri?.prefix ?? m.uri?.exact),
    cumulative,
    total,
    destinations,
    requestHeaders: compileOps(route.requestHeaders),
    responseHeaders: compileOps(route.responseHeaders),
    rewriteRegex: rx ? new RegExp(rx.match, 'g') : undefined,
    // RE2 writes groups as \1; JavaScript's replace wants $1.
    rewriteRegexReplacement: rx ? rx.rewrite.replace(/\\(\d)/g, '$$$1') : '',
  };
}

export function compileOps(ops: HeaderOps | undefined): CompiledHeaderOps | undefined {
  if (!ops) return undefined;
  const drop = new Set<string>([...(ops.remove ?? []), ...(ops.set ?? []).map(([k]) => k)]);
  const append: string[] = [];
  for (const [k, v] of ops.set ?? []) append.push(k, v);
  for (const [k, v] of ops.add ?? []) append.push(k, v);
  return { drop, append };
}

type StringPredicate = (v: string) => boolean;

function compileString(m: StringMatch, ignoreCase = false): StringPredicate {
  if (m.exact !== undefined) {
    const e = ignoreCase ? m.exact.toLowerCase() : m.exact;
    return ignoreCase ? (v) => v.toLowerCase() === e : (v) => v === e;
  }
  if (m.prefix !== undefined) {
    const p = ignoreCase ? m.prefix.toLowerCase() : m.prefix;
    return ignoreCase ? (v) => v.toLowerCase().startsWith(p) : (v) => v.startsWith(p);
  }
  if (m.regex !== undefined) {
    const re = new RegExp(`^(?:${m.regex})$`, ignoreCase ? 'i' : '');
    return (v) => re.test(v);
  }
  return () => true;
}

function compileHeader(h: HeaderMatch, read: (r: RequestView, name: string) => string | undefined): Predicate {
  const test = h.present ? () => true : compileString(h);
  const name = h.name;
  if (h.invert) {
    return (r) => {
      const v = read(r, name);
      return v === undefined || !test(v);
    };
  }
  return (r) => {
    const v = read(r, name);
    return v !== undefined && test(v);
  };
}

function readHeader(r: RequestView, name: string): string | undefined {
  const v = r.incoming[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function readQuery(r: RequestView, name: string): string | undefined {
  const q = r.url.indexOf('?');
  if (q < 0) return undefined;
  const v = new URLSearchParams(r.url.slice(q + 1)).get(name);
  return v === null ? undefined : v;
}

function compileMatch(m: RouteMatch): Predicate {
  const preds: Predicate[] = [];
  if (m.uri) {
    const t = compileString(m.uri, m.ignoreUriCase === true);
    preds.push((_r, path) => t(path));
  }
  if (m.method) {
    const t = compileString(m.method);
    preds.push((r) => t(r.method));
  }
  if (m.authority) {
    const t = compileString(m.authority);
    preds.push((r) => t(r.authority));
  }
  if (m.scheme) {
    // Listeners here are plain HTTP; TLS origination is not built yet.
    const t = compileString(m.scheme);
    preds.push(() => t('http'));
  }
  for (const h of m.headers ?? []) preds.push(compileHeader(h, readHeader));
  for (const q of m.queryParams ?? []) preds.push(compileHeader(q, readQuery));
  if (preds.length === 0) return () => true;
  if (preds.length === 1) return preds[0]!;
  return (r, path) => {
    for (const p of preds) if (!p(r, path)) return false;
    return true;
  };
}
