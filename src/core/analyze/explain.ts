import type { ResourceRef } from '../../api/resource.js';
import { hostMatches } from '../../api/hosts.js';
import type { AnalysisContext, Workload } from './context.js';
import { destinationRulesByHost } from './destination-rules.js';
import { effectiveMtls } from './mtls.js';
import { gatewaysOf } from './routes.js';
import type { InputResource } from './types.js';
import { arr, formatLabels, num, obj, objs, selects, specOf, str, stringMap, strings } from './util.js';

/** One request, as `meshctl explain` is asked about it. */
export interface ExplainRequest {
  /** The service as written: `reviews`, `reviews.prod`, or a full host. */
  service: string;
  namespace: string;
  path: string;
  method: string;
  headers: Record<string, string>;
  /** Labels of the calling workload (`--source app=productpage`). */
  sourceLabels: Record<string, string>;
  sourceNamespace: string;
  port?: number | undefined;
}

export interface ExplainedDestination {
  host: string;
  subset?: string | undefined;
  port?: number | undefined;
  weight: number;
  /** Labels the subset selects, and how many known workloads carry them. */
  labels?: Record<string, string> | undefined;
  workloads?: number | undefined;
}

export interface Explanation {
  request: { host: string; method: string; path: string; headers: Record<string, string>; source: string };
  service?: ResourceRef | undefined;
  virtualService?: ResourceRef | undefined;
  /** Other VirtualServices for the same host: which one wins is undefined (IST0109). */
  conflicting: ResourceRef[];
  /** `http[1]`, or `default route` when no VirtualService applies. */
  rule: string;
  matchedBy: string;
  destinations: ExplainedDestination[];
  timeout: string;
  retries: string;
  fault: string;
  mirror: string;
  rewrite?: string | undefined;
  redirect?: string | undefined;
  directResponse?: string | undefined;
  tls: string;
  authorization: string;
  notes: string[];
}

/**
 * What the mesh does with one request, from configuration alone: the VirtualService rule that
 * matches (first match wins, as Envoy evaluates them), its weighted destinations, timeout, retries,
 * fault, mirror, the TLS mode on both ends and the authorization decision. Pure: the caller builds
 * the AnalysisContext from files or a cluster.
 */
export function explain(ctx: AnalysisContext, req: ExplainRequest): Explanation {
  const host = serviceHostOf(ctx, req.service, req.namespace);
  const svc = ctx.service(host);
  const sourceWorkload = findSource(ctx, req);
  const notes: string[] = [];
  if (!svc && !ctx.hostExists(host)) notes.push(`no Service or ServiceEntry defines ${host} in the input`);
  const vsList = ctx
    .of('VirtualService')
    .filter((vs) => gatewaysOf(vs).includes('mesh') && strings(specOf(vs.resource).hosts).some((h) => hostMatches(ctx.fqdn(h, ctx.ns(vs.resource)), host)));
  const vs = vsList[0];
  const out: Explanation = {
    request: {
      host,
      method: req.method,
      path: req.path,
      headers: req.headers,
      source: Object.keys(req.sourceLabels).length ? `${formatLabels(req.sourceLabels)} in ${req.sourceNamespace}` : `any workload in ${req.sourceNamespace}`,
    },
    service: svc ? ctx.ref(svc.resource) : undefined,
    virtualService: vs ? ctx.ref(vs.resource) : undefined,
    conflicting: vsList.slice(1).map((v) => ctx.ref(v.resource)),
    rule: 'default route',
    matchedBy: 'no VirtualService for this host: plain load balancing over all endpoints',
    destinations: [{ host, weight: 100, port: req.port, workloads: svc ? ctx.serviceWorkloads(svc).length : undefined }],
    timeout: 'none (no route timeout)',
    retries: '2 attempts on connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes (Istio default)',
    fault: 'none',
    mirror: 'none',
    tls: '',
    authorization: '',
    notes,
  };
  if (vsList.length > 1) notes.push(`${vsList.length} VirtualServices claim ${host}; which one applies is undefined (IST0109); showing the first`);

  if (vs) {
    const found = matchRule(ctx, vs, req, host, sourceWorkload);
    if (!found) {
      out.rule = 'none';
      out.matchedBy = `no rule of VirtualService ${vs.resource.metadata.name} matches: the request gets 404 (route not found)`;
      out.destinations = [];
      out.retries = 'n/a';
      out.timeout = 'n/a';
    } else {
      const { rule, index, why, owner } = found;
      out.rule = `http[${index}]${typeof rule.name === 'string' ? ` (${rule.name})` : ''}${owner !== vs ? ` of delegate ${owner.resource.metadata.name}.${ctx.ns(owner.resource)}` : ''}`;
      out.matchedBy = why;
      const routes = objs(rule.route);
      const weighted = routes.length === 1 ? [[routes[0]?.[0] ?? {}, 100] as const] : routes.map(([r]) => [r, num(r.weight) ?? 0] as const);
      const rules = destinationRulesByHost(ctx);
      const ownerNs = ctx.ns(owner.resource);
      out.destinations = weighted.map(([r, weight]) => {
        const d = obj(r.destination) ?? {};
        const dHost = ctx.fqdn(str(d.host) ?? '', ownerNs);
        const subset = str(d.subset) || undefined;
        const labels = subset ? rules.forHost(dHost).map((dr) => rules.subset(dr, subset)?.labels).find((l) => l !== undefined) : undefined;
        const dSvc = ctx.service(dHost);
        const backing = dSvc ? ctx.serviceWorkloads(dSvc) : undefined;
        return { host: dHost, subset, port: num(obj(d.port)?.number), weight, labels, workloads: backing ? backing.filter((w) => !labels || selects(labels, w.labels)).length : undefined };
      });
      out.timeout = typeof rule.timeout === 'string' ? rule.timeout : 'none (no route timeout)';
      const retries = obj(rule.retries);
      if (retries) {
        const attempts = num(retries.attempts) ?? 0;
        out.retries = attempts === 0 ? 'disabled (attempts: 0)' : `${attempts} attempt${attempts === 1 ? '' : 's'}${typeof retries.perTryTimeout === 'string' ? `, ${retries.perTryTimeout} each` : ''}${typeof retries.retryOn === 'string' ? ` on ${retries.retryOn}` : ''}`;
      }
      out.fault = describeFault(obj(rule.fault));
      const mirror = obj(rule.mirror);
      const mirrors = objs(rule.mirrors).map(([m]) => obj(m.destination)).filter((m) => m !== undefined);
      const all = [...(mirror ? [mirror] : []), ...mirrors];
      if (all.length) {
        const pct = num(obj(rule.mirrorPercentage)?.value) ?? 100;
        out.mirror = all.map((m) => `${ctx.fqdn(str(m.host) ?? '', ownerNs)}${str(m.subset) ? ` subset ${str(m.subset)}` : ''} (${pct}% of requests, responses discarded)`).join('; ');
      }
      const rewrite = obj(rule.rewrite);
      if (rewrite) out.rewrite = Object.entries(rewrite).map(([k, v]) => `${k} -> ${JSON.stringify(v)}`).join(', ');
      const redirect = obj(rule.redirect);
      if (redirect) out.redirect = Object.entries(redirect).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ');
      const direct = obj(rule.directResponse);
      if (direct) out.directResponse = `status ${String(direct.status ?? '')}`;
    }
  }

  out.tls = describeTls(ctx, out.destinations, sourceWorkload);
  out.authorization = authorize(ctx, out.destinations, req, sourceWorkload);
  return out;
}

function serviceHostOf(ctx: AnalysisContext, service: string, namespace: string): string {
  const s = service.toLowerCase();
  const parts = s.split('.');
  // kubectl-style `name.namespace` on the command line, as other meshctl commands take it.
  if (parts.length === 2 && !s.includes('*')) return `${s}.svc.${ctx.domain}`;
  return ctx.fqdn(s, namespace);
}

function findSource(ctx: AnalysisContext, req: ExplainRequest): Workload | undefined {
  if (!Object.keys(req.sourceLabels).length) return undefined;
  return ctx.workloadsIn(req.sourceNamespace).find((w) => selects(req.sourceLabels, w.labels));
}

interface Found {
  rule: Record<string, unknown>;
  index: number;
  why: string;
  owner: InputResource;
}

function matchRule(ctx: AnalysisContext, vs: InputResource, req: ExplainRequest, host: string, source: Workload | undefined, depth = 0): Found | undefined {
  for (const [rule, i] of objs(specOf(vs.resource).http)) {
    const matches = arr(rule.match);
    let why: string | undefined;
    if (matches.length === 0) why = 'no match conditions: matches every request';
    else {
      for (const [j, m] of matches.entries()) {
        const reason = matchRequest(obj(m) ?? {}, req, host, source);
        if (reason !== undefined) {
          why = `match[${j}]${reason ? `: ${reason}` : ''}`;
          break;
        }
      }
    }
    if (why === undefined) continue;
    const delegate = obj(rule.delegate);
    if (delegate && depth < 3) {
      const name = str(delegate.name);
      const ns = str(delegate.namespace) ?? ctx.ns(vs.resource);
      const target = ctx.of('VirtualService').find((v) => v.resource.metadata.name === name && ctx.ns(v.resource) === ns);
      if (!target) return undefined;
      const inner = matchRule(ctx, target, req, host, source, depth + 1);
      if (inner) return { ...inner, why: `${why}, then delegate ${name}.${ns} ${inner.why}` };
      continue;
    }
    return { rule, index: i, why, owner: vs };
  }
  return undefined;
}

/** Returns undefined when the match does not apply, else a short reason ('' for an empty match). */
function matchRequest(m: Record<string, unknown>, req: ExplainRequest, host: string, source: Workload | undefined): string | undefined {
  const reasons: string[] = [];
  const [pathOnly, query = ''] = req.path.split('?', 2) as [string, string?];
  const uri = obj(m.uri);
  if (uri) {
    const ignoreCase = m.ignoreUriCase === true;
    if (!stringMatch(uri, pathOnly, ignoreCase)) return undefined;
    reasons.push(`uri ${describeStringMatch(uri)}`);
  }
  for (const [name, sm] of Object.entries(obj(m.headers) ?? {})) {
    const value = req.headers[name.toLowerCase()];
    const smo = obj(sm) ?? {};
    if (name.startsWith('@request.auth.claims')) return undefined; // needs a validated JWT: not modelled
    if (Object.keys(smo).length === 0 ? value === undefined : value === undefined || !stringMatch(smo, value, false)) return undefined;
    reasons.push(`header ${name} ${describeStringMatch(smo)}`);
  }
  for (const [name, sm] of Object.entries(obj(m.withoutHeaders) ?? {})) {
    const value = req.headers[name.toLowerCase()];
    if (value !== undefined && (Object.keys(obj(sm) ?? {}).length === 0 || stringMatch(obj(sm) ?? {}, value, false))) return undefined;
    reasons.push(`without header ${name}`);
  }
  const params = new URLSearchParams(query);
  for (const [name, sm] of Object.entries(obj(m.queryParams) ?? {})) {
    const value = params.get(name);
    if (value === null || !stringMatch(obj(sm) ?? {}, value, false)) return undefined;
    reasons.push(`query ${name}`);
  }
  const method = obj(m.method);
  if (method) {
    if (!stringMatch(method, req.method, false)) return undefined;
    reasons.push(`method ${describeStringMatch(method)}`);
  }
  const authority = obj(m.authority);
  if (authority) {
    if (!stringMatch(authority, host, false)) return undefined;
    reasons.push(`authority ${describeStringMatch(authority)}`);
  }
  if (typeof m.port === 'number') {
    if (req.port !== undefined && req.port !== m.port) return undefined;
    reasons.push(`port ${m.port}`);
  }
  const sourceLabels = stringMap(m.sourceLabels);
  if (Object.keys(sourceLabels).length) {
    const labels = source?.labels ?? req.sourceLabels;
    if (!selects(sourceLabels, labels)) return undefined;
    reasons.push(`source ${formatLabels(sourceLabels)}`);
  }
  if (typeof m.sourceNamespace === 'string') {
    if (m.sourceNamespace !== req.sourceNamespace) return undefined;
    reasons.push(`source namespace ${m.sourceNamespace}`);
  }
  return reasons.join(', ');
}

function stringMatch(sm: Record<string, unknown>, value: string, ignoreCase: boolean): boolean {
  const v = ignoreCase ? value.toLowerCase() : value;
  const c = (s: string) => (ignoreCase ? s.toLowerCase() : s);
  if (typeof sm.exact === 'string') return v === c(sm.exact);
  if (typeof sm.prefix === 'string') return v.startsWith(c(sm.prefix));
  if (typeof sm.regex === 'string') {
    try {
      // Envoy matches RE2 against the whole value.
      return new RegExp(`^(?:${sm.regex.replace(/^\(\?[imsU]+\)/, '')})$`, ignoreCase ? 'i' : '').test(value);
    } catch {
      return false;
    }
  }
  return true;
}

function describeStringMatch(sm: Record<string, unknown>): string {
  for (const k of ['exact', 'prefix', 'regex']) if (typeof sm[k] === 'string') return `${k} ${JSON.stringify(sm[k])}`;
  return 'present';
}

function describeFault(fault: Record<string, unknown> | undefined): string {
  if (!fault) return 'none';
  const parts: string[] = [];
  const delay = obj(fault.delay);
  if (delay) parts.push(`delay ${str(delay.fixedDelay) ?? '?'} on ${num(obj(delay.percentage)?.value) ?? num(delay.percent) ?? 0}% of requests`);
  const abort = obj(fault.abort);
  if (abort) parts.push(`abort with ${String(abort.httpStatus ?? abort.grpcStatus ?? '?')} on ${num(obj(abort.percentage)?.value) ?? 0}% of requests`);
  return parts.length ? parts.join('; ') : 'none';
}

function describeTls(ctx: AnalysisContext, dests: readonly ExplainedDestination[], source: Workload | undefined): string {
  const d = dests[0];
  if (!d) return 'n/a';
  const rules = destinationRulesByHost(ctx);
  const dr = rules.forHost(d.host)[0];
  let client = 'ISTIO_MUTUAL when the server has a sidecar (auto mTLS)';
  if (dr) {
    const spec = specOf(dr.resource);
    const subset = d.subset ? objs(spec.subsets).find(([s]) => s.name === d.subset)?.[0] : undefined;
    const policies = [obj(subset?.trafficPolicy), obj(spec.trafficPolicy)];
    let mode: string | undefined;
    for (const tp of policies) {
      const pls = objs(tp?.portLevelSettings).find(([p]) => d.port !== undefined && num(obj(p.port)?.number) === d.port)?.[0];
      mode = str(obj(pls?.tls)?.mode) ?? str(obj(tp?.tls)?.mode);
      if (mode) break;
    }
    if (mode) client = `${mode} (DestinationRule ${dr.resource.metadata.name}.${ctx.ns(dr.resource)})`;
  }
  if (source && ctx.hasSidecar(source) === false) client = 'plaintext (the source has no sidecar)';
  const svc = ctx.service(d.host);
  const target = svc ? ctx.serviceWorkloads(svc).find((w) => !d.labels || selects(d.labels, w.labels)) : undefined;
  const server = svc ? effectiveMtls(ctx, ctx.ns(svc.resource), target?.labels) : undefined;
  const serverText = server ? `${server.mode} (PeerAuthentication ${server.policy.resource.metadata.name}.${ctx.ns(server.policy.resource)})` : 'PERMISSIVE (default)';
  return `client ${client}; server ${serverText}`;
}

/**
 * Istio's authorization order on the server: CUSTOM (not modelled), then any matching DENY denies,
 * then if ALLOW policies select the workload one must match, else the request is allowed.
 */
function authorize(ctx: AnalysisContext, dests: readonly ExplainedDestination[], req: ExplainRequest, source: Workload | undefined): string {
  const d = dests[0];
  const svc = d ? ctx.service(d.host) : undefined;
  if (!d || !svc) return 'n/a (destination is not a known Service)';
  const ns = ctx.ns(svc.resource);
  const target = ctx.serviceWorkloads(svc).find((w) => !d.labels || selects(d.labels, w.labels));
  const labels = target?.labels ?? {};
  const applies = ctx.of('AuthorizationPolicy').filter((ap) => {
    const apNs = ctx.ns(ap.resource);
    const sel = stringMap(obj(specOf(ap.resource).selector)?.matchLabels);
    if (apNs === 'istio-system' && !Object.keys(sel).length) return true;
    return apNs === ns && selects(sel, labels);
  });
  const principal = source ? `cluster.local/ns/${source.namespace}/sa/${serviceAccountOf(source)}` : undefined;
  const unknown = new Set<string>();
  const ruleMatches = (rule: Record<string, unknown>): boolean => {
    const froms = objs(rule.from);
    const tos = objs(rule.to);
    const whens = objs(rule.when);
    const fromOk = !froms.length || froms.some(([f]) => sourceMatches(obj(f.source) ?? {}, req, principal, unknown));
    const toOk = !tos.length || tos.some(([t]) => operationMatches(obj(t.operation) ?? {}, req, d.host));
    const whenOk = whens.every(([w]) => {
      unknown.add(`when ${String(w.key)}`);
      return true;
    });
    return fromOk && toOk && whenOk;
  };
  for (const ap of applies.filter((a) => specOf(a.resource).action === 'DENY')) {
    const i = objs(specOf(ap.resource).rules).findIndex(([r]) => ruleMatches(r));
    if (i >= 0) return `DENY by ${ap.resource.metadata.name}.${ctx.ns(ap.resource)} rule ${i}${unknown.size ? ` (assuming ${[...unknown].join(', ')})` : ''}`;
  }
  const allows = applies.filter((a) => (specOf(a.resource).action ?? 'ALLOW') === 'ALLOW');
  if (!allows.length) return 'ALLOW (no ALLOW policy selects the workload)';
  for (const ap of allows) {
    const i = objs(specOf(ap.resource).rules).findIndex(([r]) => ruleMatches(r));
    if (i >= 0) return `ALLOW by ${ap.resource.metadata.name}.${ctx.ns(ap.resource)} rule ${i}${unknown.size ? ` (assuming ${[...unknown].join(', ')})` : ''}`;
  }
  return `DENY: ALLOW policies ${allows.map((a) => a.resource.metadata.name).join(', ')} select the workload and none matches`;
}

function serviceAccountOf(w: Workload): string {
  const r = w.input.resource;
  const spec = w.isPod ? obj(r.spec) : obj(obj(obj(r.spec)?.template)?.spec);
  return str(spec?.serviceAccountName) ?? 'default';
}

function sourceMatches(s: Record<string, unknown>, req: ExplainRequest, principal: string | undefined, unknown: Set<string>): boolean {
  const has = (list: unknown, v: string | undefined) => v !== undefined && strings(list).some((p) => p === '*' || p === v || (p.endsWith('*') && v.startsWith(p.slice(0, -1))) || (p.startsWith('*') && v.endsWith(p.slice(1))));
  if (s.namespaces !== undefined && !has(s.namespaces, req.sourceNamespace)) return false;
  if (s.notNamespaces !== undefined && has(s.notNamespaces, req.sourceNamespace)) return false;
  if (s.principals !== undefined) {
    if (!principal) unknown.add('the source principal');
    else if (!has(s.principals, principal)) return false;
  }
  if (s.notPrincipals !== undefined && principal && has(s.notPrincipals, principal)) return false;
  for (const k of ['requestPrincipals', 'notRequestPrincipals', 'ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks']) if (s[k] !== undefined) unknown.add(`source.${k}`);
  return true;
}

function operationMatches(o: Record<string, unknown>, req: ExplainRequest, host: string): boolean {
  const path = req.path.split('?')[0] ?? '';
  const has = (list: unknown, v: string) => strings(list).some((p) => p === '*' || p === v || (p.endsWith('*') && v.startsWith(p.slice(0, -1))) || (p.startsWith('*') && v.endsWith(p.slice(1))));
  if (o.paths !== undefined && !has(o.paths, path)) return false;
  if (o.notPaths !== undefined && has(o.notPaths, path)) return false;
  if (o.methods !== undefined && !has(o.methods, req.method)) return false;
  if (o.notMethods !== undefined && has(o.notMethods, req.method)) return false;
  if (o.hosts !== undefined && !has(o.hosts, host) && !has(o.hosts, host.split('.')[0] ?? '')) return false;
  if (o.ports !== undefined && req.port !== undefined && !strings(o.ports).includes(String(req.port))) return false;
  return true;
}
