import type { Analyzer } from '../types.js';
import { formatLabels, obj, selects, specOf, stringMap } from '../util.js';

/** Where each kind keeps its workload selector, and the labels inside it. */
const SELECTORS: readonly [kind: string, field: string, labelsKey: string][] = [
  ['AuthorizationPolicy', 'selector', 'matchLabels'],
  ['PeerAuthentication', 'selector', 'matchLabels'],
  ['RequestAuthentication', 'selector', 'matchLabels'],
  ['Sidecar', 'workloadSelector', 'labels'],
];

/**
 * istioctl's NoMatchingWorkloadsFound: a policy whose selector picks no pod protects nothing (often
 * a typo in a label). Only a cluster (or a snapshot of one) lists every pod; files usually hold a
 * few Deployments of a namespace, so there the check is skipped rather than guessed.
 */
export const selectorWorkloads: Analyzer = {
  name: 'selector.no-workloads',
  codes: ['IST0127'],
  description: 'Policy selectors (AuthorizationPolicy, PeerAuthentication, RequestAuthentication, Sidecar) match some workload',
  inputs: ['AuthorizationPolicy', 'PeerAuthentication', 'Pod', 'RequestAuthentication', 'Sidecar'],
  analyze(ctx, report) {
    for (const [kind, field, key] of SELECTORS) {
      for (const r of ctx.of(kind)) {
        const labels = stringMap(obj(specOf(r.resource)[field])?.[key]);
        if (!Object.keys(labels).length) continue;
        if (ctx.origin !== 'cluster' || !ctx.knows('Pod')) {
          report.skip('policy selectors are only checked against a cluster or a snapshot (files rarely hold every pod)');
          continue;
        }
        const ns = ctx.ns(r.resource);
        // A selector in the root namespace applies mesh-wide.
        const pool = ns === 'istio-system' ? ctx.allWorkloads() : ctx.workloadsIn(ns);
        if (!pool.some((w) => w.isPod && selects(labels, w.labels))) report.report('IST0127', r, [`spec`, field, key], formatLabels(labels));
      }
    }
  },
};
