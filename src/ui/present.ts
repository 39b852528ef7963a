import type { CommandOutput } from '../commands/spec.js';
import { renderTable } from './table.js';

/** Renders a command's result in the chosen -o format. Data goes to stdout, nothing else does. */
export async function present(output: CommandOutput, format: string): Promise<string> {
  switch (format) {
    case 'json':
      return JSON.stringify(output.data, null, 2) + '\n';
    case 'yaml':
      return toYaml(output.data);
    default:
      if (output.table) return renderTable(output.table);
      if (output.text !== undefined) return output.text.endsWith('\n') || output.text === '' ? output.text : output.text + '\n';
      return toYaml(output.data);
  }
}

export async function toYaml(data: unknown): Promise<string> {
  // yaml is loaded only when YAML is printed: most table output never needs it.
  // esbuild's code splitting may hand this CommonJS package over as `default` only (it is also imported statically).
  const m = (await import('yaml')) as typeof import('yaml') & { default?: typeof import('yaml') };
  const { stringify } = typeof m.stringify === 'function' ? m : (m.default ?? m);
  return stringify(data, { lineWidth: 0 });
}
