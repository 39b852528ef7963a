/**
 * The traffic commands and the compiler read a ServiceEntry the same way (src/api/service-entry.ts):
 * the subsets `canary shift` creates for a ServiceEntry host select, in the compiled proxy config,
 * exactly the WorkloadEntries the plan saw for each version.
 */
import { describe, expect, test } from 'vitest';
import type { Resource } from '../../../src/api/resource.js';
import { compileSnapshot } from '../../../src/core/compile/compile.js';
import { planCanaryShift } from '../../../src/core/traffic/canary.js';
import { resolveTarget, workloadsOf } from '../../../src/core/traffic/model.js';
import { loadSnapshot } from './snapshot.js';

const FILES = ['test/fixtures/traffic/inputs/service-entry.yaml'];

function everything(): Resource[] {
  const all = loadSnapshot(FILES, 'default');
  const other = loadSnapshot(FILES, 'other');
  return [...(all.serviceEntries ?? []), ...(all.workloadEntries ?? []), ...(other.workloadEntries ?? [])];
}

describe('ServiceEntry-defined services: plan and compiler agree', () => {
  for (const [service, to, from] of [['reviews.example.internal', undefined, undefined], ['ratings', 'v1', 'v2']] as const) {
    test(`${service}: each created subset compiles to the WorkloadEntries of its version`, () => {
      const snapshot = loadSnapshot(FILES, 'default');
      const plan = planCanaryShift({ snapshot, service, weight: 30, to, from, force: true });
      const written = plan.changes.flatMap((c) => (c.after ? [c.after] : []));
      expect(written.map((r) => r.kind).sort()).toEqual(['DestinationRule', 'VirtualService']);

      const compiled = compileSnapshot([...everything(), ...written], { workload: 'client', namespace: 'default' });
      const target = resolveTarget(snapshot, service);
      for (const subset of ['v1', 'v2']) {
        const cluster = compiled.clusters.find((c) => c.direction === 'outbound' && c.service === target.host && c.subset === subset);
        expect(cluster, `cluster for ${target.host} subset ${subset}`).toBeDefined();
        const expected = workloadsOf(snapshot, target).filter((w) => w.labels.version === subset).map((w) => w.name);
        expect(cluster?.endpoints.map((e) => e.workload)).toEqual(expected);
        expect(expected.length).toBe(1);
      }
    });
  }

  test('a WorkloadEntry in another namespace is selected by neither', () => {
    const snapshot = loadSnapshot(FILES, 'default');
    const target = resolveTarget(snapshot, 'reviews.example.internal');
    expect(workloadsOf({ ...snapshot, workloadEntries: everything().filter((r) => r.kind === 'WorkloadEntry') }, target).map((w) => w.name)).toEqual(['reviews-v1', 'reviews-v2']);
    const compiled = compileSnapshot(everything(), { workload: 'client', namespace: 'default' });
    const all = compiled.clusters.find((c) => c.service === 'reviews.example.internal' && c.subset === '');
    expect(all?.endpoints.map((e) => e.workload).sort()).toEqual(['reviews-v1', 'reviews-v2']);
  });
});
