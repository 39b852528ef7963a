import type { Analyzer } from '../types.js';
import { arr, obj, objs, specOf } from '../util.js';

/**
 * New in meshctl: policies that deny everything by accident. `spec: {}` (ALLOW with no rules) is
 * Istio's documented deny-all idiom and is left alone; what is reported is a DENY rule that matches
 * every request (an empty rule), and an ALLOW policy whose `rules:` is present but empty.
 */
export const authorizationDenyAll: Analyzer = {
  name: 'authorizationpolicy.deny-all',
  codes: ['MSH0403'],
  description: 'AuthorizationPolicies do not deny every request by accident',
  inputs: ['AuthorizationPolicy'],
  analyze(ctx, report) {
    for (const ap of ctx.of('AuthorizationPolicy')) {
      const spec = specOf(ap.resource);
      const action = typeof spec.action === 'string' ? spec.action : 'ALLOW';
      if (action === 'DENY') {
        for (const [rule, i] of objs(spec.rules)) {
          const empty = ['from', 'to', 'when'].every((k) => arr(rule[k]).length === 0 || arr(rule[k]).every((x) => isEmpty(x)));
          if (empty) report.report('MSH0403', ap, ['spec', 'rules', i], `${ap.resource.metadata.name} (DENY rule ${i} has no conditions, so it matches every request)`);
        }
      } else if (action === 'ALLOW' && Array.isArray(spec.rules) && spec.rules.length === 0) {
        report.report('MSH0403', ap, ['spec', 'rules'], `${ap.resource.metadata.name} (ALLOW with an empty rules list allows nothing; write spec: {} if deny-all is meant)`);
      }
    }
  },
};

function isEmpty(x: unknown): boolean {
  const o = obj(x);
  if (!o) return false;
  return Object.values(o).every((v) => v === null || (obj(v) !== undefined && Object.keys(obj(v) ?? {}).length === 0));
}
