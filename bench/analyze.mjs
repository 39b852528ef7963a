// Offline analysis at scale: N generated resources (Service + VirtualService + DestinationRule +
// PeerAuthentication per service, spread over 50 namespaces), parsed from one YAML text and
// analyzed with every analyzer. Goal (issue 6): 10,000 resources under 2 s and 300 MB, and time
// linear in the input. Every 20th VirtualService routes to a host that does not exist, so the
// figures include placing messages (positions are computed lazily, per reported document).
// Each size runs in a fresh process so memory figures do not mix.
// Usage: node bench/analyze.mjs [sizes...]   (default 1000 5000 10000; bundles src/ with esbuild)
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { clearInterval, setInterval } from 'node:timers';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function generate(n) {
  const docs = [];
  for (let i = 0; docs.length < n; i++) {
    const ns = `team-${i % 50}`;
    const name = `svc-${i}`;
    docs.push(`apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec:
  selector: {app: ${name}}
  ports: [{name: http, port: 8080}]`);
    docs.push(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${name}]
  http:
  - match: [{headers: {end-user: {exact: tester}}}]
    route: [{destination: {host: ${i % 20 === 0 ? `missing-${i}` : name}, subset: v2}}]
  - timeout: 3s
    retries: {attempts: 2, perTryTimeout: 1s}
    route:
    - {destination: {host: ${name}, subset: v1}, weight: 90}
    - {destination: {host: ${name}, subset: v2}, weight: 10}`);
    docs.push(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${ns}}
spec:
  host: ${name}.${ns}.svc.cluster.local
  trafficPolicy: {connectionPool: {tcp: {connectTimeout: 30ms}}, outlierDetection: {interval: 10s, baseEjectionTime: 30s}}
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]`);
    docs.push(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: ${name}, namespace: ${ns}}
spec:
  selector: {matchLabels: {app: ${name}}}
  mtls: {mode: STRICT}`);
  }
  return docs.slice(0, n).join('\n---\n') + '\n';
}

async function child(bundle, n) {
  const { loadSources, analyze, ALL_ANALYZERS, overlay } = await import(pathToFileURL(bundle).href);
  const text = generate(n);
  // Warm up the JIT and the lazily compiled schema validators on a small input, as a CI run that
  // analyzes a real repository would have after its first few files.
  await analyze({ resources: loadSources([{ file: 'warm.yaml', text: generate(200) }]), origin: 'files', defaultNamespace: 'default' }, ALL_ANALYZERS);
  globalThis.gc?.();
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  const t0 = performance.now();
  // As the command does: merge the files (later definitions replace earlier ones), then analyze.
  const { resources, redefined } = overlay([], loadSources([{ file: 'gen.yaml', text }]), 'default');
  const t1 = performance.now();
  const result = await analyze({ resources, redefined, origin: 'files', defaultNamespace: 'default' }, ALL_ANALYZERS);
  const t2 = performance.now();
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  if (process.env.BENCH_PER_ANALYZER) {
    for (const a of ALL_ANALYZERS) {
      const t = performance.now();
      await analyze({ resources, origin: 'files', defaultNamespace: 'default' }, [a]);
      process.stderr.write(`${a.name.padEnd(48)} ${(performance.now() - t).toFixed(1)} ms\n`);
    }
  }
  process.stdout.write(JSON.stringify({ n, parseMs: t1 - t0, analyzeMs: t2 - t1, totalMs: t2 - t0, peakRssMB: peak / 2 ** 20, messages: result.messages.length }) + '\n');
}

if (process.argv[2] === '--child') {
  await child(process.argv[3], Number(process.argv[4]));
} else {
  const { build } = await import('esbuild');
  const out = join(mkdtempSync(join(tmpdir(), 'meshctl-bench-analyze-')), 'analyze.mjs');
  await build({
    absWorkingDir: root,
    stdin: {
      contents: "export { loadSources } from './src/core/analyze/load.ts'; export { analyze } from './src/core/analyze/engine.ts'; export { ALL_ANALYZERS } from './src/core/analyze/all.ts'; export { overlay } from './src/core/analyze/overlay.ts';",
      resolveDir: root,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: out,
    logLevel: 'warning',
    // ajv is CommonJS; give the ESM bundle a require for it.
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  });
  const sizes = process.argv.slice(2).map(Number).filter(Boolean);
  const rows = [];
  for (const n of sizes.length ? sizes : [1000, 5000, 10000]) {
    const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--child', out, String(n)], { encoding: 'utf8' });
    if (process.env.BENCH_PER_ANALYZER) process.stderr.write(r.stderr);
    if (r.status !== 0) throw new Error(`size ${n} failed: ${r.stderr}`);
    rows.push(JSON.parse(r.stdout.trim().split('\n').pop()));
  }
  const base = rows[0];
  console.log('resources   parse ms   analyze ms   total ms   ms/1k res   peak RSS MB   messages');
  for (const r of rows) {
    console.log(
      `${String(r.n).padStart(9)}   ${r.parseMs.toFixed(0).padStart(8)}   ${r.analyzeMs.toFixed(0).padStart(10)}   ${r.totalMs.toFixed(0).padStart(8)}   ${((r.totalMs / r.n) * 1000).toFixed(0).padStart(9)}   ${r.peakRssMB.toFixed(0).padStart(11)}   ${String(r.messages).padStart(8)}`,
    );
  }
  const last = rows[rows.length - 1];
  console.log(`linearity: ${last.n / base.n}x the input took ${(last.totalMs / base.totalMs).toFixed(1)}x the time (analysis alone ${(last.analyzeMs / base.analyzeMs).toFixed(1)}x)`);
  console.log(`goal at ${last.n}: total ${last.totalMs.toFixed(0)} ms (< 2000) and peak RSS ${last.peakRssMB.toFixed(0)} MB (< 300): ${last.totalMs < 2000 && last.peakRssMB < 300 ? 'met' : 'NOT met'}`);
}
