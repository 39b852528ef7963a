import { defineCommand } from './spec.js';
import { KINDS, lookupKind } from '../api/kinds.js';
import type { Resource } from '../api/resource.js';
import { closest, NotFoundError, UsageError } from '../core/errors.js';

export const getCommand = defineCommand({
  path: 'get',
  summary: 'List the objects of one kind, or show one object, like kubectl get',
  description:
    'KIND is a kind meshctl knows, in any spelling kubectl accepts: VirtualService, virtualservice or\n' +
    'virtualservices (also DestinationRule, Gateway, PeerAuthentication, AuthorizationPolicy, Service, ...).\n' +
    'Reads the cluster of the current kube context, or the local mesh with --local DIR.',
  args: [
    { name: 'kind', description: 'the kind, e.g. virtualservices', required: true },
    { name: 'name', description: 'one object of that kind' },
  ],
  examples: [
    'meshctl get virtualservices',
    'meshctl get virtualservice reviews -n bookinfo -o yaml',
    'meshctl get destinationrules -A',
    'meshctl get peerauthentications --local ./mesh -o json',
  ],
  async run(ctx, args) {
    const kindArg = args[0] ?? '';
    const info = lookupKind(kindArg);
    if (!info) {
      const names = KINDS.flatMap((k) => [k.kind, k.plural]);
      const guess = closest(kindArg, names);
      throw new UsageError(
        `unknown kind "${kindArg}"`,
        guess ? `did you mean "${lookupKind(guess)?.plural ?? guess}"?` : `kinds: ${KINDS.map((k) => k.plural).join(', ')}`,
        'E_UNKNOWN_KIND',
      );
    }
    const store = await ctx.store();
    const name = args[1];
    const allNamespaces = ctx.globals.allNamespaces && !name;
    const namespace = !info.namespaced || allNamespaces ? undefined : await ctx.namespace();

    if (name) {
      const found = await store.get({ kind: info.kind, namespace, name });
      if (!found) {
        throw new NotFoundError(
          `${info.kind} "${name}" not found${namespace ? ` in namespace "${namespace}"` : ''} (${store.location})`,
          `list them with: meshctl get ${info.plural}${namespace ? ` -n ${namespace}` : ''}`,
        );
      }
      return { data: found, table: { columns: ['name', 'namespace', 'age'], rows: [row(found, ctx.now())] } };
    }

    const items = (await store.list(info.kind, namespace)).sort(
      (a, b) => (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') || a.metadata.name.localeCompare(b.metadata.name),
    );
    // Same shape as `kubectl get -o json`, so the output can be fed back to kubectl or meshctl.
    const data = { apiVersion: 'v1', kind: 'List', items };
    if (items.length === 0) {
      const where = namespace ? ` in namespace "${namespace}"` : info.namespaced ? ' in any namespace' : '';
      ctx.info(`No ${info.plural} found${where} (${store.location}).`);
      return { data, text: '' };
    }
    return { data, table: { columns: ['name', 'namespace', 'age'], rows: items.map((r) => row(r, ctx.now())) } };
  },
});

function row(r: Resource, now: Date): string[] {
  return [r.metadata.name, r.metadata.namespace ?? '', age(r.metadata.creationTimestamp, now)];
}

/** kubectl's short ages: 45s, 7m, 5h, 3d. */
export function age(created: string | undefined, now: Date): string {
  const t = created ? Date.parse(created) : NaN;
  if (Number.isNaN(t)) return '<unknown>';
  const s = Math.max(0, Math.floor((now.getTime() - t) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}
