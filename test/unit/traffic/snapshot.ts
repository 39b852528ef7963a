/** Loads traffic-plan snapshots from YAML files (Bookinfo samples and test/fixtures/traffic/inputs). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Resource } from '../../../src/api/resource.js';
import type { Snapshot } from '../../../src/core/traffic/model.js';

const ROOT = join(import.meta.dirname, '../../..');

export function loadSnapshot(files: readonly string[], namespace = 'default'): Snapshot {
  const all: Resource[] = [];
  for (const f of files) {
    for (const doc of parseAllDocuments(readFileSync(join(ROOT, f), 'utf8'))) {
      const r = doc.toJS() as Resource | null;
      if (!r?.kind) continue;
      r.metadata.namespace ??= 'default';
      all.push(r);
    }
  }
  const of = (kind: string): Resource[] => all.filter((r) => r.kind === kind && r.metadata.namespace === namespace);
  return {
    namespace,
    services: of('Service'),
    virtualServices: of('VirtualService'),
    destinationRules: of('DestinationRule'),
    deployments: of('Deployment'),
    pods: of('Pod'),
    serviceEntries: of('ServiceEntry'),
    workloadEntries: of('WorkloadEntry'),
  };
}
