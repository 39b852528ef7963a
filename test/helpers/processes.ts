import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Helpers for the e2e tier: real `meshctl` processes and tiny upstreams, on 127.0.0.1 and port 0
 * only, with every wait bounded.
 */

/**
 * The built launcher the e2e tests spawn: run `node scripts/build.mjs` first (npm test does).
 * MESHCTL_E2E_BIN points the tests at another build's launcher.
 */
export const meshctlBin: string = process.env.MESHCTL_E2E_BIN ?? fileURLToPath(new URL('../../bin/meshctl', import.meta.url));

/**
 * An http upstream on 127.0.0.1, port 0, answering every request with its name — followed by the
 * request path unless `echoPath` is false (the load tests count bodies, so they want the name alone).
 */
export function serve(name: string, { echoPath = true }: { echoPath?: boolean } = {}): Promise<Server> {
  const s = createServer((q, r) => r.end(echoPath ? `${name} ${q.url}` : name));
  return new Promise((res) => s.listen(0, '127.0.0.1', () => res(s)));
}

/** The port a listening server got (they all listen on port 0). */
export function portOf(s: Server): number {
  return (s.address() as AddressInfo).port;
}

/**
 * GET `path` from 127.0.0.1:`port` with Host `host`; resolves with the status and the whole body.
 * `agent: false` (the default) opens a fresh connection; the load tests pass a keep-alive Agent.
 */
export function get(port: number, host: string, path = '/', agent: Agent | false = false): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, headers: { host }, agent }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

/** A spawned `meshctl`, with its stdout and stderr collected line by line into one list. */
export interface MeshctlProcess {
  child: ChildProcess;
  /** Complete lines of stdout and stderr, interleaved in arrival order. */
  lines: string[];
  /**
   * Resolves with the first line at index `from` or later that matches `pred`; rejects after `ms`
   * with everything the process said, so a failure shows why.
   */
  waitFor(pred: (l: string) => boolean, from?: number, ms?: number): Promise<string>;
}

/** Spawns `meshctl args...` (the built binary, under this Node) and starts collecting its output. */
export function spawnMeshctl(args: string[], env?: Record<string, string>): MeshctlProcess {
  const child = spawn(process.execPath, [meshctlBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env: { ...process.env, ...env } } : {}) });
  const lines: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    // Chunks split lines anywhere: keep the unfinished tail until its newline arrives.
    let buf = '';
    stream.on('data', (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      lines.push(...parts);
    });
  }
  return { child, lines, waitFor: (pred, from, ms) => waitFor(lines, pred, from, ms) };
}

/** Spawns meshctl processes and remembers them, so afterAll can kill whatever a failed test left running. */
export function processTracker(): { start(args: string[], env?: Record<string, string>): MeshctlProcess; killAll(): void } {
  const procs: MeshctlProcess[] = [];
  return {
    start(args, env) {
      const p = spawnMeshctl(args, env);
      procs.push(p);
      return p;
    },
    killAll() {
      for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    },
  };
}

/**
 * Polls `lines` every 20 ms until one at index `from` or later matches `pred`, for at most `ms`.
 * Exported for output collected some other way; a MeshctlProcess has it bound as `waitFor`.
 */
export async function waitFor(lines: readonly string[], pred: (l: string) => boolean, from = 0, ms = 15_000): Promise<string> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    const l = lines.slice(from).find(pred);
    if (l) return l;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out after ${ms} ms; output so far:\n${lines.join('\n')}`);
}

/** `meshctl proxy` flags that put every listener on a free 127.0.0.1 port (read them from the ready line). */
export const FREE_PROXY_PORTS: readonly string[] = ['--outbound-port', '0', '--inbound-port', '0', '--admin-port', '0', '--stats-port', '0', '--health-port', '0', '--bind', '127.0.0.1'];

/** Sends `n` requests, `concurrency` at a time, and counts the answers by "status body" (body only for 200). */
export async function countResponses(n: number, send: () => Promise<{ status: number; body: string }>, concurrency = 16): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        const r = await send();
        const key = `${r.status} ${r.status === 200 ? r.body : ''}`.trim();
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }),
  );
  return counts;
}

/** |observed - n p| within 4 standard deviations of a binomial(n, p): the bound traffic-split tests use. */
export function withinFourSigma(observed: number, n: number, p: number): boolean {
  return Math.abs(observed - n * p) <= 4 * Math.sqrt(n * p * (1 - p));
}

/**
 * A `reviews.local` ServiceEntry with two WorkloadEntries (v1, v2) on the given ports, their
 * DestinationRule subsets and a VirtualService sending `weightV2` % to v2: the mesh of local
 * processes that the proxy and controller end-to-end tests serve.
 */
export function reviewsLocalMesh(v1Port: number, v2Port: number, weightV2: number): string {
  return `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews.local]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  workloadSelector: {labels: {app: reviews}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-v1, namespace: default}
spec: {address: 127.0.0.1, ports: {http: ${v1Port}}, labels: {app: reviews, version: v1}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-v2, namespace: default}
spec: {address: 127.0.0.1, ports: {http: ${v2Port}}, labels: {app: reviews, version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews.local
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews.local]
  http:
  - route:
    - {destination: {host: reviews.local, subset: v1}, weight: ${100 - weightV2}}
    - {destination: {host: reviews.local, subset: v2}, weight: ${weightV2}}
`;
}

/** Two upstream versions, a mesh directory and `meshctl proxy --config` serving it: the canary e2e fixture. */
export interface ProxyMesh {
  v1: Server;
  v2: Server;
  dir: string;
  proc: MeshctlProcess;
  outbound: number;
  stats: number;
}

/** Starts v1 and v2, writes `yaml(v1Port, v2Port)` as reviews.yaml into a fresh temp dir and serves it. */
export async function startProxyMesh(prefix: string, yaml: (v1Port: number, v2Port: number) => string): Promise<ProxyMesh> {
  const [v1, v2] = await Promise.all([serve('v1', { echoPath: false }), serve('v2', { echoPath: false })]);
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(join(dir, 'reviews.yaml'), yaml(portOf(v1), portOf(v2)));
  const proc = spawnMeshctl(['proxy', '--config', dir, '--workload', 'e2e-client', '-n', 'default', ...FREE_PROXY_PORTS]);
  const ready = JSON.parse(await proc.waitFor((l) => l.includes('"event":"ready"'))) as { ports: { outbound: number; stats: number } };
  return { v1, v2, dir, proc, outbound: ready.ports.outbound, stats: ready.ports.stats };
}

export function stopProxyMesh(m: ProxyMesh | undefined): void {
  if (!m) return;
  m.proc.child.kill('SIGKILL');
  m.v1.close();
  m.v2.close();
  rmSync(m.dir, { recursive: true, force: true });
}
