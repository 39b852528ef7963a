/**
 * Colour decision, in the order users expect: --no-color wins, then NO_COLOR (any value), then
 * FORCE_COLOR (0 disables), then whether stdout is a terminal.
 */
export function useColor(opts: { noColorFlag: boolean; env: Record<string, string | undefined>; isTTY: boolean }): boolean {
  if (opts.noColorFlag) return false;
  if (opts.env.NO_COLOR !== undefined && opts.env.NO_COLOR !== '') return false;
  const force = opts.env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force !== 'false';
  return opts.isTTY && opts.env.TERM !== 'dumb';
}
