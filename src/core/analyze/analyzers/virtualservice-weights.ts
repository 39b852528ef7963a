import type { Analyzer } from '../types.js';
import { objs, specOf } from '../util.js';

/** Route weights of a rule with several destinations add up to 100 (Istio's validation rule). */
export const virtualServiceWeights: Analyzer = {
  name: 'virtualservice.weights',
  codes: ['MSH0201'],
  description: 'Weights of a route with several destinations add up to 100',
  inputs: ['VirtualService'],
  analyze(ctx, report) {
    for (const vs of ctx.of('VirtualService')) {
      const spec = specOf(vs.resource);
      for (const section of ['http', 'tcp', 'tls'] as const) {
        for (const [rule, i] of objs(spec[section])) {
          const routes = objs(rule.route);
          if (routes.length < 2) continue;
          // A missing weight counts as 0, as Istio counts it; a non-number is the schema family's to report.
          if (routes.some(([r]) => r.weight !== undefined && typeof r.weight !== 'number')) continue;
          const sum = routes.reduce((acc, [r]) => acc + (typeof r.weight === 'number' ? r.weight : 0), 0);
          if (sum !== 100) report.report('MSH0201', vs, ['spec', section, i, 'route'], sum);
        }
      }
    }
  },
};
