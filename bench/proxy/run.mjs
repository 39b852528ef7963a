#!/usr/bin/env node
// Proxy benchmark: wrk + nginx upstream pinned to core 0, the proxy under test alone on core 1.
// Variants run interleaved (rotated order each round), each round starts fresh processes:
//   direct (wrk -> nginx), meshctl proxy (routing + metrics), meshctl proxy --no-metrics,
//   node-http-proxy with a keep-alive agent, HAProxy, a bare Node TCP forwarder (the latency floor
//   for any proxy on Node), a bare Node http server answering itself (the throughput ceiling).
// Per run: max throughput (wrk -t1 -c50), latency at a fixed 1,000 req/s (fortio, Istio's own load
// generator: -qps 1000 -c 10 -uniform, requests evenly spaced; built once into ~/.cache/meshctl/bin
// with `go install`; without Go it falls back to wrk + bench/proxy/delay.lua, whose 10 connections
// send in bursts of 10 every 10 ms), CPU of the proxy process during the 1k req/s run, RSS idle /
// after max load. Medians over rounds. Usage:
//   node bench/proxy/run.mjs [--rounds 3] [--seconds 10] [--long 60] [--long-variant NAME] [--only a,b] [--write]
// --long N adds one N-second max-load run (of `meshctl proxy` unless --long-variant names another)
// for RSS over time; --write updates bench/README.md.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, homedir, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearInterval, setInterval, setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';

if (Number(process.versions.node.split('.')[0]) < 24) {
  console.error(`bench/proxy needs the project's Node 24 (this is ${process.version}): export PATH=$PWD/node_modules/.bin:$PATH`);
  process.exit(1);
}
// The bench's own tools come from Debian; without them it says so in one line, not a stack trace.
{
  const needs = { taskset: 'util-linux', nginx: 'nginx', wrk: 'wrk', haproxy: 'haproxy' };
  const missing = Object.entries(needs).filter(([bin]) => spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0);
  if (missing.length) {
    console.error(`bench/proxy needs ${missing.map(([b]) => b).join(', ')}: install them with sudo apt-get install ${[...new Set(missing.map(([, pkg]) => pkg))].join(' ')}`);
    process.exit(1);
  }
}
const root = fileURLToPath(new URL('../../', import.meta.url));
const here = fileURLToPath(new URL('.', import.meta.url));
const args = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(args[i + 1]);
};
const ROUNDS = flag('rounds', 3);
const SECONDS = flag('seconds', 10);
const LONG = flag('long', 0);
const LONG_VARIANT = args.includes('--long-variant') ? args[args.indexOf('--long-variant') + 1] : 'meshctl proxy';
const WRITE = args.includes('--write');
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1].split(',') : undefined;
const CLK_TCK = 100;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const p = s.address().port;
  await new Promise((r) => s.close(r));
  return p;
}

function start(cmd, argv, core, readyText, stopSignal = 'SIGKILL') {
  const child = spawn('taskset', ['-c', String(core), cmd, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return {
    child,
    pid: child.pid,
    output: () => out,
    ready: async (port) => {
      for (let i = 0; i < 200; i++) {
        if (readyText ? out.includes(readyText) : await canConnect(port)) return;
        if (child.exitCode !== null) throw new Error(`${cmd} exited: ${out}`);
        await sleep(50);
      }
      throw new Error(`${cmd} did not start: ${out}`);
    },
    stop: async () => {
      if (child.exitCode !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill(stopSignal);
      await done;
    },
  };
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = createServer();
    void s;
    import('node:net').then(({ connect }) => {
      const c = connect(port, '127.0.0.1', () => {
        c.destroy();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
  });
}

/** The ports a meshctl process printed in its `ready` event. */
function readyPorts(p) {
  return JSON.parse(p.output().split('\n').find((l) => l.includes('"event":"ready"'))).ports;
}

/**
 * A meshctl proxy's own memory figures (admin /stats, server.memory.* = process.memoryUsage()), in
 * MB: with RSS alone a slow rise could be the JS heap (a leak) or memory outside it.
 */
async function proxyMemoryMB(admin) {
  try {
    const text = await (await globalThis.fetch(`http://127.0.0.1:${admin}/stats`)).text();
    const get = (k) => Number(new RegExp(`^server\\.memory\\.${k}: (\\d+)$`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
    return { heapTotal: get('heapTotal'), heapUsed: get('heapUsed'), external: get('external') };
  } catch {
    return { heapTotal: NaN, heapUsed: NaN, external: NaN };
  }
}

function rssMB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

function cpuTicks(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime
}

function toMs(v, unit) {
  return unit === 'us' ? v / 1000 : unit === 's' ? v * 1000 : unit === 'm' ? v * 60000 : v;
}

function wrk(port, host, seconds, opts = {}) {
  const a = ['-c', '0', 'wrk', '-t1', `-c${opts.connections ?? 50}`, `-d${seconds}s`, '--latency', '-H', `Host: ${host}`];
  if (opts.lua) a.push('-s', opts.lua);
  a.push(`http://127.0.0.1:${port}/`);
  const out = execFileSync('taskset', a, { env: { ...process.env, ...(opts.env ?? {}) }, encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const pct = (p) => {
    const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s|m)`).exec(out);
    return m ? toMs(Number(m[1]), m[2]) : NaN;
  };
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? '0';
  const socketErr = /Socket errors: (.*)/.exec(out)?.[1];
  return { rps, p50: pct(50), p99: pct(99), non2xx: Number(errors), socketErr };
}

const FORTIO_VERSION = 'v1.66.5';
const FORTIO = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'meshctl', 'bin', 'fortio');

/** fortio from the cache, built with `go install` the first time; undefined without Go. */
function fortioBin() {
  if (existsSync(FORTIO)) return FORTIO;
  try {
    process.stderr.write(`building fortio ${FORTIO_VERSION} into ${dirname(FORTIO)} (once)...\n`);
    execFileSync('go', ['install', `fortio.org/fortio@${FORTIO_VERSION}`], { env: { ...process.env, GOBIN: dirname(FORTIO) }, stdio: ['ignore', 'inherit', 'inherit'] });
    return FORTIO;
  } catch {
    process.stderr.write('fortio could not be built (no Go?): the 1k req/s run falls back to wrk in bursts (bench/proxy/delay.lua)\n');
    return undefined;
  }
}

/** Fixed-rate latency: `qps` requests per second spread evenly over `connections` keep-alive connections. */
function fortio(bin, port, host, seconds, qps = 1000, connections = 10) {
  // fortio prints its results on stderr.
  const run = spawnSync('taskset', ['-c', '0', bin, 'load', '-quiet', '-qps', String(qps), '-c', String(connections), '-uniform', '-t', `${seconds}s`, '-r', '0.000005', '-p', '50,99', '-H', `Host: ${host}`, `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`fortio failed: ${run.stderr}`);
  const out = run.stdout + run.stderr;
  const pct = (p) => Number(new RegExp(`# target ${p}% ([\\d.e+-]+)`).exec(out)?.[1] ?? NaN) * 1000;
  const calls = Number(/All done (\d+) calls/.exec(out)?.[1] ?? NaN);
  const ok = Number(/Code 200 : (\d+)/.exec(out)?.[1] ?? 0);
  const rps = Number(/ms avg, ([\d.]+) qps/.exec(out)?.[1] ?? NaN);
  return { rps, p50: pct(50), p99: pct(99), non2xx: calls - ok, socketErr: undefined };
}

async function nginxUpstream() {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-bench-nginx-'));
  const port = await freePort();
  for (const d of ['cb', 'px', 'fc', 'uw', 'sc']) mkdirSync(join(dir, d));
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 4096; }
http {
  access_log off; keepalive_requests 10000000; keepalive_timeout 120s;
  client_body_temp_path ${dir}/cb; proxy_temp_path ${dir}/px; fastcgi_temp_path ${dir}/fc; uwsgi_temp_path ${dir}/uw; scgi_temp_path ${dir}/sc;
  server { listen 127.0.0.1:${port}; location / { default_type text/plain; return 200 "hello from upstream\\n"; } }
}
`,
  );
  // SIGTERM, not SIGKILL: nginx's master stops its workers; a killed master leaves them running.
  const p = start('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], 0, undefined, 'SIGTERM');
  await p.ready(port);
  return { ...p, port };
}

async function meshDir(upstreamPort) {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-bench-mesh-'));
  writeFileSync(
    join(dir, 'mesh.yaml'),
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: upstream, namespace: default}
spec:
  hosts: [upstream.local]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  workloadSelector: {labels: {app: upstream}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: upstream-v1, namespace: default}
spec: {address: 127.0.0.1, ports: {http: ${upstreamPort}}, labels: {app: upstream, version: v1}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: upstream, namespace: default}
spec:
  hosts: [upstream.local]
  http:
  - match: [{uri: {prefix: /admin}}]
    route: [{destination: {host: upstream.local}}]
  - route: [{destination: {host: upstream.local}}]
    timeout: 10s
`,
  );
  return dir;
}

function variants(nginxPort, mesh) {
  const meshctl = (extra) => async () => {
    const port = await freePort();
    const p = start(process.execPath, [join(root, 'bin/meshctl'), 'proxy', '--config', mesh, '--workload', 'bench', '--outbound-port', String(port), '--inbound-port', '0', '--admin-port', '0', '--stats-port', '0', '--health-port', '0', '--bind', '127.0.0.1', ...extra], 1, '"event":"ready"');
    await p.ready(port);
    return { ...p, port, host: 'upstream.local', admin: readyPorts(p).admin };
  };
  return {
    direct: async () => ({ pid: undefined, port: nginxPort, host: 'upstream.local', stop: async () => undefined }),
    'meshctl proxy': meshctl([]),
    'meshctl --no-metrics': meshctl(['--no-metrics']),
    // The sidecar as injected: config streamed from `meshctl controller` (on the load's core).
    'meshctl --discovery': async () => {
      const ctl = start(process.execPath, [join(root, 'bin/meshctl'), '--local', mesh, 'controller', '--discovery-port', '0', '--monitoring-port', '0', '--address', '127.0.0.1'], 0, '"event":"ready"');
      await ctl.ready();
      const discovery = readyPorts(ctl).discovery;
      const port = await freePort();
      const p = start(process.execPath, [join(root, 'bin/meshctl'), 'proxy', '--discovery', `http://127.0.0.1:${discovery}`, '--workload', 'bench', '--outbound-port', String(port), '--inbound-port', '0', '--admin-port', '0', '--stats-port', '0', '--health-port', '0', '--bind', '127.0.0.1'], 1, '"event":"ready"');
      try {
        await p.ready(port);
      } catch (err) {
        await ctl.stop();
        throw err;
      }
      return { ...p, port, host: 'upstream.local', admin: readyPorts(p).admin, stop: async () => Promise.all([p.stop(), ctl.stop()]) };
    },
    'node-http-proxy': async () => {
      const port = await freePort();
      const p = start(process.execPath, [join(here, 'node-http-proxy.mjs'), String(port), `http://127.0.0.1:${nginxPort}`], 1, 'ready');
      await p.ready(port);
      return { ...p, port, host: 'upstream.local' };
    },
    haproxy: async () => {
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'meshctl-bench-haproxy-'));
      writeFileSync(
        join(dir, 'haproxy.cfg'),
        `global\n  maxconn 8192\n  nbthread 1\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n  option http-keep-alive\nfrontend f\n  bind 127.0.0.1:${port}\n  default_backend b\nbackend b\n  http-reuse always\n  server s1 127.0.0.1:${nginxPort}\n`,
      );
      const p = start('haproxy', ['-f', join(dir, 'haproxy.cfg'), '-db'], 1);
      await p.ready(port);
      return { ...p, port, host: 'upstream.local' };
    },
    'node tcp forward (floor)': async () => {
      const port = await freePort();
      const p = start(process.execPath, [join(here, 'tcp-forward.mjs'), String(port), String(nginxPort)], 1, 'ready');
      await p.ready(port);
      return { ...p, port, host: 'upstream.local' };
    },
    'bare node http': async () => {
      const port = await freePort();
      const p = start(process.execPath, [join(here, 'bare-node.mjs'), String(port)], 1, 'ready');
      await p.ready(port);
      return { ...p, port, host: 'x' };
    },
  };
}

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};

async function main() {
  if (!existsSync(join(root, 'dist/meshctl.js'))) execFileSync(process.execPath, [join(root, 'scripts/build.mjs')], { stdio: 'inherit' });
  const load = loadavg();
  const nginx = await nginxUpstream();
  const mesh = await meshDir(nginx.port);
  const all = variants(nginx.port, mesh);
  const names = Object.keys(all).filter((n) => !ONLY || ONLY.includes(n));
  const results = Object.fromEntries(names.map((n) => [n, []]));
  const lua = join(here, 'delay.lua');
  const fortioAt = fortioBin();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = names.map((_, i) => names[(i + round) % names.length]);
      for (const name of order) {
        const v = await all[name]();
        try {
          await sleep(300);
          const idle = v.pid ? rssMB(v.pid) : NaN;
          wrk(v.port, v.host, 2); // warm-up: JIT, connection pools
          const max = wrk(v.port, v.host, SECONDS);
          const after = v.pid ? rssMB(v.pid) : NaN;
          const t0 = v.pid ? cpuTicks(v.pid) : 0;
          const w0 = performance.now();
          const rate = fortioAt ? fortio(fortioAt, v.port, v.host, SECONDS) : wrk(v.port, v.host, SECONDS, { connections: 10, lua, env: { WRK_DELAY_MS: '10' } });
          const wall = (performance.now() - w0) / 1000;
          const cpu = v.pid ? ((cpuTicks(v.pid) - t0) / CLK_TCK / wall) * 100 : NaN;
          results[name].push({ rps: max.rps, p50: rate.p50, p99: rate.p99, rate: rate.rps, cpu, idle, after, errors: max.non2xx + rate.non2xx, socketErr: max.socketErr });
          process.stderr.write(`round ${round + 1} ${name}: ${max.rps.toFixed(0)} req/s, at ${rate.rps.toFixed(0)} req/s p50 ${rate.p50.toFixed(3)} ms p99 ${rate.p99.toFixed(3)} ms, cpu ${cpu.toFixed(1)} %, rss ${idle.toFixed(1)} -> ${after.toFixed(1)} MB${max.non2xx ? `, ${max.non2xx} non-2xx` : ''}\n`);
        } finally {
          await v.stop();
        }
      }
    }
    let long;
    if (LONG > 0 && all[LONG_VARIANT]) {
      const v = await all[LONG_VARIANT]();
      try {
        const idle = rssMB(v.pid);
        // wrk runs in the background while RSS is sampled every 10 s: growth shows as a rising series.
        const samples = [];
        const w = spawn('taskset', ['-c', '0', 'wrk', '-t1', '-c50', `-d${LONG}s`, '-H', `Host: ${v.host}`, `http://127.0.0.1:${v.port}/`], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        w.stdout.on('data', (d) => (out += d));
        const heapAsked = [];
        const timer = setInterval(() => {
          samples.push(rssMB(v.pid));
          if (v.admin) heapAsked.push(proxyMemoryMB(v.admin));
        }, 10_000);
        await new Promise((r) => w.once('exit', r));
        clearInterval(timer);
        const heap = await Promise.all(heapAsked);
        const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
        long = { seconds: LONG, variant: LONG_VARIANT, idle, after: rssMB(v.pid), rps, samples, heap };
        process.stderr.write(`long run ${LONG}s: ${rps.toFixed(0)} req/s, rss ${idle.toFixed(1)} -> ${samples.map((x) => x.toFixed(0)).join(', ')} -> ${long.after.toFixed(1)} MB; JS heap committed ${heap.map((x) => x.heapTotal.toFixed(1)).join(', ')} MB\n`);
      } finally {
        await v.stop();
      }
    }
    report(results, load, long, fortioAt ? 'fortio' : 'wrk');
  } finally {
    await nginx.stop();
  }
}

/** Change from the second minute (sample 7 of one every 10 s) to the last sample. */
const moved = (xs) => xs[xs.length - 1] - (xs[6] ?? xs[0]);

function heapLine(heap) {
  if (!heap?.length) return '';
  // first / lowest-highest / last: the whole series is in the run's stderr.
  const one = (k) => {
    const xs = heap.map((x) => x[k]).filter(Number.isFinite);
    return xs.length ? `${xs[0].toFixed(1)} first, ${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)}, ${xs[xs.length - 1].toFixed(1)} last` : '-';
  };
  return ` From the proxy's admin /stats at the same times (MB): JS heap committed ${one('heapTotal')}; used ${one('heapUsed')}; external ${one('external')}.`;
}

function report(results, load, long, rateTool) {
  const m = Object.fromEntries(
    Object.entries(results).map(([n, rs]) => [n, Object.fromEntries(['rps', 'p50', 'p99', 'rate', 'cpu', 'idle', 'after', 'errors'].map((k) => [k, median(rs.map((r) => r[k]))]))]),
  );
  const d = m.direct;
  const fmt = (x, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
  const rows = Object.entries(m).map(([n, r]) => {
    const add50 = d && n !== 'direct' && n !== 'bare node http' ? fmt((r.p50 - d.p50) * 1000) : '-';
    const add99 = d && n !== 'direct' && n !== 'bare node http' ? fmt((r.p99 - d.p99) * 1000) : '-';
    const cpuPer1k = Number.isFinite(r.cpu) && r.rate > 0 ? fmt((r.cpu / r.rate) * 1000, 1) : '-';
    return `| ${n} | ${fmt(r.rps)} | ${fmt(r.rate)} | ${fmt(r.p50 * 1000)} | ${fmt(r.p99 * 1000)} | ${add50} | ${add99} | ${cpuPer1k} | ${fmt(r.idle, 1)} | ${fmt(r.after, 1)} |`;
  });
  const mesh = m['meshctl proxy'];
  const floor = m['node tcp forward (floor)'];
  const ratio = (a, b) => (a && b ? (a.rps / b.rps).toFixed(2) : '-');
  // --rounds 0 runs only the long run: no empty table.
  const roundsSection =
    ROUNDS > 0
      ? [
          `${ROUNDS} interleaved rounds x ${SECONDS} s per measurement, medians. wrk -t1 -c50 for max throughput; ${
            rateTool === 'fortio'
              ? `1,000 req/s = fortio ${FORTIO_VERSION} -qps 1000 -c 10 -uniform (requests evenly spaced, as Istio's benchmarks run it).`
              : '~1,000 req/s = wrk -c10 with a 10 ms per-connection delay (bench/proxy/delay.lua: closed loop, the connections send in bursts of 10; fortio could not be built).'
          }`,
          '',
          '| variant | max req/s | req/s in the 1k run | p50 µs @1k | p99 µs @1k | added p50 µs | added p99 µs | CPU % per 1k req/s | RSS idle MB | RSS after max load MB |',
          '|---|---|---|---|---|---|---|---|---|---|',
          ...rows,
          '',
          `Ratios: meshctl / node-http-proxy = ${ratio(mesh, m['node-http-proxy'])} (goal >= 2), meshctl / bare node = ${ratio(mesh, m['bare node http'])} (goal >= 0.45), meshctl metrics on / off = ${ratio(mesh, m['meshctl --no-metrics'])} (goal >= 0.90).`,
          floor && mesh && d
            ? `Added p50 at ~1k req/s: meshctl ${fmt((mesh.p50 - d.p50) * 1000)} µs; a bare Node TCP forwarder (no HTTP at all, the floor for a proxy on Node here) ${fmt((floor.p50 - d.p50) * 1000)} µs; meshctl above that floor: ${fmt((mesh.p50 - floor.p50) * 1000)} µs.`
            : '',
        ]
      : [];
  const lines = [
    `Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${new Date().toISOString()}.`,
    `Load average at start: ${load.map((x) => x.toFixed(2)).join(' ')}${load[0] > 1 ? ' (shared machine: other jobs were running on both cores, so absolute figures are low and noisy; compare ratios)' : ''}.`,
    ...roundsSection,
    long
      ? `Long run: ${long.seconds} s at max load through ${long.variant}: ${long.rps.toFixed(0)} req/s, RSS ${long.idle.toFixed(1)} MB idle, every 10 s under load: ${long.samples.map((x) => x.toFixed(0)).join(', ')} MB, after: ${long.after.toFixed(1)} MB.${heapLine(long.heap)} ${long.seconds >= 600 ? `Soak: from the second minute to the end RSS moved ${moved(long.samples).toFixed(1)} MB${long.heap.length ? `, the committed JS heap ${moved(long.heap.map((x) => x.heapTotal)).toFixed(1)} MB, external memory ${moved(long.heap.map((x) => x.external)).toFixed(1)} MB` : ''} (goal: no growth).` : 'No 10 min soak was run.'}`
      : 'No long (60 s) run or 10 min soak in this run.',
  ];
  const text = lines.join('\n');
  process.stdout.write(text + '\n');
  if (WRITE) {
    const file = join(root, 'bench/README.md');
    const start = '<!-- proxy-bench:start -->';
    const end = '<!-- proxy-bench:end -->';
    const section = `${start}\n## Proxy (bench/proxy/run.mjs)\n\n${text}\n${end}`;
    let doc = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
    doc = doc.includes(start) ? doc.replace(new RegExp(`${start}[\\s\\S]*${end}`), section) : doc.trimEnd() + '\n\n' + section + '\n';
    writeFileSync(file, doc);
  }
}

await main();
