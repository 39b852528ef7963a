import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/commands/install.js';
import { mapLimit } from '../../src/core/map-limit.js';
import { meshctl } from '../helpers/run-meshctl.js';

/** Pre-checks that need no real cluster: an API server that is down or too old. */
const dir = mkdtempSync(join(tmpdir(), 'meshctl-install-errors-'));
let server: Server;
let requests: string[] = [];

function kubeconfig(name: string, url: string, insecure = true): string {
  const file = join(dir, `${name}.kubeconfig`);
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "${url}", insecure-skip-tls-verify: ${insecure} } }]
users: [{ name: u, user: { token: t } }]
contexts: [{ name: ${name}, context: { cluster: c, user: u } }]
current-context: ${name}
`,
  );
  return file;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.setHeader('content-type', 'application/json');
    if (req.url === '/version') res.end(JSON.stringify({ major: '1', minor: '20', gitVersion: 'v1.20.15' }));
    else if (req.url === '/apis/apps/v1/namespaces/meshctl-system/deployments/meshctl-controller') {
      // A Deployment no kubelet will ever run.
      res.end(JSON.stringify({ metadata: { name: 'meshctl-controller', namespace: 'meshctl-system', generation: 1 }, spec: { replicas: 2 }, status: { observedGeneration: 1, updatedReplicas: 2, readyReplicas: 0 } }));
    } else {
      res.statusCode = 500;
      res.end('{}');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('install pre-checks', () => {
  it('names an API server it cannot reach (exit 69)', async () => {
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    const r = await meshctl('install --profile minimal', { env: { KUBECONFIG: kubeconfig('down', 'http://127.0.0.1:1') } });
    expect(r.exitCode).toBe(69);
    expect(r.stderr).toContain('cannot reach the API server at http://127.0.0.1:1 (context "down")');
  });

  it('refuses a Kubernetes that is too old before anything else (exit 69)', async () => {
    requests = [];
    const addr = server.address() as { port: number };
    const r = await meshctl('install', { env: { KUBECONFIG: kubeconfig('old', `http://127.0.0.1:${addr.port}`) } });
    expect(r.stderr).toContain('Error: Kubernetes v1.20.15 at http://127.0.0.1:');
    expect(r.stderr).toContain('is not supported (meshctl needs Kubernetes 1.27 or newer)');
    expect(r.exitCode).toBe(69);
    expect(requests).toEqual(['GET /version']);
  });

  it('turns a kubeconfig client-node refuses into a one-line error (exit 69)', async () => {
    const r = await meshctl('install', { env: { KUBECONFIG: kubeconfig('plain-http', 'http://127.0.0.1:1', false) } });
    expect(r.stderr).toContain('Error: cannot talk to the API server at http://127.0.0.1:1 (context "plain-http"): HTTP protocol is not allowed');
    expect(r.exitCode).toBe(69);
  });

  it('says so when there is no kubeconfig at all', async () => {
    const r = await meshctl('install', { env: { KUBECONFIG: join(dir, 'missing.kubeconfig') } });
    expect(r.exitCode).toBe(69);
    expect(r.stderr).toContain('does not exist');
  });

  it('waitFor reports why and for how long it has waited, then times out naming the reason', async () => {
    const { KubeApplier, deploymentReady } = await import('../../src/store/kube-apply.js');
    const addr = server.address() as { port: number };
    const kube = await KubeApplier.open({ env: { KUBECONFIG: kubeconfig('wait', `http://127.0.0.1:${addr.port}`) } });
    const seen: [string, number][] = [];
    let t = 0;
    const wait = kube.waitFor({ kind: 'Deployment', namespace: 'meshctl-system', name: 'meshctl-controller' }, deploymentReady, {
      timeoutMs: 1000,
      intervalMs: 1,
      now: () => (t += 300), // each look at the clock is 300ms later: bounded, and no real waiting
      onWait: (why, ms) => seen.push([why, ms]),
    });
    await expect(wait).rejects.toThrow('Deployment meshctl-controller in namespace "meshctl-system" is not ready after 1s: 0 of 2 replicas ready');
    await kube.close();
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.every(([why]) => why === '0 of 2 replicas ready')).toBe(true);
    expect(seen.map(([, ms]) => ms)).toEqual([...seen.map(([, ms]) => ms)].sort((a, b) => a - b));
    expect(seen[0]?.[1]).toBeGreaterThan(0);
  });

  it('plans objects a few at a time, keeping their order', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 0, 6], 3, async (n) => {
      peak = Math.max(peak, ++running);
      await new Promise((r) => setTimeout(r, n));
      running--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30, 0, 60]);
    expect(peak).toBe(3);
    expect(await mapLimit([], 3, async () => 1)).toEqual([]);
  });

  it('parses --timeout durations', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('30')).toBe(30_000);
    expect(() => parseDuration('soon')).toThrow(/--timeout "soon" is not a duration/);
  });

  it('rejects a bad --timeout as a usage error before contacting anything', async () => {
    const r = await meshctl('install --timeout soon', { env: { KUBECONFIG: kubeconfig('never', 'http://127.0.0.1:1') } });
    expect(r.exitCode).toBe(64);
  });
});
