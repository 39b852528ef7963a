import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { meshctl } from '../helpers/run-meshctl.js';
import { NO_CA_NOTE } from '../../src/commands/manifest.js';

/**
 * Golden files for `manifest generate`: one file per case in test/golden/manifests/. The first line
 * holds the arguments (`# args: --profile demo`); the rest is the expected render, compared as
 * parsed YAML. CRD specs (900 kB of vendored Istio schema) are stood in for by their SHA-256, so
 * a golden file shows what meshctl itself renders. Add a case by adding a file with only the args
 * line; UPDATE_GOLDEN=1 writes the expected output.
 */
const dir = fileURLToPath(new URL('../golden/manifests/', import.meta.url));
const repo = fileURLToPath(new URL('../../', import.meta.url));
const update = process.env.UPDATE_GOLDEN === '1';

interface Obj {
  kind: string;
  spec?: unknown;
  [k: string]: unknown;
}

function summarise(items: Obj[]): Obj[] {
  return items.map((o) => (o.kind === 'CustomResourceDefinition' ? { ...o, spec: `sha256:${createHash('sha256').update(JSON.stringify(o.spec)).digest('hex')}` } : o));
}

const cases = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();

describe('manifest generate golden files', () => {
  it('has a case for every profile', () => {
    for (const p of ['minimal', 'default', 'demo']) expect(cases).toContain(`${p}.yaml`);
  });

  it.each(cases)('%s', async (file) => {
    const path = join(dir, file);
    const text = readFileSync(path, 'utf8');
    const header = text.split('\n')[0] ?? '';
    const m = /^# args:(.*)$/.exec(header);
    expect(m, `${file} must start with "# args: ..."`).not.toBeNull();
    const args = (m?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
    const r = await meshctl(['manifest', 'generate', '-o', 'json', ...args], { cwd: repo });
    expect(r.exitCode).toBe(0);
    const actual = summarise((JSON.parse(r.stdout) as { items: Obj[] }).items);
    // A webhook without a CA in the values gets one note on stderr (install supplies the CA); else nothing.
    const webhookWithoutCA = actual.some((o) => o.kind === 'MutatingWebhookConfiguration') && !actual.some((o) => o.kind === 'Secret');
    expect(r.stderr).toBe(webhookWithoutCA ? `${NO_CA_NOTE}\n` : '');
    if (update) {
      writeFileSync(path, `${header}\n${stringify(actual, { lineWidth: 0 })}`);
      return;
    }
    expect(actual).toEqual(parse(text.slice(header.length + 1)));
  });

  it('prints the same bytes twice (deterministic)', async () => {
    const a = await meshctl('manifest generate --profile demo', { cwd: repo });
    const b = await meshctl('manifest generate --profile demo', { cwd: repo });
    expect(a.exitCode).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout.split('\n---\n').length).toBeGreaterThan(20);
  });
});
