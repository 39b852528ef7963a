import type { Analyzer } from '../types.js';
import { closest } from '../../errors.js';
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
    // Files never hold every namespace (istio-system, monitoring live elsewhere): there, a namespace
    // exists if the input puts objects in it, and an unknown one is reported only when it is a
    // near miss of a known one (a typo), with the likely name; anything else is skipped.
    if (ctx.origin === 'files') for (const ns of ctx.inputNamespaces()) namespaces.add(ns);
    const accounts = new Set(ctx.of('ServiceAccount').map((s) => `${ctx.ns(s.resource)}/${s.resource.metadata.name}`));
    /** "ok" when the namespace exists, a hint (maybe empty) to report with, or undefined to skip. */
    const unknownNamespace = (ns: string): { hint: string } | undefined | 'ok' => {
      if (namespaces.has(ns)) return 'ok';
      const near = closest(ns, namespaces);
      const hint = near ? ` Did you mean "${near}"?` : '';
      if (ctx.origin === 'cluster') return ctx.knows('Namespace') ? { hint } : undefined;
      return near ? { hint } : undefined;
    };
    const skipNs = (ns: string) => report.skip(`namespace ${ns} is not in the input, so references to it are not checked`);
    for (const ap of ctx.of('AuthorizationPolicy')) {
      for (const [rule, i] of objs(specOf(ap.resource).rules)) {
        for (const [from, j] of objs(rule.from)) {
          const source = obj(from.source);
          if (!source) continue;
          const base = ['spec', 'rules', i, 'from', j, 'source'];
          for (const key of ['namespaces', 'notNamespaces']) {
            arr(source[key]).forEach((ns, k) => {
              if (typeof ns !== 'string' || ns.includes('*')) return;
              const u = unknownNamespace(ns);
              if (u === undefined) skipNs(ns);
              else if (u !== 'ok') report.report('MSH0402', ap, [...base, key, k], 'namespace', ns, u.hint);
            });
          }
          for (const key of ['principals', 'notPrincipals']) {
            arr(source[key]).forEach((p, k) => {
              if (typeof p !== 'string' || p.includes('*')) return;
              const m = /^[^/]+\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(p);
              if (!m) return;
              const [, ns, sa] = m as unknown as [string, string, string];
              const u = unknownNamespace(ns);
              if (u === undefined) skipNs(ns);
              else if (u !== 'ok') report.report('MSH0402', ap, [...base, key, k], 'namespace', ns, u.hint);
              else if (!ctx.knows('ServiceAccount', ns)) report.skip(`no ServiceAccounts for namespace ${ns} in the input, so principals there are not checked`);
              else if (!accounts.has(`${ns}/${sa}`)) {
                const near = closest(sa, [...accounts].filter((a) => a.startsWith(`${ns}/`)).map((a) => a.slice(ns.length + 1)));
                report.report('MSH0402', ap, [...base, key, k], 'service account', `${ns}/${sa}`, near ? ` Did you mean "${ns}/${near}"?` : '');
              }
            });
          }
        }
      }
    }
  },
};
