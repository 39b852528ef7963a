import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Resource } from '../api/resource.js';
import type { Context } from '../context.js';
import { InputError } from '../core/errors.js';
import type { SetPair } from '../manifests/set-values.js';
import type { Profile, TemplateSet } from '../manifests/values.js';
import type { OptionSpec } from './spec.js';
import { VERSION } from '../version.js';
import { cjs } from '../core/module-interop.js';

/**
 * The I/O half of rendering: finds templates/ and the CRDs, reads them and the -f files, and hands
 * plain objects to the pure renderer in src/manifests. Shared by manifest, profile, install,
 * verify-install and uninstall.
 */

export const RENDER_OPTIONS: readonly OptionSpec[] = [
  { flags: '-p, --profile <name>', description: 'profile to start from: minimal|default|demo (see `meshctl profile list`)', default: 'default' },
  { flags: '--set <key=value...>', description: 'set a value, Helm syntax: a.b=c, list[0]=x, a={x,y}; repeatable' },
  { flags: '--set-string <key=value...>', description: 'like --set, but every value stays a string' },
  { flags: '--set-file <key=path...>', description: 'set a value to the content of a file, e.g. ca.cert=root.pem', valueHint: 'file' },
  { flags: '-f, --values <file...>', description: 'values file(s) (YAML), applied in order before --set', valueHint: 'file' },
];

export interface RenderFlags {
  profile: string;
  set: string[];
  setString: string[];
  setFile: string[];
  values: string[];
}

export function renderFlags(opts: Record<string, unknown>): RenderFlags {
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : []);
  return { profile: typeof opts.profile === 'string' ? opts.profile : 'default', set: list(opts.set), setString: list(opts.setString), setFile: list(opts.setFile), values: list(opts.values) };
}

/**
 * templates/ sits next to dist/ in the npm package and next to src/ in the repository. The code
 * that runs may be dist/meshctl.js, a chunk in dist/chunks/, or src/commands/ under vitest, so walk
 * up from this module until a directory holds templates/values.schema.json.
 */
export function findPackageRoot(env: Record<string, string | undefined> = {}): string {
  if (env.MESHCTL_TEMPLATES) return resolve(env.MESHCTL_TEMPLATES, '..');
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'templates', 'values.schema.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new InputError('cannot find the meshctl templates/ directory next to the program', 'reinstall meshctl, or set MESHCTL_TEMPLATES to the templates directory');
}

export async function loadTemplates(root: string): Promise<TemplateSet> {
  const { parse } = await yamlLib();
  const dir = join(root, 'templates');
  const baseValues = parse(await readFile(join(dir, 'values.yaml'), 'utf8')) as Record<string, unknown>;
  const schema = JSON.parse(await readFile(join(dir, 'values.schema.json'), 'utf8')) as Record<string, unknown>;
  const profiles = new Map<string, Profile>();
  const files = (await readdir(join(dir, 'profiles'))).filter((f) => f.endsWith('.yaml')).sort();
  for (const f of files) {
    const doc = parse(await readFile(join(dir, 'profiles', f), 'utf8')) as Partial<Profile> | null;
    const name = basename(f, '.yaml');
    profiles.set(name, {
      name,
      description: String(doc?.description ?? ''),
      ...(doc?.inherits ? { inherits: String(doc.inherits) } : {}),
      values: (doc?.values ?? {}) as Record<string, unknown>,
    });
  }
  return { baseValues, schema, profiles };
}

/** The Istio CRDs, vendored in third_party/ and shipped with the package. */
export async function loadCrds(root: string): Promise<Resource[]> {
  const { parseAllDocuments } = await yamlLib();
  const file = join(root, 'third_party', 'istio', 'istio-crds.yaml');
  const text = await readFile(file, 'utf8').catch((err: unknown) => {
    throw new InputError(`cannot read the mesh CRDs from ${file}: ${(err as Error).message}`, 'reinstall meshctl');
  });
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Resource | null)
    .filter((r): r is Resource => r !== null && r.kind === 'CustomResourceDefinition');
}

async function readValuesFiles(ctx: Context, names: readonly string[]): Promise<{ name: string; values: unknown }[]> {
  const { parse } = await yamlLib();
  const out: { name: string; values: unknown }[] = [];
  for (const name of names) {
    let text: string;
    try {
      text = name === '-' ? await readStdin(ctx) : await readFile(resolve(ctx.cwd, name), 'utf8');
    } catch (err) {
      throw new InputError(`cannot read values file ${name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'check the path given to -f');
    }
    try {
      out.push({ name, values: parse(text) });
    } catch (err) {
      throw new InputError(`values file ${name} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return out;
}

/** --set-file key=path: Helm's flag, for values too long or too multi-line for the shell (PEM files). */
async function readSetFiles(ctx: Context, exprs: readonly string[]): Promise<SetPair[]> {
  const { parseSetArgument } = await import('../manifests/set-values.js');
  const out: SetPair[] = [];
  for (const expr of exprs) {
    for (const pair of parseSetArgument(expr, { asString: true, flag: '--set-file' })) {
      const file = String(pair.value);
      try {
        out.push({ path: pair.path, value: await readFile(resolve(ctx.cwd, file), 'utf8') });
      } catch (err) {
        throw new InputError(`--set-file ${expr}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'check the path after "="');
      }
    }
  }
  return out;
}

async function readStdin(ctx: Context): Promise<string> {
  let s = '';
  for await (const chunk of ctx.io.stdin) s += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
  return s;
}

/**
 * The yaml package, loaded on first use. esbuild's code splitting hands a CommonJS package that is
 * also imported statically elsewhere to a dynamic import() as `default` only, so take either shape.
 */
export async function yamlLib(): Promise<typeof import('yaml')> {
  return cjs(await import('yaml'));
}

export interface Rendered {
  profile: string;
  values: Record<string, unknown>;
  resources: Resource[];
  version: string;
}

/** Flags -> values -> manifests. The one path every command that renders goes through. */
export async function renderFromFlags(ctx: Context, flags: RenderFlags): Promise<Rendered> {
  const root = findPackageRoot(ctx.env);
  const [templates, crds, files, setFile] = await Promise.all([loadTemplates(root), loadCrds(root), readValuesFiles(ctx, flags.values), readSetFiles(ctx, flags.setFile)]);
  const { resolveValues } = await import('../manifests/values.js');
  const { renderManifests } = await import('../manifests/render.js');
  const values = await resolveValues(templates, { profile: flags.profile, files, set: flags.set, setString: flags.setString, setFile });
  const version = VERSION.version;
  return { profile: flags.profile, values, version, resources: renderManifests({ values, profile: flags.profile, version, crds }) };
}

/** Multi-document YAML, the form `kubectl apply -f -` reads. Key order is the renderer's. */
export async function toYamlStream(resources: readonly Resource[]): Promise<string> {
  const { stringify } = await yamlLib();
  return resources.map((r) => stringify(r, { lineWidth: 0 })).join('---\n');
}
