import { Chalk } from 'chalk';
import type { ResourceRef } from '../api/resource.js';
import { displayRef } from '../api/resource.js';
import type { Explanation } from '../core/analyze/explain.js';
import { formatLabels } from '../core/analyze/util.js';

/** The lines `meshctl explain` prints, label then value; used for both the view and the diff. */
export function explanationLines(e: Explanation): [string, string][] {
  const ref = (r: ResourceRef | undefined) => (r ? displayRef(r) : 'none');
  const headers = Object.entries(e.request.headers).map(([k, v]) => `${k}=${v}`).join(' ');
  const rows: [string, string][] = [
    ['Request', `${e.request.method} ${e.request.host}${e.request.path}${headers ? `  [${headers}]` : ''}  from ${e.request.source}`],
    ['Service', ref(e.service)],
    ['VirtualService', ref(e.virtualService) + (e.conflicting.length ? `  (also claimed by ${e.conflicting.map(displayRef).join(', ')})` : '')],
    ['Rule', `${e.rule}: ${e.matchedBy}`],
  ];
  if (!e.destinations.length) rows.push(['Destination', 'none']);
  for (const d of e.destinations) {
    const target = `${d.host}${d.port ? `:${d.port}` : ''}${d.subset ? ` subset ${d.subset}` : ''}`;
    const labels = d.labels ? ` (${formatLabels(d.labels) || 'all pods'})` : '';
    const pods = d.workloads === undefined ? '' : `, ${d.workloads} workload${d.workloads === 1 ? '' : 's'}`;
    rows.push(['Destination', `${String(d.weight).padStart(3)}%  ${target}${labels}${pods}`]);
  }
  rows.push(['Timeout', e.timeout], ['Retries', e.retries], ['Fault', e.fault], ['Mirror', e.mirror]);
  if (e.rewrite) rows.push(['Rewrite', e.rewrite]);
  if (e.redirect) rows.push(['Redirect', e.redirect]);
  if (e.directResponse) rows.push(['Direct response', e.directResponse]);
  rows.push(['TLS', e.tls], ['Authorization', e.authorization]);
  for (const n of e.notes) rows.push(['Note', n]);
  return rows;
}

export function formatExplanation(e: Explanation, color: boolean): string {
  const c = new Chalk({ level: color ? 1 : 0 });
  return explanationLines(e).map(([k, v]) => `${c.bold((k + ':').padEnd(16))} ${v}`).join('\n') + '\n';
}

/**
 * Before/after of a change, for a pull-request comment: unchanged lines once, changed lines as
 * `-` (base) and `+` (change) in a diff block that renders on GitHub and GitLab.
 */
export function formatExplanationDiff(before: Explanation, after: Explanation): { text: string; changed: string[] } {
  const a = explanationLines(before);
  const b = explanationLines(after);
  const keys: string[] = [];
  for (const [k] of [...a, ...b]) if (!keys.includes(k)) keys.push(k);
  const lines: string[] = ['```diff'];
  const changed: string[] = [];
  for (const k of keys) {
    const va = a.filter(([x]) => x === k).map(([, v]) => v);
    const vb = b.filter(([x]) => x === k).map(([, v]) => v);
    if (va.join('\n') === vb.join('\n')) {
      for (const v of va) lines.push(`  ${(k + ':').padEnd(16)} ${v}`);
    } else {
      changed.push(k);
      for (const v of va) lines.push(`- ${(k + ':').padEnd(16)} ${v}`);
      for (const v of vb) lines.push(`+ ${(k + ':').padEnd(16)} ${v}`);
    }
  }
  lines.push('```');
  return { text: (changed.length ? `Changes: ${changed.join(', ')}\n\n` : 'No change in how this request is handled.\n\n') + lines.join('\n') + '\n', changed };
}
