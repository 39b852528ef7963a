import type { Analyzer } from '../types.js';

/**
 * New in meshctl: one object defined in several input files with different content. Only the last
 * definition is analyzed (as `kubectl apply` in order would leave it), so without this message the
 * other findings can contradict what the reader sees in the earlier file.
 */
export const inputRedefinitions: Analyzer = {
  name: 'input.redefinitions',
  codes: ['MSH0001'],
  description: 'No object is defined twice, differently, in the input files',
  inputs: [],
  analyze(ctx, report) {
    for (const { kept, replaced } of ctx.redefined) {
      // File names, not lines: the text is part of a finding's identity for --baseline, and lines
      // move with unrelated edits.
      const where = [...new Set(replaced.map((r) => (r.file === undefined ? 'the input' : r.file === kept.file ? 'this file (earlier)' : r.file)))];
      // Three places are enough to find the others; a long list would bury the message.
      const shown = where.length > 3 ? [...where.slice(0, 3), `${where.length - 3} more`] : where;
      report.report('MSH0001', kept, ['metadata', 'name'], shown.join(', '));
    }
  },
};
