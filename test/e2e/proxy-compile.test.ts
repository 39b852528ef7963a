import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { compileDir } from '../../src/proxy/config-compile.js';
import { childCompiler, type DirCompileResult } from '../../src/proxy/config-source.js';
import { fingerprintOf } from '../../src/proxy/snapshot-feed.js';
import { reviewsLocalMesh } from '../helpers/processes.js';

/**
 * The compile process of `meshctl proxy --config DIR` (dist/proxy-compile.cjs, built by `npm test`)
 * through the transport the proxy runtime uses: it must hand back what the in-process compile
 * gives, errors included, and a compile that hangs or crashes must not hang the proxy.
 */

const bundle = fileURLToPath(new URL('../../dist/proxy-compile.cjs', import.meta.url));
const key = { workload: 'e2e', namespace: 'default' };
let dir: string;

beforeAll(() => {
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run \`npm run build\` (npm test builds it first)`);
  dir = mkdtempSync(join(tmpdir(), 'meshctl-proxy-compile-e2e-'));
  writeFileSync(join(dir, 'mesh.yaml'), reviewsLocalMesh(18081, 18082, 10));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const never = new AbortController().signal;
const configOf = (r: DirCompileResult) => {
  if (!('config' in r)) throw new Error(`no config: ${JSON.stringify(r)}`);
  return r.config;
};

it('hands back the config and sources the in-process compile gives', async () => {
  const [child, local] = await Promise.all([childCompiler(bundle)({ dir, key }, never), compileDir({ dir, key })]);
  expect(fingerprintOf(configOf(child))).toBe(fingerprintOf(configOf(local)));
  expect(configOf(child)).toEqual(configOf(local));
  expect(child.sources).toEqual(local.sources);
  expect(child.sources.map((s) => [s.path, s.dir])).toEqual([
    [dir, true],
    [join(dir, 'mesh.yaml'), false],
  ]);
});

it('answers "unchanged" to the fingerprint of the config it would hand back', async () => {
  const known = fingerprintOf(configOf(await compileDir({ dir, key })));
  const r = await childCompiler(bundle)({ dir, key, known }, never);
  expect(r).toMatchObject({ unchanged: true });
  expect('config' in r).toBe(false);
});

it('a config error crosses as the same typed error: message, hint, code and exit code', async () => {
  const bad = mkdtempSync(join(tmpdir(), 'meshctl-proxy-compile-bad-'));
  try {
    writeFileSync(join(bad, 'a.yaml'), 'kind: VirtualService\nmetadata: {name: [\n');
    const [child, local] = await Promise.all([childCompiler(bundle)({ dir: bad, key }, never), compileDir({ dir: bad, key })]);
    if (!('error' in child) || !('error' in local)) throw new Error('both compiles should fail');
    const pick = (e: Error) => ({ name: e.name, message: e.message, ...(e as unknown as Record<string, unknown>) });
    const { hint, code } = local.error as { hint?: string; code?: string };
    expect(pick(child.error)).toMatchObject({ name: local.error.name, message: local.error.message, code, hint, exitCode: 65 });
    expect((child.error.cause as Error).stack).toMatch(/proxy-compile\.cjs/);
  } finally {
    rmSync(bad, { recursive: true, force: true });
  }
});

it('a compiler that hangs is killed after its time; one that crashes says how, with its last stderr line', async () => {
  const hang = join(dir, 'hang.cjs');
  const crash = join(dir, 'crash.cjs');
  writeFileSync(hang, 'setInterval(() => {}, 1000);\n');
  writeFileSync(crash, 'process.stderr.write("first\\nout of cheese\\n"); process.exit(3);\n');
  const thrower = join(dir, 'throw.cjs');
  writeFileSync(thrower, 'throw new TypeError("boom");\n');
  await expect(childCompiler(hang, 300)({ dir, key }, never)).rejects.toThrow('the config compiler was killed after 0.3 s');
  await expect(childCompiler(crash)({ dir, key }, never)).rejects.toThrow('the config compiler exited with 3: out of cheese');
  // An uncaught error: Node's stack and version banner follow it on stderr; the error line is the one said.
  await expect(childCompiler(thrower)({ dir, key }, never)).rejects.toThrow('the config compiler exited with 1: TypeError: boom');
  const ac = new AbortController();
  const stopped = childCompiler(hang)({ dir, key }, ac.signal);
  setTimeout(() => ac.abort(), 50);
  await expect(stopped).rejects.toThrow('config compile stopped');
});
