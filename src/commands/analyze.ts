import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { Context } from '../context.js';
import type { Resource } from '../api/resource.js';
import { ClusterError, ExitCode, ForbiddenError, InputError, NotFoundError, UsageError } from '../core/errors.js';
import type { InputResource, Level, Message } from '../core/analyze/types.js';
import { defineCommand, type CommandOutput } from './spec.js';
import { cjs } from '../core/module-interop.js';

const YAML_FILE = /\.(ya?ml|json)$/i;
export const REPO_CONFIG = '.meshctl.yaml';

export const analyzeCommand = defineCommand({
  path: 'analyze',
  summary: 'Lint mesh config in files or a cluster (istioctl analyze compatible)',
  description:
    'With FILES (or - for stdin) analysis is offline: every Kubernetes object in the files is an input, so a host ' +
    'defined in the same change is never reported missing; checks that need objects the files do not hold are ' +
    'listed as skipped. Without files it analyzes the current cluster (-n, -A). --cluster overlays the files on ' +
    'the cluster, as a pull request would change it, and reports the namespaces the files touch (-n or -A to choose); ' +
    '--snapshot does the same from `meshctl cluster snapshot`. An object defined twice in the files is analyzed as ' +
    'the last definition (MSH0001 says so). With -R, Helm charts are skipped (render them: helm template | meshctl analyze -). ' +
    'Exit 0 when nothing is at or above --failure-threshold, 79 when something is, 65 for unreadable input.\n\n' +
    `Suppressions and thresholds can also live in ${REPO_CONFIG} (analyze: {suppress: [...], failureThreshold: Warning}).`,
  args: [{ name: 'files', description: 'YAML/JSON files or directories; - reads stdin', variadic: true }],
  options: [
    { flags: '-R, --recursive', description: 'descend into directories' },
    { flags: '--cluster', description: 'overlay the files on the current cluster instead of analyzing them alone' },
    { flags: '--snapshot <file>', description: 'overlay the files on a saved `meshctl cluster snapshot`', valueHint: 'file' },
    { flags: '--failure-threshold <level>', description: 'lowest level that makes the exit code 79: Info|Warning|Error (default Error)' },
    { flags: '--output-threshold <level>', description: 'lowest level to print: Info|Warning|Error (default Info)' },
    { flags: '-S, --suppress <code=resource...>', description: 'ignore a finding, e.g. "IST0118=Service metrics.default", "IST0101=VirtualService *.prod" (repeatable)' },
    { flags: '--baseline <file>', description: 'report only findings not in this earlier `-o json` output', valueHint: 'file' },
    { flags: '-L, --list-analyzers', description: 'list the analyzers and message codes, then exit' },
    { flags: '--ignore-unknown', description: 'skip documents that are not Kubernetes objects instead of failing (istioctl compatible)' },
    { flags: '-k, --use-kube [bool]', description: 'istioctl compatibility: false analyzes the files alone (the default with files), true overlays them on the cluster like --cluster' },
    { flags: '--color [bool]', description: 'istioctl compatibility: --color=false is --no-color' },
  ],
  // `log` is istioctl's name for the human format, accepted so CI scripts carry over.
  outputs: ['table', 'log', 'json', 'yaml', 'sarif', 'junit', 'github'],
  examples: [
    'meshctl analyze samples/bookinfo/bookinfo.yaml samples/bookinfo/networking/virtual-service-reviews-v3.yaml',
    'meshctl analyze -R deploy/ -o sarif > analyze.sarif',
    'helm template ./chart | meshctl analyze - -o github',
    'meshctl analyze -n prod --failure-threshold Warning',
    'meshctl analyze --cluster -R k8s/   # the pull request overlaid on the live cluster',
    'meshctl analyze --suppress "IST0118=Service *" --baseline last-run.json -R k8s/',
    'meshctl analyze --list-analyzers',
  ],
  async run(ctx, args, opts) {
    if (opts.listAnalyzers) return listAnalyzers();
    return runAnalyze(ctx, args, opts);
  },
});

export interface AnalyzeFlags {
  files: string[];
  suppress: string[];
}

/**
 * `--suppress` takes several values, so commander also hands it file names that follow it; a
 * suppression always contains `=`, a file name practically never, so the two split cleanly.
 */
export function splitSuppressAndFiles(args: readonly string[], suppress: unknown): AnalyzeFlags {
  const raw = Array.isArray(suppress) ? suppress.map(String) : typeof suppress === 'string' ? [suppress] : [];
  return { files: [...args, ...raw.filter((s) => !s.includes('='))], suppress: raw.filter((s) => s.includes('=')) };
}

/** Reads FILES/DIRS/- into named texts; a missing path is an InputError naming it. */
export async function readInputs(ctx: Context, paths: readonly string[], recursive: boolean): Promise<{ file: string; text: string }[]> {
  const out: { file: string; text: string }[] = [];
  for (const p of paths) {
    if (p === '-') {
      out.push({ file: '-', text: await readStdin(ctx.io.stdin) });
      continue;
    }
    const abs = resolve(ctx.cwd, p);
    let st;
    try {
      st = await stat(abs);
    } catch {
      throw new InputError(`${p}: no such file or directory`, 'check the path, or use - to read stdin');
    }
    if (st.isDirectory()) {
      if (await isHelmChart(abs)) throw new InputError(`${p} is a Helm chart, not manifests`, `render it first: helm template ${p} | meshctl analyze -`);
      const charts: string[] = [];
      for (const f of await listDir(abs, recursive, charts)) out.push({ file: relative(ctx.cwd, f) || f, text: await readFile(f, 'utf8') });
      for (const c of charts) ctx.info(`skipped ${relative(ctx.cwd, c) || c}/: a Helm chart (render it: helm template ${relative(ctx.cwd, c) || c} | meshctl analyze -)`);
    } else {
      out.push({ file: p, text: await readFile(abs, 'utf8') });
    }
  }
  return out;
}

/**
 * YAML files of a directory in name order. Helm charts met while recursing are not read (their
 * templates are not YAML until rendered, values.yaml is not an object): they go to `charts`.
 */
async function listDir(dir: string, recursive: boolean, charts: string[]): Promise<string[]> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  const files: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = join(dir, e.name);
    if (e.isDirectory()) {
      if (!recursive) continue;
      if (await isHelmChart(full)) charts.push(full);
      else files.push(...(await listDir(full, true, charts)));
    } else if (YAML_FILE.test(e.name)) files.push(full);
  }
  return files;
}

async function isHelmChart(dir: string): Promise<boolean> {
  return stat(join(dir, 'Chart.yaml')).then((s) => s.isFile(), () => false);
}

async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** Later objects replace earlier ones with the same kind/namespace/name, as `kubectl apply` would. */
export async function overlay(base: readonly InputResource[], top: readonly InputResource[], defaultNamespace: string): Promise<InputResource[]> {
  const { overlay: merge } = await import('../core/analyze/overlay.js');
  return merge(base, top, defaultNamespace).resources;
}

/** Annotation on a snapshot List naming the kinds the cluster did not serve when it was taken. */
export const SNAPSHOT_UNLISTED = 'meshctl.io/snapshot-unlisted-kinds';

function snapshotUnlisted(text: string): string[] {
  const m = new RegExp(`${SNAPSHOT_UNLISTED.replace(/[./]/g, '\\$&')}:\\s*["']?([A-Za-z,]*)`).exec(text);
  return m?.[1] ? m[1].split(',').filter(Boolean) : [];
}

/**
 * Lists what the analyzers read from the store, every namespace (references cross namespaces).
 * A user whose RBAC is one namespace only (a team's CI account) cannot list cluster-wide: with
 * `fallbackNamespace`, that namespace is listed instead and `scopedTo` says so.
 */
export async function listClusterInputs(
  ctx: Context,
  kinds: readonly string[],
  fallbackNamespace?: string,
): Promise<{ resources: InputResource[]; unlisted: string[]; scopedTo?: string }> {
  const { lookupKind } = await import('../api/kinds.js');
  const store = await ctx.store();
  const resources: InputResource[] = [];
  const unlisted: string[] = [];
  for (const kind of kinds) {
    if (!lookupKind(kind)) {
      unlisted.push(kind);
      continue;
    }
    try {
      for (const r of await store.list(kind)) if (!ownedByDeployment(r)) resources.push({ resource: r });
    } catch (err) {
      if (err instanceof ForbiddenError && fallbackNamespace) return listNamespace(ctx, kinds, fallbackNamespace, err);
      // Unreachable or forbidden is fatal; a kind the server does not serve (no CRD) just has no objects.
      if (err instanceof ClusterError || err instanceof ForbiddenError) throw err;
      unlisted.push(kind);
    }
  }
  return { resources, unlisted };
}

/**
 * A Deployment's ReplicaSets (old ones scaled to zero included) are its history: the Deployment
 * stands for them, and an old one would make a removed version look like a running workload.
 */
function ownedByDeployment(r: Resource): boolean {
  const owners: unknown = r.metadata.ownerReferences;
  return r.kind === 'ReplicaSet' && Array.isArray(owners) && owners.some((o: unknown) => typeof o === 'object' && o !== null && (o as { kind?: unknown }).kind === 'Deployment');
}

async function listNamespace(ctx: Context, kinds: readonly string[], ns: string, cause: ForbiddenError): Promise<{ resources: InputResource[]; unlisted: string[]; scopedTo: string }> {
  const { lookupKind } = await import('../api/kinds.js');
  const store = await ctx.store();
  const resources: InputResource[] = [];
  const unlisted: string[] = [];
  for (const kind of kinds) {
    const info = lookupKind(kind);
    try {
      if (!info) unlisted.push(kind);
      else if (!info.namespaced) {
        const r = kind === 'Namespace' ? await store.get({ kind, name: ns }) : undefined;
        if (r) resources.push({ resource: r });
        else unlisted.push(kind);
      } else for (const r of await store.list(kind, ns)) if (!ownedByDeployment(r)) resources.push({ resource: r });
    } catch (err) {
      if (err instanceof ClusterError) throw err;
      unlisted.push(kind);
    }
  }
  // Nothing readable even in the namespace: the first refusal is the answer.
  if (!resources.length && unlisted.length === kinds.length) throw cause;
  return { resources, unlisted, scopedTo: ns };
}

async function listAnalyzers(): Promise<CommandOutput> {
  const { ALL_ANALYZERS } = await import('../core/analyze/all.js');
  const { MESSAGES } = await import('../core/analyze/messages.js');
  const rows = MESSAGES.map((m) => ({
    code: m.code,
    level: m.level,
    name: m.name,
    analyzers: ALL_ANALYZERS.filter((a) => a.codes.includes(m.code)).map((a) => a.name),
    description: m.description,
  })).filter((r) => r.analyzers.length > 0);
  return {
    data: { analyzers: ALL_ANALYZERS.map((a) => ({ name: a.name, codes: a.codes, description: a.description, inputs: a.inputs })), messages: rows },
    table: { columns: ['code', 'level', 'name', 'analyzers', 'description'], rows: rows.map((r) => [r.code, r.level, r.name, r.analyzers.join(','), r.description]) },
  };
}

interface RepoConfig {
  suppress: string[];
  failureThreshold?: unknown;
  outputThreshold?: unknown;
  baseline?: string | undefined;
}

/**
 * `.meshctl.yaml` in the working directory or the nearest parent up to the repository root (the
 * directory holding `.git`): `analyze: {suppress, failureThreshold, outputThreshold, baseline}`.
 */
async function readRepoConfig(ctx: Context): Promise<RepoConfig> {
  let text: string | undefined;
  let configDir = ctx.cwd;
  for (let dir = ctx.cwd; ; ) {
    try {
      text = await readFile(join(dir, REPO_CONFIG), 'utf8');
      configDir = dir;
      break;
    } catch {
      // not here: try the parent, unless this is the repository root or the file system root
    }
    const atRepoRoot = await stat(join(dir, '.git')).then(() => true, () => false);
    const parent = dirname(dir);
    if (atRepoRoot || parent === dir) break;
    dir = parent;
  }
  if (text === undefined) return { suppress: [] };
  const { parse } = cjs(await import('yaml'));
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new InputError(`${REPO_CONFIG}: invalid YAML: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  const a = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>).analyze : undefined;
  if (a === undefined) return { suppress: [] };
  if (typeof a !== 'object' || a === null || Array.isArray(a)) throw new InputError(`${REPO_CONFIG}: "analyze" must be a mapping`);
  const o = a as Record<string, unknown>;
  const suppress = o.suppress === undefined ? [] : Array.isArray(o.suppress) ? o.suppress.map(String) : undefined;
  if (!suppress) throw new InputError(`${REPO_CONFIG}: analyze.suppress must be a list of "CODE=Kind name.namespace"`);
  // A baseline named in the file is relative to the file (the repository root), not to where analyze runs.
  const baseline = typeof o.baseline === 'string' ? relative(ctx.cwd, resolve(configDir, o.baseline)) || o.baseline : undefined;
  return { suppress, failureThreshold: o.failureThreshold, outputThreshold: o.outputThreshold, baseline };
}

async function readBaseline(ctx: Context, file: string): Promise<Pick<Message, 'code' | 'resource' | 'field' | 'text'>[]> {
  let text: string;
  try {
    text = await readFile(resolve(ctx.cwd, file), 'utf8');
  } catch {
    throw new InputError(`${file}: baseline not found`, 'save one with `meshctl analyze -o json ... > ' + file + '`');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new InputError(`${file}: baseline is not JSON`, 'use the output of `meshctl analyze -o json`');
  }
  const list = Array.isArray(doc) ? doc : typeof doc === 'object' && doc !== null ? (doc as { messages?: unknown }).messages : undefined;
  if (!Array.isArray(list)) throw new InputError(`${file}: baseline has no "messages" list`, 'use the output of `meshctl analyze -o json`');
  return list.filter((m): m is Pick<Message, 'code' | 'resource' | 'field' | 'text'> => typeof m === 'object' && m !== null && typeof m.code === 'string' && typeof m.resource === 'object');
}

async function runAnalyze(ctx: Context, args: string[], opts: Record<string, unknown>): Promise<CommandOutput> {
  const { loadSources } = await import('../core/analyze/load.js');
  const { analyze } = await import('../core/analyze/engine.js');
  const { ALL_ANALYZERS, inputKinds } = await import('../core/analyze/all.js');
  const { parseLevel, parseSuppression } = await import('../core/analyze/filter.js');
  const { buildReport } = await import('../core/analyze/report.js');

  const { files, suppress } = splitSuppressAndFiles(args, opts.suppress);
  // istioctl's boolean flags take no value when bare (`--use-kube file.yaml`); commander hands the
  // next argument to an optional value, so a value that is no boolean is a file after a bare flag.
  for (const key of ['useKube', 'color'] as const) {
    const v = opts[key];
    if (typeof v === 'string' && !/^(true|false|1|0|yes|no)$/i.test(v)) {
      files.unshift(v);
      opts[key] = true;
    }
  }
  const config = await readRepoConfig(ctx);
  const suppressions = [...config.suppress, ...suppress].map(parseSuppression);
  const failureThreshold: Level = parseLevel(opts.failureThreshold, '--failure-threshold') ?? parseLevel(config.failureThreshold, `${REPO_CONFIG} failureThreshold`) ?? 'Error';
  const outputThreshold: Level = parseLevel(opts.outputThreshold, '--output-threshold') ?? parseLevel(config.outputThreshold, `${REPO_CONFIG} outputThreshold`) ?? 'Info';
  const baselineFile = typeof opts.baseline === 'string' ? opts.baseline : config.baseline;
  const baseline = baselineFile ? await readBaseline(ctx, baselineFile) : undefined;

  const useKube = parseBool(opts.useKube);
  if (useKube === false && files.length === 0 && opts.snapshot === undefined) throw new UsageError('--use-kube=false needs files to analyze', 'give FILES, DIRS or -');
  const useCluster = Boolean(opts.cluster) || useKube === true || (files.length === 0 && opts.snapshot === undefined && useKube !== false);
  if (files.length === 0 && !useCluster && opts.snapshot === undefined) throw new UsageError('nothing to analyze');
  const defaultNamespace = ctx.globals.namespace ?? (useCluster ? await ctx.namespace() : 'default');

  const fileInputs = loadSources(await readInputs(ctx, files, Boolean(opts.recursive)), { ignoreUnknown: Boolean(opts.ignoreUnknown) });
  const { overlay: merge } = await import('../core/analyze/overlay.js');
  let { resources, redefined } = merge([], fileInputs, defaultNamespace);
  let origin: 'files' | 'cluster' = 'files';
  const notes: string[] = [];
  let namespaces: Set<string> | undefined;

  let unlistedKinds: string[] | undefined;
  if (typeof opts.snapshot === 'string') {
    const [snapText] = await readInputs(ctx, [opts.snapshot], false);
    const snap = loadSources(snapText ? [snapText] : []);
    unlistedKinds = snapshotUnlisted(snapText?.text ?? '');
    ({ resources, redefined } = merge(snap, fileInputs, defaultNamespace));
    origin = 'cluster';
  }
  let scopedTo: string | undefined;
  if (useCluster) {
    const listed = await listClusterInputs(ctx, inputKinds(ALL_ANALYZERS), ctx.globals.allNamespaces ? undefined : defaultNamespace);
    const { resources: live, unlisted } = listed;
    scopedTo = listed.scopedTo;
    unlistedKinds = unlisted;
    if (!ctx.globals.namespace && !ctx.globals.allNamespaces && files.length === 0) namespaces = new Set([defaultNamespace]);
    ({ resources, redefined } = merge(live, fileInputs, defaultNamespace));
    origin = 'cluster';
    if (scopedTo) {
      // Only one namespace is known: analyze it like files (what it holds is the inventory), so a
      // reference into another namespace is skipped, never reported missing.
      origin = 'files';
      namespaces = new Set([scopedTo]);
      notes.push(`listing every namespace is forbidden for this user: analyzed namespace ${scopedTo} only; checks that need other namespaces are skipped`);
    } else if (unlisted.length) notes.push(`not listed from the cluster (not served): ${unlisted.join(', ')}`);
  }
  // Files overlaid on cluster state (live or a snapshot), no -n/-A: a pull request check is about
  // the namespaces the change touches, not every old finding elsewhere in the cluster.
  let scopedToFiles = false;
  if (!scopedTo && (useCluster || typeof opts.snapshot === 'string') && files.length > 0 && !ctx.globals.namespace && !ctx.globals.allNamespaces) {
    namespaces = new Set(fileInputs.map((r) => r.resource.metadata.namespace || (r.resource.kind === 'Namespace' ? r.resource.metadata.name : defaultNamespace)));
    scopedToFiles = true;
  }
  // Against cluster state (live or a snapshot), -n must name a namespace that is there.
  if (origin === 'cluster' && ctx.globals.namespace && !ctx.globals.allNamespaces) {
    const ns = ctx.globals.namespace;
    const exists = resources.some((r) => (r.resource.kind === 'Namespace' && r.resource.metadata.name === ns) || r.resource.metadata.namespace === ns);
    const where = useCluster ? (await ctx.store()).location : String(opts.snapshot);
    if (!exists) throw new NotFoundError(`namespace "${ns}" not found in ${where}`, 'check -n, or list namespaces with `kubectl get namespaces`');
    namespaces = new Set([ns]);
  }

  const result = await analyze({ resources, origin, defaultNamespace, unlistedKinds, redefined }, ALL_ANALYZERS);
  if (scopedToFiles && namespaces) {
    const inScope = namespaces;
    const outside = result.messages.filter((m) => m.resource.namespace !== undefined && !inScope.has(m.resource.namespace)).length;
    if (outside) notes.push(`${outside} finding${outside === 1 ? '' : 's'} in namespaces the files do not touch not shown (-A shows every namespace)`);
  }
  const report = buildReport(result, { suppressions, resources, defaultNamespace, failureThreshold, outputThreshold, baseline, namespaces });
  const format = ctx.globals.output;
  const ui = await import('../ui/analyze-format.js');
  if (format === 'table' || format === 'log') {
    const note = ui.skippedNote(report);
    if (note) ctx.info(note);
    for (const s of report.skipped) ctx.debug(`  ${s.analyzer}: ${s.reason}`);
  }
  // Notes about what was read go to stderr in every format: a CI log shows them beside the JSON.
  for (const n of notes) ctx.info(n);
  const { VERSION } = await import('../version.js');
  const text =
    format === 'sarif' ? ui.formatSarif(repoRelative(report, ctx.cwd), VERSION.version)
    : format === 'junit' ? ui.formatJunit(report)
    : format === 'github' ? ui.formatGithub(repoRelative(report, ctx.cwd))
    : ui.formatHuman(report, ctx.io.color && parseBool(opts.color, '--color') !== false);
  return { data: report, text, exitCode: report.summary.failed ? ExitCode.analyzeIssues : 0 };
}

/**
 * Code scanning and workflow annotations attach to files by their path in the repository: an
 * absolute path inside the working directory (`$GITHUB_WORKSPACE/k8s/x.yaml`) is made relative.
 */
function repoRelative<T extends { messages: Message[] }>(report: T, cwd: string): T {
  const rel = (f: string) => (isAbsolute(f) && !relative(cwd, f).startsWith('..') ? relative(cwd, f) : f);
  return { ...report, messages: report.messages.map((m) => (m.origin ? { ...m, origin: { ...m.origin, file: rel(m.origin.file) } } : m)) };
}

function parseBool(v: unknown, flag = '--use-kube'): boolean | undefined {
  if (v === undefined) return undefined;
  const s = String(v).toLowerCase();
  if (s === 'true' || s === '1' || s === 'yes') return true;
  if (s === 'false' || s === '0' || s === 'no') return false;
  throw new UsageError(`invalid ${flag} "${String(v)}"`, `use ${flag}=true or ${flag}=false`);
}
