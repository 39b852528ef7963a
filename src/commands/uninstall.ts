import type { Resource } from '../api/resource.js';
import { UsageError } from '../core/errors.js';
import { defineCommand } from './spec.js';

export const uninstallCommand = defineCommand({
  path: 'uninstall',
  summary: 'Remove exactly what meshctl installed (the mesh CRDs and their objects only with --purge)',
  description:
    'Deletes every object that carries meshctl\'s install labels, last-applied first. The CRDs stay\n' +
    '(and with them every VirtualService, DestinationRule, ...) unless --purge; --purge says how many\n' +
    'mesh objects would be lost and asks first, unless -y. CRDs that existed before meshctl installed\n' +
    '(an Istio install\'s) are never deleted: meshctl only removes its labels from them.',
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
      const toDelete: Resource[] = [...rest, ...(purge ? ours : [])];

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
        ctx.info(`${dryRun ? 'would leave' : 'left'} ${describeRef(ref(c))} (it existed before meshctl installed)`);
      }
      const adoptedCrds = adopted.filter((r) => r.kind === 'CustomResourceDefinition').length;
      if (adoptedCrds) notes.push(`left ${adoptedCrds} CRDs that existed before meshctl installed (removed meshctl's labels from them)`);
      for (const r of adopted.filter((x) => x.kind !== 'CustomResourceDefinition')) notes.push(`left ${describeRef(ref(r))}: it existed before meshctl installed (removed meshctl's labels from it)`);
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
