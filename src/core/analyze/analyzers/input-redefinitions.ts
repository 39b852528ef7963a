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
      const where = replaced.map((r) => {
        const p = r.locate?.(['metadata', 'name']);
        return p ? `${p.file}:${p.line}` : (r.file ?? 'the input');
      });
      // Three places are enough to find the others; a long list would bury the message.
      const shown = where.length > 3 ? [...where.slice(0, 3), `${where.length - 3} more`] : where;
      report.report('MSH0001', kept, ['metadata', 'name'], shown.join(', '));
    }
  },
};
