import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';

/**
 * `meshctl analyze` as CI runs it: the built binary (bundled, code-split) in a repository with a
 * .meshctl.yaml. In-process tests cannot see bundling problems (a lazily imported CommonJS package
 * arriving as `default` only once broke .meshctl.yaml here). Run `node scripts/build.mjs` first.
 */
// MESHCTL_BIN: another build of the launcher (e.g. one outside a dist/ that is being rebuilt).
const bin = process.env.MESHCTL_BIN ?? fileURLToPath(new URL('../../bin/meshctl', import.meta.url));

const VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - {destination: {host: reviews}, weight: 60}
    - {destination: {host: reviews}, weight: 30}
    timeout: 1s
    retries: {attempts: 2, perTryTimeout: 2s}
---
apiVersion: v1
kind: Service
metadata: {name: reviews}
spec: {selector: {app: reviews}, ports: [{name: http, port: 9080}]}
`;

function run(args: string[], opts: { cwd: string; input?: string; env?: Record<string, string> }) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: opts.cwd,
    input: opts.input ?? '',
    encoding: 'utf8',
    timeout: 30_000,
    env: { PATH: process.env.PATH ?? '', HOME: opts.cwd, NO_COLOR: '1', ...opts.env },
  });
  return { stdout: r.stdout, stderr: r.stderr, exitCode: r.status };
}

let repo: string;
beforeAll(() => {
  repo = mkdtempSync(join(tmpdir(), 'meshctl-analyze-e2e-'));
  writeFileSync(join(repo, 'vs.yaml'), VS);
});

describe('meshctl analyze (built binary)', () => {
  test('the exit code is the same in every format: 79 for the Error (weights add up to 90)', () => {
    for (const o of ['table', 'log', 'json', 'yaml', 'sarif', 'junit', 'github']) {
      const r = run(['analyze', '-o', o, 'vs.yaml'], { cwd: repo });
      expect(r.exitCode, `${o}: ${r.stderr}`).toBe(79);
      expect(r.stdout, o).toContain('MSH0201');
    }
    const stdin = run(['analyze', '-o', 'github', '-'], { cwd: repo, input: VS });
    expect(stdin.stdout).toMatch(/^::error file=-,line=7,col=\d+,title=MSH0201 RouteWeightsDoNotSum::Route weights add up to 90, not 100\./m);
  });

  test('.meshctl.yaml thresholds and suppressions apply; flags win over it', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'meshctl-analyze-e2e-repo-'));
    writeFileSync(join(cwd, 'vs.yaml'), VS);
    writeFileSync(join(cwd, '.meshctl.yaml'), 'analyze:\n  failureThreshold: Warning\n  suppress: ["MSH0201=VirtualService reviews.*"]\n');
    const r = run(['analyze', '-o', 'json', 'vs.yaml'], { cwd });
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout) as { messages: { code: string }[]; summary: { failureThreshold: string } };
    expect(report.messages.map((m) => m.code)).toEqual(['MSH0204']);
    expect(report.summary.failureThreshold).toBe('Warning');
    expect(r.exitCode).toBe(79); // the retry Warning fails the repo's Warning threshold
    expect(run(['analyze', '--failure-threshold', 'Error', 'vs.yaml'], { cwd }).exitCode).toBe(0);
  });

  test('a clean run prints one line, and colour only when asked', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'meshctl-analyze-e2e-clean-'));
    writeFileSync(join(cwd, 'ok.yaml'), VS.replace('weight: 30', 'weight: 40').replace('perTryTimeout: 2s', 'perTryTimeout: 500ms'));
    const r = run(['analyze', 'ok.yaml'], { cwd });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('✔ No validation issues found when analyzing 2 resources.\n');
    const bad = run(['analyze', 'vs.yaml'], { cwd: repo, env: { FORCE_COLOR: '1', NO_COLOR: '' } });
    expect(bad.stdout).toContain('\x1b[31mError');
  });
});
