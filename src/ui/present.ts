import type { CommandOutput } from '../commands/spec.js';
import { renderTable } from './table.js';
import { cjs } from '../core/module-interop.js';

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
  const { stringify } = cjs(await import('yaml'));
  return stringify(data, { lineWidth: 0 });
}
