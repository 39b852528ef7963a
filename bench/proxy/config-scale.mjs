#!/usr/bin/env node
// How `meshctl proxy --config DIR` scales with the mesh, against the sidecar as injected
// (`--discovery`, fed by `meshctl --local DIR controller`) in the same run. For each size N
// (ServiceEntry + WorkloadEntry + VirtualService + DestinationRule per service, 50 services per
// file): time from start to the `ready` line, RSS once ready and idle, then five edits (atomic
// saves that change one route's timeout) with, for each, the time from the save to the proxy's
// `reload` line and the worst gap seen by a client probing the proxy's health port every ~1 ms
// over one kept-alive connection (how long traffic was held up while the proxy took the change in),
// and RSS after the edits. Medians of the five edits. Loopback only; every wait is bounded.
// Usage: node bench/proxy/config-scale.mjs [sizes...]   (default 100 1000)
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearTimeout, setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';

if (Number(process.versions.node.split('.')[0]) < 24) {
  console.error(`bench/proxy/config-scale needs the project's Node 24 (this is ${process.version}): export PATH=$PWD/node_modules/.bin:$PATH`);
  process.exit(1);
}
const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'bin/meshctl');
const sizes = process.argv.slice(2).map(Number);
if (sizes.some((n) => !Number.isInteger(n) || n < 1)) {
  console.error('usage: node bench/proxy/config-scale.mjs [sizes...] (whole numbers of services, e.g. 100 1000)');
  process.exit(1);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rssMB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

function service(i) {
  const n = `svc-${i}`;
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${n}, namespace: default}
spec:
  hosts: [${n}.local]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  workloadSelector: {labels: {app: ${n}}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${n}-v1, namespace: default}
spec: {address: 127.0.0.${1 + (i % 200)}, ports: {http: 18080}, labels: {app: ${n}, version: v1}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${n}, namespace: default}
spec:
  hosts: [${n}.local]
  http:
  - match: [{headers: {end-user: {exact: tester}}}]
    route: [{destination: {host: ${n}.local, subset: v1}}]
  - timeout: 3s
    retries: {attempts: 2, perTryTimeout: 1s}
    route: [{destination: {host: ${n}.local, subset: v1}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${n}, namespace: default}
spec:
  host: ${n}.local
  trafficPolicy: {outlierDetection: {interval: 10s, baseEjectionTime: 30s}}
  subsets: [{name: v1, labels: {version: v1}}]`;
}

function generate(n) {
  const dir = mkdtempSync(join(tmpdir(), `meshctl-config-scale-${n}-`));
  for (let f = 0; f * 50 < n; f++) {
    const docs = [];
    for (let i = f * 50; i < Math.min(n, (f + 1) * 50); i++) docs.push(service(i));
    writeFileSync(join(dir, `f${String(f).padStart(4, '0')}.yaml`), docs.join('\n---\n') + '\n');
  }
  return dir;
}

/** Starts `meshctl args`, collecting stdout lines; `waitFor` resolves on the first matching line after `from`. */
function start(args) {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  let waiters = [];
  let buf = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
    waiters = waiters.filter((w) => !w());
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const waitFor = (pred, from, ms) =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no matching line from meshctl ${args.join(' ')} in ${ms} ms: ${stderr.trim().split('\n').at(-1) ?? ''}`)), ms);
      const check = () => {
        const i = lines.findIndex((l, k) => k >= from && pred(l));
        if (i < 0) return false;
        clearTimeout(t);
        resolve(lines[i]);
        return true;
      };
      if (!check()) waiters.push(check);
    });
  return { child, lines, waitFor, stop: () => new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', r), child.kill('SIGTERM')))) };
}

/** GET /healthz/ready every ~1 ms on one kept-alive connection; `worst()` is the longest answer since the last reset. */
function probe(port) {
  const s = connect(port, '127.0.0.1');
  let t0 = 0;
  let worst = 0;
  let pending = false;
  let stopped = false;
  let buf = '';
  const send = () => {
    if (stopped) return;
    pending = true;
    t0 = performance.now();
    s.write('GET /healthz/ready HTTP/1.1\r\nhost: probe\r\n\r\n');
  };
  s.setEncoding('latin1');
  s.on('data', (d) => {
    buf += d;
    if (!buf.includes('\r\n\r\n')) return;
    buf = '';
    pending = false;
    worst = Math.max(worst, performance.now() - t0);
    setTimeout(send, 1);
  });
  s.on('connect', send);
  s.on('error', () => undefined);
  return {
    reset: () => (worst = 0),
    worst: () => Math.max(worst, pending ? performance.now() - t0 : 0),
    stop: () => ((stopped = true), s.destroy()),
  };
}

const PROXY_PORTS = ['--outbound-port', '0', '--inbound-port', '0', '--admin-port', '0', '--stats-port', '0', '--bind', '127.0.0.1'];

async function measure(mode, dir, n) {
  let ctl;
  let source;
  if (mode === '--discovery') {
    ctl = start(['--local', dir, 'controller', '--discovery-port', '0', '--monitoring-port', '0', '--address', '127.0.0.1']);
    const ready = JSON.parse(await ctl.waitFor((l) => l.includes('"event":"ready"'), 0, 120_000));
    source = ['--discovery', `http://127.0.0.1:${ready.ports.discovery}`];
  } else source = ['--config', dir];
  const t0 = performance.now();
  const p = start(['proxy', ...source, '--workload', 'bench', '--health-port', '0', ...PROXY_PORTS]);
  const ready = JSON.parse(await p.waitFor((l) => l.includes('"event":"ready"'), 0, 120_000));
  const readyMs = performance.now() - t0;
  const rssReady = rssMB(p.child.pid);
  await sleep(3000);
  const rssIdle = rssMB(p.child.pid);
  const pr = probe(ready.ports.health);
  await sleep(300);
  const reloadMs = [];
  const stallMs = [];
  const file = join(dir, 'f0000.yaml');
  const original = readFileSync(file, 'utf8');
  for (let e = 0; e < 5; e++) {
    const from = p.lines.length;
    const text = original.replace('timeout: 3s', `timeout: ${10 + e}s`);
    writeFileSync(join(dir, '.edit.tmp'), text);
    pr.reset();
    const t = performance.now();
    renameSync(join(dir, '.edit.tmp'), file);
    await p.waitFor((l) => l.includes('"event":"reload"'), from, 30_000);
    reloadMs.push(performance.now() - t);
    await sleep(300);
    stallMs.push(pr.worst());
  }
  const rssAfter = rssMB(p.child.pid);
  writeFileSync(file, original);
  pr.stop();
  await p.stop();
  await ctl?.stop();
  return { mode, n, readyMs, rssReady, rssIdle, reloadMs: median(reloadMs), stallMs: median(stallMs), stallMax: Math.max(...stallMs), rssAfter };
}

const results = [];
for (const n of sizes.length ? sizes : [100, 1000]) {
  const dir = generate(n);
  try {
    for (const mode of ['--config', '--discovery']) {
      const r = await measure(mode, dir, n);
      results.push(r);
      process.stderr.write(`${n} services ${mode}: ready ${r.readyMs.toFixed(0)} ms, rss ${r.rssIdle.toFixed(1)} -> ${r.rssAfter.toFixed(1)} MB, edit -> reload ${r.reloadMs.toFixed(0)} ms, stall ${r.stallMs.toFixed(1)} ms\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const f = (x, d = 0) => x.toFixed(d);
console.log(`Machine: ${process.arch}, Node ${process.version}, ${new Date().toISOString()}. One run per size; edits: medians of 5.`);
console.log('');
console.log('| services | proxy | ms to ready | RSS idle MB | RSS after 5 edits MB | save -> reload ms | traffic held up per edit ms (median / max) |');
console.log('|---|---|---|---|---|---|---|');
for (const r of results) console.log(`| ${r.n} | ${r.mode} | ${f(r.readyMs)} | ${f(r.rssIdle, 1)} | ${f(r.rssAfter, 1)} | ${f(r.reloadMs)} | ${f(r.stallMs, 1)} / ${f(r.stallMax, 1)} |`);
console.log('');
for (const n of new Set(results.map((r) => r.n))) {
  const c = results.find((r) => r.n === n && r.mode === '--config');
  const d = results.find((r) => r.n === n && r.mode === '--discovery');
  console.log(`${n} services: --config / --discovery RSS idle ${f(c.rssIdle / d.rssIdle, 2)}x, after edits ${f(c.rssAfter / d.rssAfter, 2)}x; save -> reload ${f(c.reloadMs / d.reloadMs, 2)}x.`);
}
