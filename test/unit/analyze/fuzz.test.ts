import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { expect, test } from 'vitest';
import { ALL_ANALYZERS } from '../../../src/core/analyze/all.js';
import { AnalysisContext } from '../../../src/core/analyze/context.js';
import { analyze } from '../../../src/core/analyze/engine.js';
import { explain } from '../../../src/core/analyze/explain.js';
import { loadSources } from '../../../src/core/analyze/load.js';
import { overlay } from '../../../src/core/analyze/overlay.js';
import { buildReport } from '../../../src/core/analyze/report.js';
import { InputError } from '../../../src/core/errors.js';
import { formatGithub, formatHuman, formatJunit, formatSarif } from '../../../src/ui/analyze-format.js';

/** mulberry32: a tiny seeded PRNG so every run feeds the same inputs and a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const dir = join(import.meta.dirname, '../../fixtures/analyze');
const corpus = readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => readFileSync(join(dir, f), 'utf8'));
corpus.push(readFileSync('samples/bookinfo/bookinfo.yaml', 'utf8'));

const KINDS = ['VirtualService', 'DestinationRule', 'Gateway', 'ServiceEntry', 'Sidecar', 'PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication', 'Service', 'Deployment', 'Pod', 'Namespace'];
const KEYS = ['hosts', 'host', 'http', 'tcp', 'tls', 'route', 'destination', 'subset', 'subsets', 'labels', 'match', 'uri', 'regex', 'weight', 'timeout', 'retries', 'perTryTimeout', 'fault', 'abort', 'delay', 'percentage', 'value', 'mirror', 'gateways', 'selector', 'matchLabels', 'servers', 'port', 'number', 'ports', 'workloadSelector', 'mtls', 'mode', 'rules', 'from', 'source', 'principals', 'namespaces', 'when', 'action', 'template', 'spec', 'metadata', 'containers', 'name', 'image', 'exportTo', 'trafficPolicy', 'portLevelSettings'];

function randomValue(r: () => number, depth: number): unknown {
  const x = r();
  if (depth > 5 || x < 0.25) {
    const leaves: unknown[] = [null, true, 0, -1, 100, 1e9, 'reviews', '*', '', 'v1', '1s', 'x/y', '(?=', '[', 'mesh', 'STRICT', 'DISABLE', { }, []];
    return leaves[Math.floor(r() * leaves.length)];
  }
  if (x < 0.55) return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(r() * 5); i > 0; i--) o[KEYS[Math.floor(r() * KEYS.length)] ?? 'x'] = randomValue(r, depth + 1);
  return o;
}

function randomResource(r: () => number): unknown {
  const kind = KINDS[Math.floor(r() * KINDS.length)] ?? 'Service';
  return { apiVersion: 'networking.istio.io/v1', kind, metadata: { name: `n${Math.floor(r() * 5)}`, ...(r() < 0.5 ? { namespace: 'default' } : {}) }, spec: randomValue(r, 0) };
}

function mutate(r: () => number, text: string): string {
  const choice = r();
  if (choice < 0.35) return text.slice(0, Math.floor(r() * text.length)); // truncated
  if (choice < 0.6) {
    const chars = [...text];
    for (let i = 0; i < 5; i++) chars[Math.floor(r() * chars.length)] = ':-[]{}\n "\'&*!|>#'.charAt(Math.floor(r() * 17));
    return chars.join('');
  }
  return Array.from({ length: 1 + Math.floor(r() * 6) }, () => stringify(randomResource(r))).join('---\n');
}

test('random and truncated YAML never crashes analysis, explain or output (only InputError)', { timeout: 60_000 }, async () => {
  const r = rng(20261122);
  let parsed = 0;
  let rejected = 0;
  for (let i = 0; i < 600; i++) {
    const base = corpus[Math.floor(r() * corpus.length)] ?? '';
    const text = mutate(r, base);
    try {
      // As the command reads files: redefinitions (the generator reuses names) merged and reported.
      const { resources, redefined } = overlay([], loadSources([{ file: `fuzz-${i}.yaml`, text }]), 'default');
      const result = await analyze({ resources, redefined, origin: r() < 0.5 ? 'files' : 'cluster', defaultNamespace: 'default' }, ALL_ANALYZERS);
      const report = buildReport(result, { suppressions: [], resources, defaultNamespace: 'default', failureThreshold: 'Error', outputThreshold: 'Info' });
      formatHuman(report, true);
      JSON.parse(formatSarif(report, 'test'));
      formatJunit(report);
      formatGithub(report);
      const ctx = new AnalysisContext({ resources, origin: 'files', defaultNamespace: 'default' });
      for (const service of ['reviews', 'n0', 'x.y']) {
        explain(ctx, { service, namespace: 'default', path: '/a?b=c', method: 'GET', headers: { 'end-user': 'jason' }, sourceLabels: { app: 'reviews' }, sourceNamespace: 'default' });
      }
      parsed++;
    } catch (e) {
      if (!(e instanceof InputError)) throw new Error(`input #${i} crashed: ${String(e)}\n---\n${text.slice(0, 2000)}`, { cause: e });
      rejected++;
    }
  }
  // Both paths are exercised: most inputs parse, some are refused as bad input.
  expect(parsed).toBeGreaterThan(200);
  expect(rejected).toBeGreaterThan(20);
});
