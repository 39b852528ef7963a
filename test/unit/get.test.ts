import { copyFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { age } from '../../src/commands/get.js';
import { meshctl } from '../helpers/run-meshctl.js';

// `meshctl get` on a --local mesh (the file store); test/integration/cli-cluster-errors.test.ts
// runs it against the real API server.

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshctl-get-'));
  await copyFile(new URL('../../samples/bookinfo/networking/virtual-service-all-v1.yaml', import.meta.url), join(dir, 'vs.yaml'));
});

describe('meshctl get --local', () => {
  it('lists the objects of a kind as a table sorted by namespace and name', async () => {
    const r = await meshctl(['get', 'virtualservices', '--local', dir]);
    expect(r.exitCode).toBe(0);
    const rows = r.stdout.trimEnd().split('\n').map((l) => l.split(/\s+/));
    expect(rows[0]).toEqual(['NAME', 'NAMESPACE', 'AGE']);
    expect(rows.slice(1).map((c) => c[0])).toEqual(['details', 'productpage', 'ratings', 'reviews']);
  });

  it('prints one object as YAML, and a list as a kubectl-style List in JSON', async () => {
    const one = await meshctl(['get', 'VirtualService', 'reviews', '-o', 'yaml', '--local', dir]);
    expect(one.exitCode).toBe(0);
    expect(one.stdout).toMatch(/^apiVersion: networking\.istio\.io\/v1\nkind: VirtualService\nmetadata:\n {2}name: reviews\n/);
    const list = JSON.parse((await meshctl(['get', 'virtualservice', '-o', 'json', '--local', dir])).stdout) as { kind: string; items: unknown[] };
    expect(list).toMatchObject({ apiVersion: 'v1', kind: 'List' });
    expect(list.items).toHaveLength(4);
  });

  it('says so on stderr when there is nothing, with nothing on stdout', async () => {
    const r = await meshctl(['get', 'destinationrules', '--local', dir]);
    expect(r).toMatchObject({ exitCode: 0, stdout: '' });
    expect(r.stderr).toMatch(/^No destinationrules found in namespace "default"/);
  });

  it('exits 65 for a missing object and 64 for an unknown kind, with a suggestion', async () => {
    const missing = await meshctl(['get', 'virtualservice', 'nope', '--local', dir]);
    expect(missing.exitCode).toBe(65);
    expect(missing.stderr).toMatch(/^Error: VirtualService "nope" not found in namespace "default" .*\(list them with: meshctl get virtualservices -n default\)\n$/);
    const typo = await meshctl(['get', 'destinationrule5', '--local', dir]);
    expect(typo.exitCode).toBe(64);
    expect(typo.stderr).toBe('Error: unknown kind "destinationrule5" (did you mean "destinationrules"?)\n');
  });
});

describe('age', () => {
  const now = new Date('2026-01-10T12:00:00Z');
  it.each([
    ['2026-01-10T11:59:15Z', '45s'],
    ['2026-01-10T11:53:00Z', '7m'],
    ['2026-01-10T07:00:00Z', '5h'],
    ['2026-01-07T12:00:00Z', '3d'],
    [undefined, '<unknown>'],
  ])('%s -> %s', (created, want) => expect(age(created, now)).toBe(want));
});
