import type { Analyzer } from '../types.js';
import { obj, objs, specOf, str, strings } from '../util.js';

/**
 * Delegation references: a rule's `delegate` names a VirtualService that exists and has no hosts
 * (a delegate with hosts is a root of its own and is ignored as a delegate by Istio).
 */
export const virtualServiceDelegates: Analyzer = {
  name: 'virtualservice.delegates',
  codes: ['IST0101'],
  description: 'VirtualService delegates exist and are hostless',
  inputs: ['VirtualService'],
  analyze(ctx, report) {
    const byName = new Map(ctx.of('VirtualService').map((vs) => [`${ctx.ns(vs.resource)}/${vs.resource.metadata.name}`, vs]));
    for (const vs of ctx.of('VirtualService')) {
      for (const [rule, i] of objs(specOf(vs.resource).http)) {
        const d = obj(rule.delegate);
        const name = str(d?.name);
        if (!name) continue;
        const ns = str(d?.namespace) || ctx.ns(vs.resource);
        const target = byName.get(`${ns}/${name}`);
        if (!target) {
          if (ctx.knows('VirtualService', ns)) report.report('IST0101', vs, ['spec', 'http', i, 'delegate', 'name'], 'delegate VirtualService', `${name}.${ns}`);
          else report.skip(`VirtualServices of namespace ${ns} are not in the input, so delegates there are not checked`);
        } else if (strings(specOf(target.resource).hosts).length > 0) {
          report.report('IST0101', vs, ['spec', 'http', i, 'delegate', 'name'], 'delegate VirtualService (without hosts)', `${name}.${ns}`);
        }
      }
    }
  },
};
