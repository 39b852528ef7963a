import type { Analyzer } from '../types.js';
import { num, obj, objs, parseDuration, specOf } from '../util.js';

/** New in meshctl: retries that can never run because one try uses up the whole route timeout. */
export const virtualServiceRetries: Analyzer = {
  name: 'virtualservice.retry-budget',
  codes: ['MSH0204'],
  description: 'Retries have room within the route timeout (perTryTimeout < timeout)',
  inputs: ['VirtualService'],
  analyze(ctx, report) {
    for (const vs of ctx.of('VirtualService')) {
      for (const [rule, i] of objs(specOf(vs.resource).http)) {
        const retries = obj(rule.retries);
        if (!retries || typeof rule.timeout !== 'string' || typeof retries.perTryTimeout !== 'string') continue;
        if ((num(retries.attempts) ?? 1) <= 0) continue;
        const timeout = parseDuration(rule.timeout);
        const perTry = parseDuration(retries.perTryTimeout);
        if ('error' in timeout || 'error' in perTry || timeout.ms === 0) continue; // bad values are MSH0202's; 0s means no timeout
        if (perTry.ms >= timeout.ms) report.report('MSH0204', vs, ['spec', 'http', i, 'retries', 'perTryTimeout'], retries.perTryTimeout, rule.timeout);
      }
    }
  },
};
