import type { Analyzer } from '../types.js';
import { arr, num, obj, objs, specOf } from '../util.js';

/** New in meshctl: a 100% fault on a rule without match hits every request to the host. */
export const virtualServiceFault: Analyzer = {
  name: 'virtualservice.fault-everything',
  codes: ['MSH0206'],
  description: 'Faults at 100% are limited by a match',
  inputs: ['VirtualService'],
  analyze(ctx, report) {
    for (const vs of ctx.of('VirtualService')) {
      for (const [rule, i] of objs(specOf(vs.resource).http)) {
        const fault = obj(rule.fault);
        if (!fault || arr(rule.match).length > 0) continue;
        for (const kind of ['abort', 'delay'] as const) {
          const f = obj(fault[kind]);
          if (!f) continue;
          const pct = num(obj(f.percentage)?.value) ?? num(f.percent);
          if (pct !== undefined && pct >= 100) report.report('MSH0206', vs, ['spec', 'http', i, 'fault', kind], kind, `http[${i}]`, pct);
        }
      }
    }
  },
};
