import type { Analyzer } from '../types.js';
import { walk } from '../routes.js';
import { specOf } from '../util.js';

/**
 * istioctl's regex analyzer, plus RE2's limits: Envoy compiles these with RE2, which has no
 * look-around or back-references, so a pattern JavaScript accepts can still be refused.
 */
export const regexes: Analyzer = {
  name: 'virtualservice.regex',
  codes: ['IST0122'],
  description: 'Regular expressions in matches compile (as RE2)',
  inputs: ['VirtualService'],
  analyze(ctx, report) {
    for (const vs of ctx.of('VirtualService')) {
      walk(specOf(vs.resource), ['spec'], (key, value, path) => {
        if (key !== 'regex' || typeof value !== 'string') return;
        const problem = re2Problem(value);
        if (problem) report.report('IST0122', vs, path, path.slice(1).join('.'), value, problem);
      });
    }
  },
};

export function re2Problem(pattern: string): string | undefined {
  if (/\(\?<?[=!]/.test(pattern)) return 'look-around is not supported by RE2';
  if (/\\[1-9]/.test(pattern)) return 'back-references are not supported by RE2';
  // RE2 allows leading inline flags such as (?i); JavaScript does not, so compile without them.
  // RE2 also names groups Python's way, (?P<name>...), which JavaScript spells (?<name>...).
  const body = pattern.replace(/^\(\?[imsU]+\)/, '').replace(/\(\?P</g, '(?<');
  try {
    new RegExp(body, 'u');
    return undefined;
  } catch (e) {
    try {
      new RegExp(body);
      return undefined;
    } catch {
      return e instanceof Error ? e.message.replace(/^Invalid regular expression: /, '') : 'does not compile';
    }
  }
}
