import { defineCommand } from './spec.js';

export const clusterSnapshotCommand = defineCommand({
  path: 'cluster snapshot',
  summary: 'Save the cluster state analyze reads, for offline CI runs',
  description:
    'Lists every kind the analyzers read (Services, Pods, Deployments, Namespaces and the mesh resources), in all ' +
    'namespaces, and prints them as one YAML List. `meshctl analyze --snapshot snap.yaml FILES` then analyzes the ' +
    'files overlaid on that state with no cluster credentials. Server-managed fields and Secrets are left out.',
  examples: ['meshctl cluster snapshot > snap.yaml', 'meshctl analyze --snapshot snap.yaml -R k8s/'],
  outputs: ['yaml', 'json', 'table'],
  async run(ctx) {
    const { ALL_ANALYZERS, inputKinds } = await import('../core/analyze/all.js');
    const { listClusterInputs, SNAPSHOT_UNLISTED } = await import('./analyze.js');
    const { resources, unlisted } = await listClusterInputs(ctx, inputKinds(ALL_ANALYZERS));
    const store = await ctx.store();
    const items = resources.map(({ resource }) => {
      // Server bookkeeping changes on every read and is not analysis input; leaving it out keeps
      // snapshots small and diffable.
      const { managedFields: _m, resourceVersion: _r, uid: _u, generation: _g, creationTimestamp: _c, ...metadata } = resource.metadata;
      const { status: _s, ...rest } = resource;
      return { ...rest, metadata };
    });
    const list = {
      apiVersion: 'v1',
      kind: 'List',
      metadata: { annotations: { 'meshctl.io/snapshot-of': store.location, 'meshctl.io/snapshot-time': ctx.now().toISOString(), [SNAPSHOT_UNLISTED]: unlisted.join(',') } },
      items,
    };
    const { toYaml } = await import('../ui/present.js');
    const text = `# meshctl cluster snapshot of ${store.location}: ${items.length} objects. Use: meshctl analyze --snapshot FILE\n` + (await toYaml(list));
    return { data: list, text };
  },
});
