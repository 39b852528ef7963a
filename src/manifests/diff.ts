/**
 * A line diff (longest common subsequence) with unified-style context, for `profile diff` and the
 * plan `install` prints. Inputs are a few hundred lines of YAML, so the O(n*m) table is cheap; CRDs
 * are compared by equality first and only diffed when they differ.
 */
export interface DiffOptions {
  /** Unchanged lines kept around each change; the rest are folded into "@@" markers. */
  context?: number;
}

export function lineDiff(before: string, after: string, opts: DiffOptions = {}): string {
  const context = opts.context ?? 3;
  const a = splitLines(before);
  const b = splitLines(after);
  const ops = diffOps(a, b);
  if (!ops.some((o) => o.op !== ' ')) return '';
  const keep = new Array<boolean>(ops.length).fill(false);
  ops.forEach((o, i) => {
    if (o.op === ' ') return;
    for (let j = Math.max(0, i - context); j <= Math.min(ops.length - 1, i + context); j++) keep[j] = true;
  });
  const out: string[] = [];
  let skipping = false;
  ops.forEach((o, i) => {
    if (!keep[i]) {
      if (!skipping) out.push('@@');
      skipping = true;
      return;
    }
    skipping = false;
    out.push(`${o.op} ${o.line}`);
  });
  return out.join('\n') + '\n';
}

interface Op {
  op: ' ' | '-' | '+';
  line: string;
}

function splitLines(s: string): string[] {
  if (s === '') return [];
  const lines = s.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function diffOps(a: readonly string[], b: readonly string[]): Op[] {
  // Trim the common head and tail first: most diffs here are a few lines in a long document.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const am = a.slice(head, a.length - tail);
  const bm = b.slice(head, b.length - tail);
  const n = am.length;
  const m = bm.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    const row = lcs[i] as number[];
    const below = lcs[i + 1] as number[];
    for (let j = m - 1; j >= 0; j--) row[j] = am[i] === bm[j] ? (below[j + 1] as number) + 1 : Math.max(below[j] as number, row[j + 1] as number);
  }
  const ops: Op[] = a.slice(0, head).map((line) => ({ op: ' ', line }));
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (am[i] === bm[j]) {
      ops.push({ op: ' ', line: am[i] as string });
      i++;
      j++;
    } else if ((lcs[i + 1]?.[j] ?? 0) >= (lcs[i]?.[j + 1] ?? 0)) {
      ops.push({ op: '-', line: am[i++] as string });
    } else {
      ops.push({ op: '+', line: bm[j++] as string });
    }
  }
  while (i < n) ops.push({ op: '-', line: am[i++] as string });
  while (j < m) ops.push({ op: '+', line: bm[j++] as string });
  for (const line of a.slice(a.length - tail)) ops.push({ op: ' ', line });
  return ops;
}
