import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { Resource } from '../../../src/api/resource.js';
import { compileSnapshot } from '../../../src/core/compile/index.js';

// Golden snapshots: add a case by adding an entry; regenerate with UPDATE_GOLDEN=1 and review the diff.
const root = new URL('../../../samples/bookinfo/', import.meta.url);
const load = (path: string): Resource[] =>
  parseAllDocuments(readFileSync(new URL(path, root), 'utf8'))
    .map((d) => d.toJS() as Resource | null)
    .filter((r): r is Resource => !!r && typeof r.kind === 'string')
    .map((r) => ({ ...r, metadata: { ...r.metadata, namespace: r.metadata.namespace ?? 'default' } }));

const pods: Resource[] = [
  ['productpage', 'v1', '10.0.0.10'],
  ['details', 'v1', '10.0.0.11'],
  ['reviews', 'v1', '10.0.0.12'],
  ['reviews', 'v2', '10.0.0.13'],
  ['reviews', 'v3', '10.0.0.14'],
  ['ratings', 'v1', '10.0.0.15'],
].map(([app, version, ip]) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: `${app}-${version}-pod`, namespace: 'default', labels: { app: app!, version: version! }, ownerReferences: [{ kind: 'ReplicaSet', name: `${app}-${version}-5c4d7f9b8d` }] },
  status: { podIP: ip },
}));

const cases: Record<string, { files: string[]; workload: string }> = {
  'bookinfo-productpage-jason-v2-v3': {
    files: ['bookinfo.yaml', 'networking/destination-rule-all.yaml', 'networking/virtual-service-reviews-jason-v2-v3.yaml', 'networking/virtual-service-ratings-test-abort.yaml'],
    workload: 'productpage-v1-pod',
  },
  'bookinfo-reviews-80-20': {
    files: ['bookinfo.yaml', 'networking/destination-rule-reviews.yaml', 'networking/virtual-service-reviews-80-20.yaml'],
    workload: 'reviews-v2-pod',
  },
};

for (const [name, c] of Object.entries(cases)) {
  it(`golden snapshot: ${name}`, () => {
    const resources = [...c.files.flatMap(load).filter((r) => r.kind !== 'Deployment' && r.kind !== 'ServiceAccount'), ...pods];
    const snapshot = compileSnapshot(resources, { workload: c.workload, namespace: 'default' });
    const file = new URL(`./golden/${name}.json`, import.meta.url);
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) writeFileSync(file, JSON.stringify(snapshot, null, 2) + '\n');
    expect(snapshot).toEqual(JSON.parse(readFileSync(file, 'utf8')));
  });
}
