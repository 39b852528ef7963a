import type { Analyzer } from '../types.js';
import { ROOT_NAMESPACE } from '../context.js';
import { arr, obj, objs, specOf } from '../util.js';

/**
 * JWT claims are only known after a RequestAuthentication validated the token: routing on
 * `@request.auth.claims.*` (istioctl IST0149) or authorizing on request principals / `request.auth.*`
 * conditions (MSH0404) without one never matches.
 */
export const jwtRequestAuthentication: Analyzer = {
  name: 'security.jwt-without-request-authentication',
  codes: ['IST0149', 'MSH0404'],
  description: 'JWT claim routing and JWT authorization rules have a RequestAuthentication',
  inputs: ['AuthorizationPolicy', 'RequestAuthentication', 'VirtualService'],
  analyze(ctx, report) {
    const raNamespaces = new Set(ctx.of('RequestAuthentication').map((ra) => ctx.ns(ra.resource)));
    const covered = (ns: string) => raNamespaces.has(ns) || raNamespaces.has(ROOT_NAMESPACE);
    const known = () => {
      if (ctx.knows('RequestAuthentication')) return true;
      report.skip('no RequestAuthentications in the input, so JWT rules are not checked against them');
      return false;
    };
    for (const vs of ctx.of('VirtualService')) {
      const ns = ctx.ns(vs.resource);
      for (const [rule, i] of objs(specOf(vs.resource).http)) {
        for (const [m, j] of objs(rule.match)) {
          for (const key of [...Object.keys(obj(m.headers) ?? {}), ...Object.keys(obj(m.withoutHeaders) ?? {})]) {
            if (!key.startsWith('@request.auth.claims')) continue;
            if (covered(ns) || !known()) continue;
            const field = obj(m.headers)?.[key] !== undefined ? 'headers' : 'withoutHeaders';
            report.report('IST0149', vs, ['spec', 'http', i, 'match', j, field, key], key, ns);
          }
        }
      }
    }
    for (const ap of ctx.of('AuthorizationPolicy')) {
      const ns = ctx.ns(ap.resource);
      if (covered(ns)) continue;
      for (const [rule, i] of objs(specOf(ap.resource).rules)) {
        for (const [from, j] of objs(rule.from)) {
          const source = obj(from.source);
          for (const key of ['requestPrincipals', 'notRequestPrincipals']) {
            if (arr(source?.[key]).length && known()) report.report('MSH0404', ap, ['spec', 'rules', i, 'from', j, 'source', key], key, ns);
          }
        }
        for (const [cond, k] of objs(rule.when)) {
          if (typeof cond.key === 'string' && cond.key.startsWith('request.auth.') && known()) report.report('MSH0404', ap, ['spec', 'rules', i, 'when', k, 'key'], `condition ${cond.key}`, ns);
        }
      }
    }
  },
};
