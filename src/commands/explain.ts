import { UsageError } from '../core/errors.js';
import type { Context } from '../context.js';
import type { InputResource } from '../core/analyze/types.js';
import { defineCommand } from './spec.js';

export const explainCommand = defineCommand({
  path: 'explain',
  summary: 'Show the route, policies and authorization one request gets',
  description:
    'Reads mesh configuration from files (-f, dirs with -R) or from the cluster, and walks one request through it ' +
    'the way the proxy would: the first matching VirtualService rule wins. --base DIR shows the same request ' +
    'against another copy of the config (e.g. the target branch), as a diff for a pull-request comment.',
  args: [{ name: 'service', description: 'service name (reviews), name.namespace (reviews.prod) or host', required: true }],
  options: [
    { flags: '--path <path>', description: 'request path, with an optional ?query', default: '/' },
    { flags: '--method <method>', description: 'HTTP method', default: 'GET' },
    { flags: '-H, --header <key=value...>', description: 'request header (repeatable)' },
    { flags: '--source <key=value...>', description: 'labels of the calling workload, e.g. app=productpage' },
    { flags: '--source-namespace <ns>', description: 'namespace of the caller (default: the service namespace)', valueHint: 'namespace' },
    { flags: '--port <port>', description: 'destination port' },
    { flags: '-f, --file <path...>', description: 'read configuration from these files or directories instead of the cluster', valueHint: 'file' },
    { flags: '-R, --recursive', description: 'descend into directories given with -f or --base' },
    { flags: '--base <dir>', description: 'compare with the configuration in DIR (before) and print a diff', valueHint: 'dir' },
  ],
  examples: [
    'meshctl explain reviews -f samples/bookinfo -R --header end-user=jason',
    'meshctl explain reviews.default --path /reviews/1 --source app=productpage',
    'meshctl explain reviews -f k8s/ -R --base ../main/k8s   # before/after for a pull request',
  ],
  async run(ctx, args, opts) {
    const service = args[0];
    if (!service) throw new UsageError('explain needs a service', 'e.g. meshctl explain reviews');
    const { AnalysisContext } = await import('../core/analyze/context.js');
    const { explain } = await import('../core/analyze/explain.js');
    const ui = await import('../ui/analyze-explain.js');
    const files = Array.isArray(opts.file) ? opts.file.map(String) : [];
    const recursive = Boolean(opts.recursive);
    const namespace = ctx.globals.namespace ?? (files.length ? 'default' : await ctx.namespace());
    const port = opts.port === undefined ? undefined : Number(opts.port);
    if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) throw new UsageError(`invalid --port "${String(opts.port)}"`, 'use a port number 1-65535');
    const serviceNs = service.includes('.') && service.split('.').length === 2 ? (service.split('.')[1] ?? namespace) : namespace;
    const req = {
      service,
      namespace,
      path: typeof opts.path === 'string' && opts.path.startsWith('/') ? opts.path : `/${String(opts.path ?? '')}`,
      method: String(opts.method ?? 'GET').toUpperCase(),
      headers: keyValues(opts.header, '--header', true),
      sourceLabels: keyValues(opts.source, '--source', false),
      sourceNamespace: typeof opts.sourceNamespace === 'string' ? opts.sourceNamespace : serviceNs,
      port,
    };
    const snapshotOf = (resources: InputResource[], origin: 'files' | 'cluster') => new AnalysisContext({ resources, origin, defaultNamespace: namespace });
    const afterInput = await readConfig(ctx, files, recursive);
    const after = explain(snapshotOf(afterInput, files.length ? 'files' : 'cluster'), req);
    // Nothing defines or routes the host: a typo, most likely. Walking a made-up request through
    // nothing would print a confident but meaningless answer.
    const unknown = (e: typeof after) => !e.service && !e.virtualService && e.notes.some((n) => n.startsWith('no Service or ServiceEntry'));
    if (unknown(after) && typeof opts.base !== 'string') {
      const { NotFoundError, closest } = await import('../core/errors.js');
      const names = afterInput.filter((i) => i.resource.kind === 'Service').map((i) => i.resource.metadata.name);
      const guess = closest(service.split('.')[0] ?? service, names);
      const where = files.length ? files.join(', ') : (await ctx.store()).location;
      throw new NotFoundError(`no Service, ServiceEntry or VirtualService for "${after.request.host}" in ${where}`, guess ? `did you mean "${guess}"?` : 'check the name and -n');
    }
    if (typeof opts.base === 'string') {
      const before = explain(snapshotOf(await readConfig(ctx, [opts.base], true), 'files'), req);
      if (unknown(before) && unknown(after)) {
        const { NotFoundError } = await import('../core/errors.js');
        throw new NotFoundError(`no Service, ServiceEntry or VirtualService for "${after.request.host}" in ${files.join(', ') || 'the cluster'} or ${opts.base}`, 'check the name and -n');
      }
      const diff = ui.formatExplanationDiff(before, after);
      return { data: { before, after, changed: diff.changed }, text: diff.text };
    }
    return { data: after, text: ui.formatExplanation(after, ctx.io.color) };
  },
});

function keyValues(v: unknown, flag: string, lowerKeys: boolean): Record<string, string> {
  const list = Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : [];
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`invalid ${flag} "${item}"`, `use ${flag} key=value`);
    out[lowerKeys ? item.slice(0, eq).toLowerCase() : item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

async function readConfig(ctx: Context, files: readonly string[], recursive: boolean): Promise<InputResource[]> {
  const { readInputs, listClusterInputs, overlay } = await import('./analyze.js');
  const { loadSources } = await import('../core/analyze/load.js');
  if (files.length) return await overlay([], loadSources(await readInputs(ctx, files, recursive)), ctx.globals.namespace ?? 'default');
  const { ALL_ANALYZERS, inputKinds } = await import('../core/analyze/all.js');
  // An account that may read only its namespace still gets an answer from what it can read.
  return (await listClusterInputs(ctx, inputKinds(ALL_ANALYZERS), ctx.globals.allNamespaces ? undefined : await ctx.namespace())).resources;
}
