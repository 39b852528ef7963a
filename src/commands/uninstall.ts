import type { Resource } from '../api/resource.js';
import type { KubeApplier } from '../store/kube-apply.js';
import { UsageError } from '../core/errors.js';
import { defineCommand } from './spec.js';

export const uninstallCommand = defineCommand({
  path: 'uninstall',
  summary: 'Remove exactly what meshctl installed (the mesh CRDs and their objects only with --purge)',
  description:
    'Deletes every object that carries meshctl\'s install labels, last-applied first. The CRDs stay\n' +
    '(and with them every VirtualService, DestinationRule, ...) unless --purge; --purge says how many\n' +
    'mesh objects would be lost and asks first, unless -y. Objects that existed before meshctl installed\n' +
    '(an Istio install\'s CRDs, a meshctl-system namespace you made) are never deleted: meshctl only\n' +
    'removes its labels from them. Nor is meshctl-system while it holds objects meshctl did not install.\n' +
    'The root CA Secret meshctl-system/meshctl-ca is deleted with the rest, whether install generated it\n' +
    'or wrote it from your ca.cert/ca.key (your PEM files are untouched); a re-install then generates a\n' +
    'new CA. A meshctl-ca Secret you created before install was adopted and is left in place.\n' +
    'With --local DIR the root CA is kept unless --purge.',
  options: [
    { flags: '--purge', description: 'also delete the CRDs meshctl created, and every object of those kinds' },
    { flags: '-y, --yes', description: 'do not ask before --purge deletes mesh objects' },
    { flags: '--dry-run', description: 'list what would be deleted and delete nothing' },
  ],
  examples: ['meshctl uninstall', 'meshctl uninstall --dry-run', 'meshctl uninstall --purge -y'],
  async run(ctx, _args, opts) {
    const { openApplier, listInstalled, checkAccess, confirm } = await import('./install.js');
    const { describeRef, isAdopted, releasePatch } = await import('../manifests/plan.js');
    const { KIND_ORDER, NAMESPACE, INSTALL_SELECTOR, kindRank, MANAGED_BY, PART_OF } = await import('../manifests/render.js');
    const { installKindInfo } = await import('../store/kube-apply.js');
    const ref = (r: Resource) => ({ kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name });
    const purge = Boolean(opts.purge);
    const dryRun = Boolean(opts.dryRun);
    if (ctx.globals.local) {
      // A local mesh: what install --local laid out. The root CA is its "CRD": kept unless --purge.
      const { LOCAL_KINDS } = await import('./install.js');
      const { CA_SECRET } = await import('../manifests/render.js');
      const store = await ctx.store();
      const ours = (await Promise.all([...LOCAL_KINDS].map((k) => store.list(k, NAMESPACE))))
        .flat()
        .filter((r) => r.metadata.labels?.[MANAGED_BY] === 'meshctl' && r.metadata.labels?.[PART_OF] === 'meshctl')
        .sort((a, b) => kindRank(b.kind) - kindRank(a.kind));
      const isCA = (r: Resource) => r.kind === 'Secret' && r.metadata.name === CA_SECRET;
      const deleted: string[] = [];
      for (const r of ours.filter((x) => purge || !isCA(x))) {
        if (r.kind === 'Namespace' && !purge && ours.some(isCA)) continue; // the kept CA lives in it
        await store.delete(ref(r), { dryRun });
        deleted.push(describeRef(ref(r)));
      }
      const kept = ours.some(isCA) && !purge ? [`Secret ${NAMESPACE}/${CA_SECRET}`] : [];
      const lines = [...(kept.length ? [`kept the root CA (${kept[0]}): meshctl uninstall --local DIR --purge deletes it`] : []), `${dryRun ? 'dry run: would delete' : 'deleted'} ${deleted.length} objects of meshctl's from ${store.location}`];
      return { data: { dryRun, deleted, kept }, text: ours.length ? lines.join('\n') : `meshctl is not installed in ${store.location}: nothing to remove` };
    }
    const kube = await openApplier(ctx);
    try {
      // Objects already being deleted (a namespace waiting for its finalizers) are gone as far as meshctl is concerned.
      const installed = (await listInstalled(kube, KIND_ORDER, NAMESPACE, INSTALL_SELECTOR, installKindInfo)).filter((r) => !r.metadata.deletionTimestamp);
      if (installed.length === 0) return { data: { deleted: [], kept: [] }, text: `meshctl is not installed in context "${kube.context}": nothing to remove` };
      // Adopted objects (Istio's CRDs, a namespace made before install) existed before meshctl: never deleted.
      const adopted = installed.filter(isAdopted).sort((a, b) => kindRank(b.kind) - kindRank(a.kind));
      const ours = installed.filter((r) => r.kind === 'CustomResourceDefinition' && !isAdopted(r));
      const rest = installed.filter((r) => r.kind !== 'CustomResourceDefinition' && !isAdopted(r)).sort((a, b) => kindRank(b.kind) - kindRank(a.kind));
      // A namespace meshctl created may since hold things of the user's (a mesh-wide policy in the
      // root namespace, a Secret): deleting it would delete them too. It is kept, and released.
      const nsObj = rest.find((r) => r.kind === 'Namespace' && r.metadata.name === NAMESPACE);
      const foreign = nsObj ? await foreignObjects(kube, NAMESPACE) : [];
      const keptNs = foreign.length > 0 ? nsObj : undefined;
      const toDelete: Resource[] = [...rest.filter((r) => r !== keptNs), ...(purge ? ours : [])];
      if (keptNs) adopted.push(keptNs);

      await checkAccess(
        kube,
        [
          ...toDelete.map((r) => ({ verb: 'delete', info: installKindInfo(r.kind), namespace: r.metadata.namespace, name: r.metadata.name })),
          ...adopted.map((r) => ({ verb: 'patch', info: installKindInfo(r.kind), name: r.metadata.name })),
        ],
        'uninstall',
      );

      const notes: string[] = [];
      if (purge && ours.length) {
        const counts = await Promise.all(ours.map(async (c) => ({ kind: (c.spec as { names: { kind: string } }).names.kind, n: await kube.countCustomObjects(c) })));
        const total = counts.reduce((s, c) => s + c.n, 0);
        const detail = counts.filter((c) => c.n > 0).map((c) => `${c.n} ${c.kind}`).join(', ');
        const warning = `--purge deletes ${ours.length} CRDs and with them ${total} mesh object${total === 1 ? '' : 's'}${detail ? ` (${detail})` : ''}`;
        if (!dryRun && !opts.yes) {
          if (!(await confirm(ctx, `${warning}. Continue? [y/N] `))) throw new UsageError('uninstall --purge was not confirmed: nothing was deleted', 'answer y, or pass -y');
        }
        notes.push(warning);
      }
      const deleted: string[] = [];
      for (const r of toDelete) {
        // Namespaced objects first and the namespace last, so nothing is left for a namespace controller.
        await kube.delete(ref(r), { dryRun });
        deleted.push(describeRef(ref(r)));
        ctx.info(`${dryRun ? 'would delete' : 'deleted'} ${describeRef(ref(r))}`);
      }
      for (const c of adopted) {
        // Not meshctl's to delete: only meshctl's marks come off, the object (and what is in it) stays.
        if (!dryRun) await kube.mergePatch(ref(c), releasePatch());
        ctx.info(`${dryRun ? 'would leave' : 'left'} ${describeRef(ref(c))} (${c === keptNs ? 'it holds objects meshctl did not install' : 'it existed before meshctl installed'})`);
      }
      const adoptedCrds = adopted.filter((r) => r.kind === 'CustomResourceDefinition').length;
      const left = dryRun ? 'would leave' : 'left';
      const removed = dryRun ? 'would remove' : 'removed';
      if (adoptedCrds) notes.push(`${left} ${adoptedCrds} CRDs that existed before meshctl installed (${removed} meshctl's labels from them)`);
      for (const r of adopted.filter((x) => x.kind !== 'CustomResourceDefinition' && x !== keptNs)) notes.push(`${left} ${describeRef(ref(r))}: it existed before meshctl installed (${removed} meshctl's labels from it)`);
      if (keptNs) {
        const names = foreign.slice(0, 3).join(', ') + (foreign.length > 3 ? ', ...' : '');
        notes.push(`${dryRun ? 'would keep' : 'kept'} Namespace ${NAMESPACE}: it holds ${foreign.length} object${foreign.length === 1 ? '' : 's'} that meshctl did not install (${names}); ${removed} meshctl's labels from it (kubectl delete namespace ${NAMESPACE} deletes it with them)`);
      }
      if (!purge && ours.length) notes.push(`kept ${ours.length} CRDs and the mesh objects in them: meshctl uninstall --purge deletes them`);
      const kept = [...(purge ? [] : ours), ...adopted].map((r) => describeRef(ref(r)));
      return {
        data: { dryRun, deleted, kept },
        text: [...notes, `${dryRun ? 'dry run: would delete' : 'deleted'} ${deleted.length} objects of meshctl's from context "${kube.context}"`].join('\n'),
      };
    } finally {
      await kube.close();
    }
  },
});

/** Namespaced kinds a person may keep in meshctl's namespace, beyond what meshctl installs there. */
const NAMESPACED_KINDS = ['Role', 'RoleBinding', 'HorizontalPodAutoscaler', 'PodDisruptionBudget'];

/**
 * Objects in the namespace that meshctl did not install, as `Kind name`. Left out: meshctl's own,
 * dependents (ownerReferences: garbage-collected with their owner), and what Kubernetes puts in every
 * namespace (ServiceAccount default, ConfigMap kube-root-ca.crt, service-account token Secrets).
 * Kinds the user may not list are skipped: uninstall's own permission check covers what it deletes.
 */
async function foreignObjects(kube: KubeApplier, namespace: string): Promise<string[]> {
  const { KINDS } = await import('../api/kinds.js');
  const { installKindInfo } = await import('../store/kube-apply.js');
  const { MANAGED_BY } = await import('../manifests/render.js');
  const { ForbiddenError } = await import('../core/errors.js');
  const kinds = [...KINDS.filter((k) => k.namespaced && k.kind !== 'EndpointSlice' && k.kind !== 'ReplicaSet'), ...NAMESPACED_KINDS.map(installKindInfo)];
  const lists = await Promise.all(
    kinds.map((info) =>
      kube.list(info, { namespace }).catch((err: unknown) => {
        if (err instanceof ForbiddenError) return [];
        throw err;
      }),
    ),
  );
  const builtIn = (r: Resource) =>
    (r.kind === 'ServiceAccount' && r.metadata.name === 'default') ||
    (r.kind === 'ConfigMap' && r.metadata.name === 'kube-root-ca.crt') ||
    (r.kind === 'Secret' && (r as { type?: string }).type === 'kubernetes.io/service-account-token');
  const hasOwner = (r: Resource) => {
    const owners = (r.metadata as { ownerReferences?: unknown }).ownerReferences;
    return Array.isArray(owners) && owners.length > 0;
  };
  return lists
    .flat()
    .filter((r) => r.metadata.labels?.[MANAGED_BY] !== 'meshctl' && !hasOwner(r) && !builtIn(r))
    .map((r) => `${r.kind} ${r.metadata.name}`)
    .sort();
}
