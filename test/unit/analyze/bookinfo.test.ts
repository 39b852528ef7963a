import { readdirSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { meshctl } from '../../helpers/run-meshctl.js';

/**
 * Istio's Bookinfo, used the way Istio's docs use it: each networking file applied on top of
 * bookinfo.yaml and destination-rule-all.yaml (several files are alternative VirtualServices for
 * the same host, so they are never analyzed all together). Correct configs must be clean; the few
 * that Istio ships to demonstrate a problem, or that need workloads bookinfo.yaml does not deploy,
 * must report exactly that.
 */
const NET = 'samples/bookinfo/networking';
const expected: Record<string, string[]> = {
  // A 100% abort on a rule without match, and the rule after it can never be reached; its
  // DestinationRule details (v1 only) replaces destination-rule-all.yaml's.
  'fault-injection-details-v1.yaml': ['IST0130 VirtualService details', 'MSH0206 VirtualService details', 'MSH0001 DestinationRule details'],
  // Alternatives to destination-rule-all.yaml: given together, the later file's definitions win (a Warning says so).
  'destination-rule-all-mtls.yaml': ['MSH0001 DestinationRule details', 'MSH0001 DestinationRule productpage', 'MSH0001 DestinationRule ratings', 'MSH0001 DestinationRule reviews'],
  'destination-rule-reviews.yaml': ['MSH0001 DestinationRule reviews'],
  // These route to ratings v2 / details v2 / mysql variants, deployed by other Bookinfo manifests.
  'virtual-service-details-v2.yaml': ['MSH0101 DestinationRule details'],
  'virtual-service-ratings-db.yaml': ['MSH0101 DestinationRule ratings'],
  'virtual-service-ratings-mysql.yaml': ['MSH0101 DestinationRule ratings'],
  'virtual-service-ratings-mysql-vm.yaml': ['MSH0101 DestinationRule ratings'],
};

describe('bookinfo', () => {
  const files = readdirSync(NET).filter((f) => f.endsWith('.yaml'));
  for (const f of files) {
    test(f, async () => {
      const r = await meshctl(['analyze', '-o', 'json', 'samples/bookinfo/bookinfo.yaml', `${NET}/destination-rule-all.yaml`, `${NET}/${f}`]);
      const report = JSON.parse(r.stdout) as { messages: { code: string; resource: { kind: string; name: string } }[] };
      const got = [...new Set(report.messages.map((m) => `${m.code} ${m.resource.kind} ${m.resource.name}`))].sort();
      expect(got).toEqual((expected[f] ?? []).sort());
      // Warnings never fail the default (Error) threshold.
      expect(r.exitCode).toBe(0);
    });
  }

  test('bookinfo.yaml alone is clean', async () => {
    const r = await meshctl('analyze samples/bookinfo/bookinfo.yaml');
    expect(r.stdout).toContain('No validation issues found');
    expect(r.exitCode).toBe(0);
  });
});
