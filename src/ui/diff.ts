/**
 * A readable diff of objects before -> after, as YAML lines with `-`/`+` markers and a few lines of
 * context, like `kubectl diff`. Fields the store owns (resourceVersion, managedFields, ...) are left
 * out so the diff shows only what the command changed.
 */
import { structuredPatch } from 'diff';
import { stringify } from 'yaml';
import type { Resource, ResourceRef } from '../api/resource.js';
import { displayRef } from '../api/resource.js';

export interface ObjectChange {
  ref: ResourceRef;
  before: Resource | undefined;
  after: Resource | undefined;
}

const NOISE = ['resourceVersion', 'uid', 'generation', 'creationTimestamp', 'managedFields', 'selfLink'];

/** The object as a person wants to compare it: no server-owned metadata, no status. */
export function comparable(r: Resource | undefined): Record<string, unknown> | undefined {
  if (!r) return undefined;
  const metadata: Record<string, unknown> = { ...r.metadata };
  for (const k of NOISE) delete metadata[k];
  const out: Record<string, unknown> = { ...r, metadata };
  delete out.status;
  return out;
}

function yamlOf(r: Resource | undefined): string {
  const c = comparable(r);
  return c ? stringify(c, { lineWidth: 0 }) : '';
}

const paint = (color: boolean, code: number, s: string): string => (color ? `\u001b[${code}m${s}\u001b[39m` : s);

/** True when the change alters nothing a person would see in the diff. */
export function isNoop(change: ObjectChange): boolean {
  return yamlOf(change.before) === yamlOf(change.after);
}

/** Renders every change; an unchanged object gets one line saying so. */
export function renderDiff(changes: readonly ObjectChange[], opts: { color?: boolean; context?: number } = {}): string {
  const color = opts.color ?? false;
  const out: string[] = [];
  for (const c of changes) {
    const before = yamlOf(c.before);
    const after = yamlOf(c.after);
    const name = displayRef(c.ref);
    if (before === after) {
      out.push(`= ${name} (unchanged)`);
      continue;
    }
    const verb = !c.before ? 'created' : !c.after ? 'deleted' : 'changed';
    out.push(paint(color, 1, `${verb === 'created' ? '+' : verb === 'deleted' ? '-' : '~'} ${name} (${verb})`));
    const patch = structuredPatch('before', 'after', before, after, '', '', { context: opts.context ?? 3 });
    for (const h of patch.hunks) {
      out.push(paint(color, 36, `@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`));
      for (const line of h.lines) {
        if (line.startsWith('\\')) continue; // "\ No newline at end of file": noise for YAML
        out.push(line.startsWith('+') ? paint(color, 32, line) : line.startsWith('-') ? paint(color, 31, line) : line);
      }
    }
  }
  return out.join('\n') + '\n';
}
