import { Command, CommanderError, Option, type Help } from 'commander';
import type { Context, GlobalOptions, IO } from './context.js';
import { COMMANDS, GROUPS } from './commands/index.js';
import { DEFAULT_OUTPUTS, type CommandSpec } from './commands/spec.js';
import { UsageError } from './core/errors.js';
import { present } from './ui/present.js';
import { reflow } from './ui/reflow.js';

/**
 * Builds the commander program from the command registry. The only file that imports commander.
 * `makeContext` turns the parsed global flags into the context a command runs with.
 */
export function buildProgram(io: IO, makeContext: (globals: GlobalOptions) => Context, version: string): Command {
  const program = new Command('meshctl')
    .description('A service mesh you can run anywhere, on the Istio API: install, proxy, canary, faults, mTLS, analyze.')
    .version(version, '--version', 'print the client version')
    .addOption(new Option('--kubeconfig <file>', 'path to the kubeconfig file'))
    .addOption(new Option('--context <name>', 'kubeconfig context to use'))
    .addOption(new Option('-n, --namespace <ns>', "namespace (default: the context's namespace)"))
    .addOption(new Option('-A, --all-namespaces', 'act on every namespace').default(false))
    .addOption(new Option('-o, --output <format>', 'output format: table|json|yaml (some commands add more)').default('table'))
    .addOption(new Option('--no-color', 'disable colour (also NO_COLOR; FORCE_COLOR forces it)'))
    .addOption(new Option('-v, --verbose', 'log more, and show stack traces for errors').default(false))
    .addOption(new Option('--local <dir>', 'use the file-backed mesh in DIR instead of a cluster (also MESHCTL_LOCAL)'))
    .showSuggestionAfterError(true)
    .showHelpAfterError(false);

  configureForIO(program, io);
  program.configureHelp({
    // The root help lists every command by its full path, one line each, like `kubectl --help`.
    visibleCommands: (cmd: Command) => (cmd === program ? leafCommands(program) : cmd.commands.filter((c) => !hidden(c))),
    subcommandTerm: (cmd: Command) => fullPath(cmd).replace(/^meshctl /, '') + (cmd.registeredArguments.length ? ' ' + cmd.usage().replace(/^\[options\] ?/, '') : ''),
    // Prose paragraphs are joined and wrapped at the help width (see src/ui/reflow.ts).
    commandDescription(this: Help, cmd: Command) {
      return reflow(cmd.description(), this.helpWidth ?? 100);
    },
  } as Partial<Help>);

  const groups = new Map<string, Command>();
  for (const spec of COMMANDS) {
    const words = spec.path.split(' ');
    let parent = program;
    for (let i = 0; i < words.length - 1; i++) {
      const key = words.slice(0, i + 1).join(' ');
      let group = groups.get(key);
      if (!group) {
        group = parent.command(words[i] ?? '').description(GROUPS[key] ?? '');
        configureForIO(group, io);
        groups.set(key, group);
      }
      parent = group;
    }
    addCommand(parent, words[words.length - 1] ?? spec.path, spec, io, makeContext);
  }
  return program;
}

function addCommand(parent: Command, name: string, spec: CommandSpec, io: IO, makeContext: (g: GlobalOptions) => Context): void {
  const cmd = parent.command(name).description(spec.summary);
  configureForIO(cmd, io);
  // The group's command list shows the one-line summary; the command's own --help shows both.
  if (spec.description) cmd.summary(spec.summary).description(spec.summary + '\n\n' + spec.description);
  for (const arg of spec.args ?? []) {
    const n = arg.variadic ? `${arg.name}...` : arg.name;
    cmd.argument(arg.required ? `<${n}>` : `[${n}]`, arg.description);
  }
  for (const o of spec.options ?? []) {
    const opt = new Option(o.flags, o.description);
    if (o.default !== undefined) opt.default(o.default);
    if (o.choices) opt.choices(o.choices);
    cmd.addOption(opt);
  }
  if (spec.examples?.length) {
    cmd.addHelpText('after', '\nExamples:\n' + spec.examples.map((e) => '  ' + e).join('\n'));
  }
  cmd.action(async (...params: unknown[]) => {
    const self = params[params.length - 1] as Command;
    const args = (params.slice(0, self.registeredArguments.length) as (string | string[] | undefined)[]).flatMap((a) => (a === undefined ? [] : a));
    const globals = toGlobals(self.optsWithGlobals());
    const outputs = spec.outputs ?? DEFAULT_OUTPUTS;
    if (!outputs.includes(globals.output)) {
      throw new UsageError(`unknown output format "${globals.output}" for "meshctl ${spec.path}"`, `use -o ${outputs.join('|')}`);
    }
    const ctx = makeContext(globals);
    const result = await spec.run(ctx, args, self.opts());
    if (result) {
      ctx.io.stdout.write(await present(result, globals.output));
      if (result.exitCode) throw new ExitWith(result.exitCode);
    }
  });
}

/** A command that succeeded but wants a non-zero exit (analyze found issues). */
export class ExitWith extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

function toGlobals(o: Record<string, unknown>): GlobalOptions {
  return {
    kubeconfig: o.kubeconfig as string | undefined,
    context: o.context as string | undefined,
    namespace: o.namespace as string | undefined,
    allNamespaces: Boolean(o.allNamespaces),
    output: String(o.output ?? 'table'),
    color: o.color !== false,
    verbose: Boolean(o.verbose),
    local: o.local as string | undefined,
  };
}

function configureForIO(cmd: Command, io: IO): void {
  cmd.exitOverride();
  cmd.configureOutput({
    writeOut: (s) => io.stdout.write(s),
    writeErr: (s) => io.stderr.write(s),
    // Help is wrapped at a fixed width off a terminal, so help snapshots and pipes are stable.
    getOutHelpWidth: () => (io.isTTY ? (process.stdout.columns ?? 100) : 100),
    getErrHelpWidth: () => (io.isTTY ? (process.stderr.columns ?? 100) : 100),
    getOutHasColors: () => io.color,
    getErrHasColors: () => io.color,
    // commander's own messages ("error: unknown option '--x'") are already one line; add the fix.
    outputError: (s, write) => write(s.trimEnd() + ` (see "${fullPath(cmd)} --help")\n`),
  });
}

function hidden(cmd: Command): boolean {
  return (cmd as unknown as { _hidden?: boolean })._hidden === true;
}

function leafCommands(cmd: Command): Command[] {
  return cmd.commands.filter((c) => !hidden(c)).flatMap((c) => (c.commands.length ? leafCommands(c) : [c]));
}

function fullPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** commander exits for --help and --version too; those are not failures. */
export function commanderExitCode(err: CommanderError): number {
  if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return 0;
  if (err.code === 'commander.executeSubCommandAsync') return err.exitCode;
  return 64;
}
