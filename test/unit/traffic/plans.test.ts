/**
 * Golden tests of the traffic plans: each case loads fixtures (Istio's Bookinfo configs and the
 * files in test/fixtures/traffic/inputs), runs one plan, and compares summary, warnings and the
 * objects after the plan with test/fixtures/traffic/golden/<case>.yaml, as parsed YAML.
 * Regenerate with UPDATE_GOLDEN=1 (then read the diff before committing it).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse, stringify } from 'yaml';
import type { Resource } from '../../../src/api/resource.js';
import { displayRef } from '../../../src/api/resource.js';
import { isMeshctlError } from '../../../src/core/errors.js';
import { planCanaryPromote, planCanaryRollback, planCanaryShift } from '../../../src/core/traffic/canary.js';
import { listFaults, planClearFaults, planInjectFault } from '../../../src/core/traffic/fault.js';
import type { Plan, Snapshot } from '../../../src/core/traffic/model.js';
import { loadSnapshot } from './snapshot.js';
import { planResilience } from '../../../src/core/traffic/resilience.js';
import { planHeaderRoute, planMirror } from '../../../src/core/traffic/routes.js';

const ROOT = join(import.meta.dirname, '../../..');
const GOLDEN = join(ROOT, 'test/fixtures/traffic/golden');
const NOW = new Date('2026-01-02T03:04:05.000Z');

const BOOKINFO = 'samples/bookinfo/bookinfo.yaml';
const NET = (f: string): string => `samples/bookinfo/networking/${f}.yaml`;
const INPUT = (f: string): string => `test/fixtures/traffic/inputs/${f}.yaml`;

interface Case {
  name: string;
  files: string[];
  namespace?: string;
  plan(s: Snapshot): Plan;
}

const CASES: Case[] = [
  // canary shift
  { name: 'shift-bookinfo-all-v1', files: [BOOKINFO, NET('destination-rule-all'), NET('virtual-service-all-v1')], plan: (s) => planCanaryShift({ snapshot: s, service: 'reviews', weight: 10, to: 'v2' }) },
  { name: 'shift-80-20-inferred', files: [BOOKINFO, NET('destination-rule-all'), NET('virtual-service-reviews-80-20')], plan: (s) => planCanaryShift({ snapshot: s, service: 'reviews', weight: 30 }) },
  { name: 'shift-keeps-header-route', files: [BOOKINFO, NET('destination-rule-all'), NET('virtual-service-reviews-jason-v2-v3')], plan: (s) => planCanaryShift({ snapshot: s, service: 'reviews', weight: 25, to: 'v1' }) },
  { name: 'shift-no-vs-no-dr', files: [BOOKINFO], plan: (s) => planCanaryShift({ snapshot: s, service: 'reviews', weight: 10, to: 'v2', from: 'v1' }) },
  { name: 'shift-two-versions-created', files: [INPUT('two-versions')], namespace: 'shop', plan: (s) => planCanaryShift({ snapshot: s, service: 'checkout', weight: 5 }) },
  { name: 'shift-several-hosts', files: [BOOKINFO, NET('destination-rule-reviews'), INPUT('several-hosts')], plan: (s) => planCanaryShift({ snapshot: s, service: 'reviews', weight: 40, to: 'v2' }) },
  { name: 'shift-to-100-percent', files: [BOOKINFO, NET('destination-rule-all'), NET('virtual-service-reviews-v3')], plan: (s) => planCanaryShift({ snapshot: s, service: 'reviews', weight: 100, to: 'v2' }) },
  { name: 'shift-gitops-forced', files: [INPUT('gitops')], namespace: 'shop', plan: (s) => planCanaryShift({ snapshot: s, service: 'cart', weight: 10, force: true }) },
  { name: 'shift-error-not-ready', files: [INPUT('gitops')], namespace: 'shop', plan: (s) => planCanaryShift({ snapshot: s, service: 'cart', weight: 10 }) },
  { name: 'shift-error-ambiguous', files: [BOOKINFO, NET('destination-rule-all'), NET('virtual-service-all-v1')], plan: (s) => planCanaryShift({ snapshot: s, service: 'reviews', weight: 10 }) },
  { name: 'shift-error-unknown-service', files: [BOOKINFO, NET('destination-rule-all')], plan: (s) => planCanaryShift({ snapshot: s, service: 'reveiws', weight: 10 }) },
  { name: 'shift-error-undefined-subset', files: [BOOKINFO, NET('destination-rule-all'), NET('virtual-service-all-v1')], plan: (s) => planCanaryShift({ snapshot: s, service: 'reviews', weight: 10, to: 'v4' }) },
  { name: 'shift-error-shared-default-route', files: [BOOKINFO, NET('destination-rule-all'), INPUT('shared-default')], plan: (s) => planCanaryShift({ snapshot: s, service: 'reviews', weight: 10, to: 'v2' }) },
  { name: 'shift-header-only-adds-default-route', files: [BOOKINFO, NET('destination-rule-all'), INPUT('header-only')], plan: (s) => planCanaryShift({ snapshot: s, service: 'reviews', weight: 10, to: 'v3', from: 'v1' }) },
  { name: 'route-mirror-warns-when-already-routed', files: [BOOKINFO, NET('destination-rule-all'), NET('virtual-service-reviews-80-20')], plan: (s) => planMirror({ snapshot: s, service: 'reviews', to: 'v2', percent: 100 }) },
  // services defined by ServiceEntry + WorkloadEntry (no Kubernetes Service)
  { name: 'se-shift-fqdn-creates-subsets', files: [INPUT('service-entry')], plan: (s) => planCanaryShift({ snapshot: s, service: 'reviews.example.internal', weight: 20 }) },
  { name: 'se-shift-short-name-healthy', files: [INPUT('service-entry')], plan: (s) => planCanaryShift({ snapshot: s, service: 'ratings', weight: 10, to: 'v1', from: 'v2' }) },
  { name: 'se-shift-error-unhealthy', files: [INPUT('service-entry')], plan: (s) => planCanaryShift({ snapshot: s, service: 'ratings', weight: 10 }) },
  { name: 'se-shift-error-one-version', files: [INPUT('service-entry')], plan: (s) => planCanaryShift({ snapshot: s, service: 'legacy.example.internal', weight: 10 }) },
  { name: 'se-error-short-name-suggests-host', files: [INPUT('service-entry')], plan: (s) => planCanaryShift({ snapshot: s, service: 'reviews', weight: 10 }) },
  { name: 'se-error-unknown-fqdn', files: [INPUT('service-entry')], plan: (s) => planCanaryShift({ snapshot: s, service: 'details.example.internal', weight: 10 }) },
  { name: 'se-promote-after-shift', files: [INPUT('service-entry'), INPUT('service-entry-split')], plan: (s) => planCanaryPromote({ snapshot: s, service: 'reviews.example.internal', now: NOW }) },
  { name: 'se-fault-creates-vs', files: [INPUT('service-entry')], plan: (s) => planInjectFault({ snapshot: s, service: 'reviews.example.internal', abortStatus: 503, percent: 50, now: NOW }) },
  { name: 'se-route-header', files: [INPUT('service-entry'), INPUT('service-entry-split')], plan: (s) => planHeaderRoute({ snapshot: s, service: 'reviews.example.internal', header: { name: 'end-user', value: 'jason' }, to: 'v2' }) },
  { name: 'se-route-mirror', files: [INPUT('service-entry'), INPUT('service-entry-split')], plan: (s) => planMirror({ snapshot: s, service: 'reviews.example.internal', to: 'v2', percent: 10 }) },
  { name: 'se-resilience-creates-dr', files: [INPUT('service-entry')], plan: (s) => planResilience({ snapshot: s, service: 'ratings', timeoutMs: 1500, maxConnections: 10 }) },
  // promote / rollback
  { name: 'promote-80-20', files: [BOOKINFO, NET('destination-rule-all'), NET('virtual-service-reviews-80-20')], plan: (s) => planCanaryPromote({ snapshot: s, service: 'reviews' }) },
  { name: 'rollback-80-20', files: [BOOKINFO, NET('destination-rule-all'), NET('virtual-service-reviews-80-20')], plan: (s) => planCanaryRollback({ snapshot: s, service: 'reviews' }) },
  { name: 'rollback-error-no-canary', files: [BOOKINFO, NET('destination-rule-all'), NET('virtual-service-all-v1')], plan: (s) => planCanaryRollback({ snapshot: s, service: 'reviews' }) },
  { name: 'rollback-from-after-promote', files: [BOOKINFO, NET('destination-rule-all'), NET('virtual-service-reviews-v3')], plan: (s) => planCanaryRollback({ snapshot: s, service: 'reviews', from: 'v1' }) },
  { name: 'promote-error-no-canary', files: [BOOKINFO, NET('destination-rule-all'), NET('virtual-service-reviews-v3')], plan: (s) => planCanaryPromote({ snapshot: s, service: 'reviews' }) },
  // inject fault
  { name: 'fault-abort-no-vs', files: [BOOKINFO, NET('destination-rule-all')], plan: (s) => planInjectFault({ snapshot: s, service: 'ratings', abortStatus: 503, percent: 50, now: NOW }) },
  { name: 'fault-delay-same-match-as-header-route', files: [BOOKINFO, NET('destination-rule-all'), NET('virtual-service-reviews-jason-v2-v3')], plan: (s) => planInjectFault({ snapshot: s, service: 'reviews', delayMs: 5000, percent: 10, header: { name: 'end-user', value: 'jason' }, now: NOW }) },
  { name: 'fault-subset-source-duration', files: [BOOKINFO, NET('destination-rule-all'), NET('virtual-service-all-v1')], plan: (s) => planInjectFault({ snapshot: s, service: 'reviews', abortStatus: 500, delayMs: 250, percent: 2.5, subset: 'v2', sourceLabels: { app: 'productpage' }, durationMs: 600_000, now: NOW }) },
  { name: 'fault-error-undefined-subset', files: [BOOKINFO, NET('destination-rule-all')], plan: (s) => planInjectFault({ snapshot: s, service: 'ratings', abortStatus: 503, percent: 50, subset: 'v7', now: NOW }) },
  { name: 'fault-clear-keeps-foreign-faults', files: [BOOKINFO, INPUT('faulted')], plan: (s) => planClearFaults({ snapshot: s, service: 'ratings' }) },
  // routes
  { name: 'route-header-bookinfo', files: [BOOKINFO, NET('destination-rule-all'), NET('virtual-service-reviews-jason-v2-v3')], plan: (s) => planHeaderRoute({ snapshot: s, service: 'reviews', header: { name: 'end-user', value: 'alice' }, to: 'v1' }) },
  { name: 'route-header-update-existing', files: [BOOKINFO, NET('destination-rule-all'), NET('virtual-service-reviews-jason-v2-v3')], plan: (s) => planHeaderRoute({ snapshot: s, service: 'reviews', header: { name: 'end-user', value: 'jason' }, to: 'v3' }) },
  { name: 'route-cookie-no-vs', files: [BOOKINFO, NET('destination-rule-all')], plan: (s) => planHeaderRoute({ snapshot: s, service: 'reviews', cookie: { name: 'user', value: 'tester' }, to: 'v3' }) },
  { name: 'route-header-clear', files: [BOOKINFO, NET('destination-rule-all'), NET('virtual-service-reviews-jason-v2-v3')], plan: (s) => planHeaderRoute({ snapshot: s, service: 'reviews', header: { name: 'end-user', value: 'jason' }, clear: true }) },
  { name: 'route-mirror-several-hosts', files: [BOOKINFO, NET('destination-rule-reviews'), INPUT('several-hosts')], plan: (s) => planMirror({ snapshot: s, service: 'reviews', to: 'v2', percent: 20 }) },
  // resilience
  { name: 'resilience-all-settings', files: [BOOKINFO, NET('destination-rule-reviews'), NET('virtual-service-reviews-jason-v2-v3')], plan: (s) => planResilience({ snapshot: s, service: 'reviews', timeoutMs: 2000, retries: 3, perTryTimeoutMs: 500, retryOn: '5xx,reset', maxConnections: 100, maxPending: 10, consecutive5xx: 5, ejectionTimeMs: 30_000, maxEjectionPercent: 50 }) },
  { name: 'resilience-no-dr', files: [BOOKINFO], plan: (s) => planResilience({ snapshot: s, service: 'details', maxConnections: 10 }) },
  { name: 'resilience-other-host-untouched', files: [BOOKINFO, INPUT('shared-default')], plan: (s) => planResilience({ snapshot: s, service: 'reviews', timeoutMs: 1500 }) },
];

function outcome(c: Case): unknown {
  const snapshot = loadSnapshot(c.files, c.namespace);
  try {
    const plan = c.plan(snapshot);
    return {
      summary: plan.summary,
      warnings: plan.warnings,
      changes: plan.changes.map((ch) => ({
        object: displayRef(ch.ref),
        action: !ch.before ? 'create' : JSON.stringify(ch.before) === JSON.stringify(ch.after) ? 'unchanged' : 'update',
        after: ch.after ?? null,
      })),
    };
  } catch (err) {
    if (!isMeshctlError(err)) throw err;
    return { error: { type: err.name, exitCode: err.exitCode, message: err.message, hint: err.hint ?? null } };
  }
}

describe('traffic plans (golden)', () => {
  for (const c of CASES) {
    test(c.name, () => {
      const got = outcome(c);
      const file = join(GOLDEN, `${c.name}.yaml`);
      if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
        if (process.env.UPDATE_GOLDEN !== '1') throw new Error(`no golden file ${file}: run with UPDATE_GOLDEN=1`);
        mkdirSync(GOLDEN, { recursive: true });
        writeFileSync(file, `# golden: ${c.name} (${c.files.join(', ')})\n` + stringify(got, { lineWidth: 0 }));
      }
      expect(got).toEqual(parse(readFileSync(file, 'utf8')));
    });
  }
});

describe('plans are functions of the current object', () => {
  test('re-running a shift on its own result changes nothing (idempotent)', () => {
    const s = loadSnapshot([BOOKINFO, NET('destination-rule-all'), NET('virtual-service-all-v1')]);
    const plan = planCanaryShift({ snapshot: s, service: 'reviews', weight: 10, to: 'v2' });
    const edit = plan.edits[0]!;
    const once = edit.mutate(structuredClone(s.virtualServices.find((v) => v.metadata.name === 'reviews')));
    const twice = edit.mutate(structuredClone(once));
    expect(twice).toEqual(once);
  });

  test('a shift re-run on fresh data keeps a header route added in between', () => {
    const s = loadSnapshot([BOOKINFO, NET('destination-rule-all'), NET('virtual-service-all-v1')]);
    const shift = planCanaryShift({ snapshot: s, service: 'reviews', weight: 10, to: 'v2' }).edits[0]!;
    const header = planHeaderRoute({ snapshot: s, service: 'reviews', header: { name: 'end-user', value: 'jason' }, to: 'v3' }).edits[0]!;
    const stored = structuredClone(s.virtualServices.find((v) => v.metadata.name === 'reviews'));
    const fresh = header.mutate(stored); // another writer won the race
    const merged = shift.mutate(structuredClone(fresh)) as Resource;
    const http = (merged.spec as { http: { match?: unknown; route: { destination: { subset: string }; weight?: number }[] }[] }).http;
    expect(http).toHaveLength(2);
    expect(http[0]?.route[0]?.destination.subset).toBe('v3');
    expect(http[1]?.route.map((r) => [r.destination.subset, r.weight])).toEqual([['v1', 90], ['v2', 10]]);
  });

  test('a fault rule follows a later canary shift instead of pinning the old weights', () => {
    const s = loadSnapshot([BOOKINFO, NET('destination-rule-all'), NET('virtual-service-all-v1')]);
    const fault = planInjectFault({ snapshot: s, service: 'reviews', abortStatus: 503, percent: 50, now: NOW }).edits[0]!;
    const withFault = fault.mutate(structuredClone(s.virtualServices.find((v) => v.metadata.name === 'reviews'))) as Resource;
    const s2 = { ...s, virtualServices: s.virtualServices.map((v) => (v.metadata.name === 'reviews' ? withFault : v)) };
    const shifted = planCanaryShift({ snapshot: s2, service: 'reviews', weight: 20, to: 'v2' }).changes[0]?.after as Resource;
    const http = (shifted.spec as { http: { name?: string; route: { weight?: number }[] }[] }).http;
    expect(http[0]?.name).toMatch(/^meshctl-fault-/);
    expect(http[0]?.route.map((r) => r.weight)).toEqual([80, 20]);
    expect(http[1]?.route.map((r) => r.weight)).toEqual([80, 20]);
  });
});

describe('inject fault --list', () => {
  test('lists meshctl and foreign faults, marking expired ones', () => {
    const s = loadSnapshot([BOOKINFO, INPUT('faulted'), NET('fault-injection-details-v1')]);
    const rows = listFaults(s.virtualServices, NOW);
    expect(rows.map((r) => [r.virtualService, r.route, r.fault, r.match, r.owner, r.expires, r.state])).toEqual([
      ['ratings', 'meshctl-fault-00000001', 'abort 503 50%', '*', 'meshctl', '2026-01-02T03:00:00.000Z', 'expired'],
      ['ratings', 'meshctl-fault-00000002', 'delay 2s 100%', 'header:end-user=jason', 'meshctl', '2026-01-02T04:00:00.000Z', 'active'],
      ['ratings', 'hand-written', 'delay 7s 100%', 'header:end-user=jason', 'other', null, 'active'],
      ['details', '#0', 'abort 555 100%', '*', 'other', null, 'active'],
    ]);
  });
});
