import { defineCommand } from './spec.js';

async function templates(ctx: { env: Record<string, string | undefined> }) {
  const { findPackageRoot, loadTemplates } = await import('./manifest-inputs.js');
  return loadTemplates(findPackageRoot(ctx.env));
}

export const profileListCommand = defineCommand({
  path: 'profile list',
  summary: 'List the install profiles',
  examples: ['meshctl profile list', 'meshctl profile list -o json'],
  async run(ctx) {
    const t = await templates(ctx);
    const rows = [...t.profiles.values()].map((p) => ({ name: p.name, inherits: p.inherits ?? '', description: p.description }));
    return { data: rows, table: { columns: ['NAME', 'INHERITS', 'DESCRIPTION'], rows: rows.map((r) => [r.name, r.inherits || '-', r.description]) } };
  },
});

export const profileDumpCommand = defineCommand({
  path: 'profile dump',
  summary: 'Print the full values of a profile (the base values with the profile applied)',
  args: [{ name: 'profile', description: 'profile name (default: default)' }],
  examples: ['meshctl profile dump', 'meshctl profile dump demo > values.yaml'],
  async run(ctx, [name]) {
    const { profileValues } = await import('../manifests/values.js');
    const values = profileValues(await templates(ctx), name ?? 'default');
    const { toYaml } = await import('../ui/present.js');
    return { data: values, text: await toYaml(values) };
  },
});

export const profileDiffCommand = defineCommand({
  path: 'profile diff',
  summary: 'Show how two profiles differ in their values',
  args: [
    { name: 'from', description: 'first profile', required: true },
    { name: 'to', description: 'second profile', required: true },
  ],
  examples: ['meshctl profile diff minimal default', 'meshctl profile diff default demo -o json'],
  async run(ctx, [from, to]) {
    const { profileValues } = await import('../manifests/values.js');
    const { lineDiff } = await import('../manifests/diff.js');
    const { toYaml } = await import('../ui/present.js');
    const t = await templates(ctx);
    const a = profileValues(t, from as string);
    const b = profileValues(t, to as string);
    const diff = lineDiff(await toYaml(a), await toYaml(b), { context: 2 });
    const changes = flatDiff(a, b);
    return { data: { from, to, changes }, text: diff === '' ? `profiles ${from} and ${to} have the same values` : `--- ${from}\n+++ ${to}\n${diff}` };
  },
});

/** Key-by-key differences, for -o json: [{key, from, to}], sorted by key. */
function flatDiff(a: unknown, b: unknown, prefix = ''): { key: string; from: unknown; to: unknown }[] {
  const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isMap(a) && isMap(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => flatDiff(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [{ key: prefix, from: a ?? null, to: b ?? null }];
}
