import { UsageError } from '../core/errors.js';
import { SHELLS } from '../ui/completions.js';
import { defineCommand } from './spec.js';

export const completionCommand = defineCommand({
  path: 'completion',
  summary: 'Print the shell completion script for bash, zsh or fish',
  args: [{ name: 'shell', description: 'bash | zsh | fish', required: true }],
  examples: ['source <(meshctl completion bash)', 'meshctl completion zsh > "${fpath[1]}/_meshctl"', 'meshctl completion fish > ~/.config/fish/completions/meshctl.fish'],
  async run(_ctx, [shell]) {
    const gen = SHELLS[shell as keyof typeof SHELLS];
    if (!gen) throw new UsageError(`unknown shell "${shell}"`, 'use bash, zsh or fish');
    // Imported here: the registry imports this file, so a top-level import would be circular.
    const { COMMANDS } = await import('./index.js');
    return { data: gen(COMMANDS), text: gen(COMMANDS) };
  },
});
