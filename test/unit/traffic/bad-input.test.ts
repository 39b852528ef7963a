/**
 * The bad inputs — `110%`, `-5`, `abc`, `10.5%`, an unknown service, a subset no
 * DestinationRule defines — on every traffic command that takes such a value (weights, percentages,
 * durations, counts, statuses, subsets): one line on stderr naming the value, exit 64 (command
 * line) or 65 (input data: the service or subset is not there), nothing on stdout, and the
 * `--local` directory byte-identical afterwards (every file, hidden ones included, hashed).
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { meshctl } from '../../helpers/run-meshctl.js';

const ROOT = join(import.meta.dirname, '../../..');
const dirs: string[] = [];

function mesh(): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-traffic-bad-'));
  dirs.push(dir);
  copyFileSync(join(ROOT, 'samples/bookinfo/bookinfo.yaml'), join(dir, 'bookinfo.yaml'));
  for (const n of ['destination-rule-all', 'virtual-service-all-v1']) copyFileSync(join(ROOT, `samples/bookinfo/networking/${n}.yaml`), join(dir, `${n}.yaml`));
  return dir;
}

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** One hash over every path and every byte under the directory. */
function hashDir(dir: string): string {
  const h = createHash('sha256');
  const entries = readdirSync(dir, { recursive: true, withFileTypes: true })
    .map((e) => ({ path: relative(dir, join(e.parentPath, e.name)), file: e.isFile() }))
    .sort((a, b) => (a.path < b.path ? -1 : 1));
  for (const e of entries) {
    h.update(`${e.path}\0`);
    if (e.file) h.update(readFileSync(join(dir, e.path)));
  }
  return h.digest('hex');
}

const USAGE = 64;
const DATA = 65;
/** A metrics URL that is never fetched: every case fails before any metrics are read. */
const METRICS = ['--metrics', 'http://127.0.0.1:9'];
const ROLLOUT = ['canary', 'rollout', 'reviews', '--to', 'v2', ...METRICS];

const cases: [string[], number, string][] = [
  // canary shift: the weight, the service, the subsets
  ...['110%', '-5', 'abc', '10.5%', '101', '0x10'].map((w): [string[], number, string] => [['canary', 'shift', 'reviews', w, '--to', 'v2'], USAGE, `invalid weight "${w}"`]),
  [['canary', 'shift', 'nosuch', '10', '--to', 'v2'], DATA, 'service "nosuch" not found'],
  [['canary', 'shift', 'reviews', '10', '--to', 'v9'], DATA, 'subset "v9" (--to) is not defined'],
  [['canary', 'shift', 'reviews', '10', '--to', 'v2', '--from', 'v9'], DATA, 'subset "v9" (--from) is not defined'],
  [['canary', 'shift', 'productpage', '10'], DATA, 'productpage has one subset (v1): a canary needs a second one'],
  // canary promote / rollback / status
  [['canary', 'promote', 'nosuch'], DATA, 'service "nosuch" not found'],
  [['canary', 'promote', 'reviews', '--to', 'v9'], DATA, 'subset "v9" (--to) is not defined'],
  [['canary', 'rollback', 'nosuch'], DATA, 'service "nosuch" not found'],
  [['canary', 'rollback', 'reviews', '--to', 'v2', '--from', 'v9'], DATA, 'subset "v9" (--from) is not defined'],
  [['canary', 'status', 'nosuch'], DATA, 'service "nosuch" not found'],
  ...['-5', 'abc', '10.5%'].map((v): [string[], number, string] => [['canary', 'status', 'reviews', '--window', v], USAGE, `invalid --window "${v}"`]),
  // canary rollout: steps, percentages, durations, counts, service, subset
  ...['110', '-5', 'abc', '10.5', '10.5%', '50,10'].map((v): [string[], number, string] => [[...ROLLOUT, '--max-error-rate', '1%', '--steps', v], USAGE, `invalid --steps "${v}"`]),
  ...['110%', '-5', 'abc'].map((v): [string[], number, string] => [[...ROLLOUT, '--max-error-rate', v], USAGE, `invalid --max-error-rate "${v}"`]),
  ...['-5', 'abc', '10.5%', '0'].map((v): [string[], number, string] => [[...ROLLOUT, '--max-error-rate', '1%', '--interval', v], USAGE, `invalid --interval "${v}"`]),
  ...['-5', 'abc', '10.5%'].map((v): [string[], number, string] => [[...ROLLOUT, '--max-p99', v], USAGE, `invalid --max-p99 "${v}"`]),
  ...['-5', 'abc', '10.5', '0'].map((v): [string[], number, string] => [[...ROLLOUT, '--max-error-rate', '1%', '--min-requests', v], USAGE, `invalid --min-requests "${v}"`]),
  ...['-5', 'abc', '10.5'].map((v): [string[], number, string] => [[...ROLLOUT, '--max-error-rate', '1%', '--max-inconclusive', v], USAGE, `invalid --max-inconclusive "${v}"`]),
  [['canary', 'rollout', 'nosuch', '--to', 'v2', '--max-error-rate', '1%', ...METRICS], DATA, 'service "nosuch" not found'],
  [['canary', 'rollout', 'reviews', '--to', 'v9', '--max-error-rate', '1%', ...METRICS], DATA, 'subset "v9" (--to) is not defined'],
  // inject fault: percentages (decimals are fine: Istio's Percent is a double), durations, status
  ...['110%', '-5', 'abc', '100.5'].map((v): [string[], number, string] => [['inject', 'fault', 'ratings', '--abort', '503', '--percent', v], USAGE, `invalid --percent "${v}"`]),
  ...['-5', 'abc', '10.5%', '5'].map((v): [string[], number, string] => [['inject', 'fault', 'ratings', '--delay', v], USAGE, `invalid --delay "${v}"`]),
  ...['-5', 'abc', '10.5', '600'].map((v): [string[], number, string] => [['inject', 'fault', 'ratings', '--abort', v], USAGE, `invalid --abort "${v}"`]),
  ...['-5', 'abc', '10.5%'].map((v): [string[], number, string] => [['inject', 'fault', 'ratings', '--abort', '503', '--duration', v], USAGE, `invalid --duration "${v}"`]),
  [['inject', 'fault', 'nosuch', '--abort', '503'], DATA, 'service "nosuch" not found'],
  [['inject', 'fault', 'ratings', '--abort', '503', '--subset', 'v9'], DATA, 'subset "v9" (--subset) is not defined'],
  // route header / route mirror
  [['route', 'header', 'nosuch', '--header', 'end-user=jason', '--to', 'v2'], DATA, 'service "nosuch" not found'],
  [['route', 'header', 'reviews', '--header', 'end-user=jason', '--to', 'v9'], DATA, 'subset "v9" (--to) is not defined'],
  ...['110%', '-5', 'abc'].map((v): [string[], number, string] => [['route', 'mirror', 'reviews', '--to', 'v3', '--percent', v], USAGE, `invalid --percent "${v}"`]),
  [['route', 'mirror', 'nosuch', '--to', 'v3'], DATA, 'service "nosuch" not found'],
  [['route', 'mirror', 'reviews', '--to', 'v9'], DATA, 'subset "v9" (--to) is not defined'],
  // resilience set: counts, percentages, durations
  ...['--retries', '--max-connections', '--max-pending', '--consecutive-5xx', '--max-ejection-percent'].flatMap((flag) =>
    ['-5', 'abc', '10.5', '10.5%'].map((v): [string[], number, string] => [['resilience', 'set', 'reviews', flag, v], USAGE, `invalid ${flag} "${v}"`]),
  ),
  [['resilience', 'set', 'reviews', '--max-ejection-percent', '110%'], USAGE, 'invalid --max-ejection-percent "110%"'],
  [['resilience', 'set', 'reviews', '--max-ejection-percent', '110'], USAGE, 'invalid --max-ejection-percent "110"'],
  ...['--timeout', '--per-try-timeout', '--interval', '--ejection-time'].flatMap((flag) =>
    ['-5', 'abc', '10.5%'].map((v): [string[], number, string] => [['resilience', 'set', 'reviews', flag, v], USAGE, `invalid ${flag} "${v}"`]),
  ),
  [['resilience', 'set', 'nosuch', '--timeout', '2s'], DATA, 'service "nosuch" not found'],
];

describe('bad input on every traffic command: one line, exit 64/65, nothing written', () => {
  test.each(cases)('%j -> exit %i', async (args, code, message) => {
    const dir = mesh();
    const before = hashDir(dir);
    const r = await meshctl([...args, '--local', dir]);
    expect(r.exitCode, r.stderr).toBe(code);
    expect(r.stderr).toContain(message);
    expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stdout).toBe('');
    expect(hashDir(dir)).toBe(before);
  });
});
