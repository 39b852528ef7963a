import type { Analyzer } from '../types.js';
import { arr, obj, objs, specOf } from '../util.js';

/**
 * New in meshctl: AuthorizationPolicy sources naming a namespace or service account that does not
 * exist never match, so an ALLOW rule silently lets nobody in (or a DENY rule protects nothing).
 */
export const authorizationReferences: Analyzer = {
  name: 'authorizationpolicy.references',
  codes: ['MSH0402'],
  description: 'AuthorizationPolicy namespaces and principals name namespaces and service accounts that exist',
  inputs: ['AuthorizationPolicy', 'Namespace', 'ServiceAccount'],
  analyze(ctx, report) {
    const namespaces = new Set(ctx.of('Namespace').map((n) => n.resource.metadata.name));
    const accounts = new Set(ctx.of('ServiceAccount').map((s) => `${ctx.ns(s.resource)}/${s.resource.metadata.name}`));
    const nsKnown = ctx.knows('Namespace');
    for (const ap of ctx.of('AuthorizationPolicy')) {
      for (const [rule, i] of objs(specOf(ap.resource).rules)) {
        for (const [from, j] of objs(rule.from)) {
          const source = obj(from.source);
          if (!source) continue;
          const base = ['spec', 'rules', i, 'from', j, 'source'];
          for (const key of ['namespaces', 'notNamespaces']) {
            arr(source[key]).forEach((ns, k) => {
              if (typeof ns !== 'string' || ns.includes('*')) return;
              if (!nsKnown) return report.skip('no Namespace objects in the input, so AuthorizationPolicy namespaces are not checked');
              if (!namespaces.has(ns)) report.report('MSH0402', ap, [...base, key, k], 'namespace', ns);
            });
          }
          for (const key of ['principals', 'notPrincipals']) {
            arr(source[key]).forEach((p, k) => {
              if (typeof p !== 'string' || p.includes('*')) return;
              const m = /^[^/]+\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(p);
              if (!m) return;
              const [, ns, sa] = m as unknown as [string, string, string];
              if (nsKnown && !namespaces.has(ns)) report.report('MSH0402', ap, [...base, key, k], 'namespace', ns);
              else if (ctx.knows('ServiceAccount', ns) && !accounts.has(`${ns}/${sa}`)) report.report('MSH0402', ap, [...base, key, k], 'service account', `${ns}/${sa}`);
              else if (!ctx.knows('ServiceAccount', ns)) report.skip(`no ServiceAccounts for namespace ${ns} in the input, so principals there are not checked`);
            });
          }
        }
      }
    }
  },
};
