import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { KubeStore } from '../../src/store/kube-store.js';
import { adminKubeconfig, freshNamespace, kubeEnv, limitedKubeconfig } from '../helpers/cluster.js';
import { meshctl, type MeshctlResult } from '../helpers/run-meshctl.js';

const vs = (ns: string, name: string) => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name, namespace: ns },
  spec: { hosts: [name], http: [{ route: [{ destination: { host: name } }] }] },
});

/** One line on stderr, no stack trace: what a user or a CI log should see. */
function expectOneLineError(r: MeshctlResult): void {
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^Error: /);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  await new Promise((r) => server.close(r));
  if (!addr || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshctl-cli-cluster-'));
});

describe('meshctl get against the test cluster', () => {
  it('lists, shows and prints objects of a kind in table, json and yaml', async () => {
    const ns = await freshNamespace('cli-get');
    const store = await KubeStore.fromKubeconfig({ kubeconfig: adminKubeconfig(), env: {} });
    await store.apply(vs(ns, 'reviews'));
    await store.apply(vs(ns, 'ratings'));
    await store.close();

    const table = await meshctl(['get', 'virtualservices', '-n', ns], { env: kubeEnv() });
    expect(table.exitCode).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+NAMESPACE\s+AGE$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 2))).toEqual([
      ['ratings', ns],
      ['reviews', ns],
    ]);
    expect(lines[1]).toMatch(/\d+s$/);

    const json = await meshctl(['get', 'VirtualService', '-n', ns, '-o', 'json'], { env: kubeEnv() });
    const list = JSON.parse(json.stdout) as { kind: string; items: { kind: string; metadata: { name: string } }[] };
    expect(list.kind).toBe('List');
    expect(list.items.map((i) => `${i.kind}/${i.metadata.name}`)).toEqual(['VirtualService/ratings', 'VirtualService/reviews']);

    const one = await meshctl(['get', 'virtualservice', 'reviews', '-n', ns, '-o', 'yaml'], { env: kubeEnv() });
    expect(one.exitCode).toBe(0);
    expect(one.stdout).toMatch(/^apiVersion: networking\.istio\.io\/v1\nkind: VirtualService\n/);
    expect(one.stdout).toContain(`namespace: ${ns}`);
  });

  it('-A lists every namespace; an empty namespace prints nothing on stdout and a note on stderr', async () => {
    const a = await freshNamespace('cli-all');
    const store = await KubeStore.fromKubeconfig({ kubeconfig: adminKubeconfig(), env: {} });
    await store.apply({ ...vs(a, 'productpage'), kind: 'VirtualService' });
    await store.close();
    const all = await meshctl(['get', 'virtualservices', '-A'], { env: kubeEnv() });
    expect(all.exitCode).toBe(0);
    expect(all.stdout).toMatch(new RegExp(`^productpage\\s+${a}\\s`, 'm'));

    const empty = await freshNamespace('cli-empty');
    const none = await meshctl(['get', 'destinationrules', '-n', empty], { env: kubeEnv() });
    expect(none).toMatchObject({ exitCode: 0, stdout: '' });
    expect(none.stderr).toContain(`No destinationrules found in namespace "${empty}"`);
  });

  it('a missing object exits 65; an unknown kind exits 64 with a suggestion', async () => {
    const ns = await freshNamespace('cli-missing');
    const missing = await meshctl(['get', 'virtualservice', 'nope', '-n', ns], { env: kubeEnv() });
    expect(missing.exitCode).toBe(65);
    expectOneLineError(missing);
    expect(missing.stderr).toContain(`VirtualService "nope" not found in namespace "${ns}"`);

    const typo = await meshctl(['get', 'virtualservce'], { env: kubeEnv() });
    expect(typo.exitCode).toBe(64);
    expectOneLineError(typo);
    expect(typo.stderr).toContain('did you mean "virtualservices"?');
  });
});

describe('cluster errors become one line and an exit code', () => {
  it('an unreachable API server exits 69 naming the server and the fix', async () => {
    const port = await closedPort();
    const kubeconfig = join(dir, 'unreachable.kubeconfig');
    await writeFile(kubeconfig, (await readFile(adminKubeconfig(), 'utf8')).replace(/server: .*/, `server: https://127.0.0.1:${port}`));
    const r = await meshctl(['get', 'virtualservices'], { env: kubeEnv(kubeconfig) });
    expect(r.exitCode).toBe(69);
    expectOneLineError(r);
    expect(r.stderr).toContain(`cannot reach the API server at https://127.0.0.1:${port}`);
    expect(r.stderr).toContain('connection refused');
    expect(r.stderr).toContain('--local DIR');

    // version does not fail for it: it reports the control plane as unreachable.
    const v = await meshctl(['version'], { env: kubeEnv(kubeconfig) });
    expect(v.exitCode).toBe(0);
    expect(v.stdout).toMatch(/control plane: unreachable: cannot reach the API server at https:\/\/127\.0\.0\.1:\d+/);
  });

  it('a server certificate the kubeconfig does not trust exits 69 and says TLS failed', async () => {
    const kubeconfig = join(dir, 'untrusted.kubeconfig');
    // Without the cluster's CA the self-signed test CA is checked against the system roots.
    await writeFile(kubeconfig, (await readFile(adminKubeconfig(), 'utf8')).replace(/^\s*certificate-authority-data: .*\n/m, ''));
    const r = await meshctl(['get', 'virtualservices'], { env: kubeEnv(kubeconfig) });
    expect(r.exitCode).toBe(69);
    expectOneLineError(r);
    expect(r.stderr).toMatch(/cannot reach the API server at https:\/\/127\.0\.0\.1:\d+ .*TLS failed/);
  });

  it('a server URL fetch refuses (port 1) or cannot parse exits 69, not as an internal error', async () => {
    const bad = join(dir, 'badport.kubeconfig');
    await writeFile(bad, (await readFile(adminKubeconfig(), 'utf8')).replace(/server: .*/, 'server: https://127.0.0.1:1'));
    const r = await meshctl(['get', 'virtualservices'], { env: kubeEnv(bad) });
    expect(r.exitCode).toBe(69);
    expectOneLineError(r);
    expect(r.stderr).toContain('cannot reach the API server at https://127.0.0.1:1');

    const notUrl = join(dir, 'noturl.kubeconfig');
    await writeFile(notUrl, (await readFile(adminKubeconfig(), 'utf8')).replace(/server: .*/, 'server: 127.0.0.1 6443'));
    const u = await meshctl(['get', 'virtualservices'], { env: kubeEnv(notUrl) });
    expect(u.exitCode).toBe(69);
    expectOneLineError(u);
    expect(u.stderr).toContain('has a server that is not a URL: "127.0.0.1 6443"');
  });

  it('a kubeconfig path that does not exist exits 69 naming the file', async () => {
    const r = await meshctl(['get', 'virtualservices', '--kubeconfig', '/nonexistent/meshctl/kubeconfig']);
    expect(r.exitCode).toBe(69);
    expectOneLineError(r);
    expect(r.stderr).toContain('kubeconfig /nonexistent/meshctl/kubeconfig does not exist');
  });

  it('an unparsable kubeconfig exits 69 naming the file', async () => {
    const broken = join(dir, 'broken.kubeconfig');
    await writeFile(broken, 'clusters: [\n  - : : :\n');
    const r = await meshctl(['get', 'virtualservices', '--kubeconfig', broken]);
    expect(r.exitCode).toBe(69);
    expectOneLineError(r);
    expect(r.stderr).toContain(`cannot read kubeconfig ${broken}`);
  });

  it('an unknown --context exits 69 and lists the contexts that exist', async () => {
    const r = await meshctl(['get', 'virtualservices', '--context', 'prod'], { env: kubeEnv() });
    expect(r.exitCode).toBe(69);
    expectOneLineError(r);
    expect(r.stderr).toContain('context "prod" not found in kubeconfig');
    expect(r.stderr).toContain('contexts in it: meshctl-test-admin');
  });

  it('KUBECONFIG with several files merges them, so --context can pick one from the second file', async () => {
    const ns = await freshNamespace('cli-merge');
    const r = await meshctl(['get', 'virtualservices', '-n', ns, '--context', 'meshctl-test-admin'], {
      env: { KUBECONFIG: `${limitedKubeconfig()}:${adminKubeconfig()}` },
    });
    expect(r.exitCode).toBe(0);
    // Without --context the first file's current context (the limited user) is used.
    const limited = await meshctl(['get', 'virtualservices', '-n', ns], { env: { KUBECONFIG: `${limitedKubeconfig()}:${adminKubeconfig()}` } });
    expect(limited.exitCode).toBe(77);
  });

  it('credentials the API server does not accept exit 77 naming the context', async () => {
    const kubeconfig = join(dir, 'badtoken.kubeconfig');
    await writeFile(kubeconfig, (await readFile(adminKubeconfig(), 'utf8')).replace(/token: .*/, 'token: not-a-valid-token'));
    const r = await meshctl(['get', 'virtualservices'], { env: kubeEnv(kubeconfig) });
    expect(r.exitCode).toBe(77);
    expectOneLineError(r);
    expect(r.stderr).toContain('rejected the credentials of context "meshctl-test-admin" (401 Unauthorized)');
  });

  it('a user without RBAC permission exits 77 naming the verb, resource, namespace and permission', async () => {
    const ns = await freshNamespace('cli-forbidden');
    const r = await meshctl(['get', 'virtualservices', '-n', ns], { env: kubeEnv(limitedKubeconfig()) });
    expect(r.exitCode).toBe(77);
    expectOneLineError(r);
    expect(r.stderr).toContain(`cannot list virtualservices in namespace "${ns}"`);
    expect(r.stderr).toContain('User "limited" cannot list resource "virtualservices" in API group "networking.istio.io"');
    expect(r.stderr).toContain(`missing RBAC permission: list virtualservices.networking.istio.io in namespace "${ns}"`);

    const one = await meshctl(['get', 'service', 'x', '-n', ns], { env: kubeEnv(limitedKubeconfig()) });
    expect(one.exitCode).toBe(77);
    expect(one.stderr).toContain(`missing RBAC permission: get services in namespace "${ns}"`);
  });
});
