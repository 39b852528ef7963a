import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { meshctl } from '../../helpers/run-meshctl.js';

const SVC = `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
`;
// Line 9 col 5 of this document is the `- destination` item; its host key is on line 10.
const BAD_VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination:
        host: reviewz
`;
const WARN_VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: faulty}
spec:
  hosts: [faulty.example.com]
  http:
  - fault: {abort: {httpStatus: 500, percentage: {value: 100}}}
    route: [{destination: {host: reviews}}]
`;

let dir: string;
const w = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'meshctl-analyze-'));
  w('svc.yaml', SVC);
  w('bad.yaml', BAD_VS);
  w('warn.yaml', WARN_VS);
  mkdirSync(join(dir, 'tree', 'deep'), { recursive: true });
  writeFileSync(join(dir, 'tree', 'svc.yaml'), SVC);
  writeFileSync(join(dir, 'tree', 'deep', 'bad.yml'), BAD_VS);
});

describe('meshctl analyze', () => {
  test('clean input exits 0 in every format', async () => {
    for (const o of ['table', 'json', 'yaml', 'sarif', 'junit', 'github']) {
      const r = await meshctl(['analyze', '-o', o, join(dir, 'svc.yaml')]);
      expect(r.exitCode, o).toBe(0);
    }
  });

  test('an error exits 79 in every format, with file:line:column of the field', async () => {
    for (const o of ['table', 'json', 'yaml', 'sarif', 'junit', 'github']) {
      const r = await meshctl(['analyze', '-o', o, join(dir, 'svc.yaml'), join(dir, 'bad.yaml')]);
      expect(r.exitCode, o).toBe(79);
      expect(r.stdout, o).toContain('IST0101');
    }
    const table = await meshctl(['analyze', join(dir, 'svc.yaml'), join(dir, 'bad.yaml')]);
    // The file once as the group's heading, then line:column per finding (eslint's stylish shape).
    const lines = table.stdout.split('\n');
    const heading = lines.findIndex((l) => l.endsWith('bad.yaml'));
    expect(lines[heading + 1]).toMatch(/^ {2}10:9 {2}Error {4}\[IST0101\] \(VirtualService reviews\.default\) Referenced host not found: "reviewz"$/);
    expect(table.stdout).toMatch(/^✖ 1 error, 0 warnings, 0 info in \d+ resources\.$/m);
    expect(table.stdout).not.toContain('\x1b['); // not a terminal: no colour
  });

  test('colour only when the context allows it', async () => {
    const r = await meshctl(['analyze', join(dir, 'svc.yaml'), join(dir, 'bad.yaml')], { env: { FORCE_COLOR: '1' } });
    expect(r.stdout).toContain('\x1b[31m');
  });

  test('json carries level, resource, field and origin', async () => {
    const r = await meshctl(['analyze', '-o', 'json', join(dir, 'svc.yaml'), join(dir, 'bad.yaml')]);
    const report = JSON.parse(r.stdout);
    expect(report.messages).toHaveLength(1);
    expect(report.messages[0]).toMatchObject({
      code: 'IST0101',
      level: 'Error',
      name: 'ReferencedResourceNotFound',
      resource: { kind: 'VirtualService', name: 'reviews', namespace: 'default' },
      field: 'spec.http[0].route[0].destination.host',
      origin: { line: 10, column: 9 },
    });
    expect(report.summary).toMatchObject({ errors: 1, failed: true, failureThreshold: 'Error' });
  });

  test('thresholds: a warning fails only at --failure-threshold Warning; --output-threshold hides it', async () => {
    const files = [join(dir, 'svc.yaml'), join(dir, 'warn.yaml')];
    expect((await meshctl(['analyze', ...files])).exitCode).toBe(0);
    expect((await meshctl(['analyze', '--failure-threshold', 'Warning', ...files])).exitCode).toBe(79);
    const hidden = await meshctl(['analyze', '--output-threshold', 'Error', '--failure-threshold', 'warning', ...files]);
    expect(hidden.stdout).not.toContain('MSH0206');
    expect(hidden.exitCode).toBe(79);
    // Never "No validation issues" with exit 79: the summary says a hidden finding failed the run.
    expect(hidden.stdout).toBe(
      '✖ 0 errors, 0 warnings, 0 info in 2 resources (1 hidden by suppressions, --output-threshold or --baseline). Failed: findings hidden by --output-threshold Error reach --failure-threshold Warning.\n',
    );
    const shownOnly = await meshctl(['analyze', '--output-threshold', 'Error', ...files]);
    expect(shownOnly.stdout).toBe('✔ No validation issues found when analyzing 2 resources (1 hidden by suppressions, --output-threshold or --baseline).\n');
    expect(shownOnly.exitCode).toBe(0);
    expect((await meshctl(['analyze', '--failure-threshold', 'Severe', ...files])).exitCode).toBe(64);
  });

  test('--suppress with wildcards, before or after the files', async () => {
    const files = [join(dir, 'svc.yaml'), join(dir, 'bad.yaml')];
    expect((await meshctl(['analyze', ...files, '--suppress', 'IST0101=VirtualService reviews.default'])).exitCode).toBe(0);
    expect((await meshctl(['analyze', '--suppress', 'IST01*=VirtualService *.default', ...files])).exitCode).toBe(0);
    expect((await meshctl(['analyze', '--suppress', 'IST0101=VirtualService other.default', ...files])).exitCode).toBe(79);
    expect((await meshctl(['analyze', '--suppress', 'IST0102=VirtualService *', ...files])).exitCode).toBe(79);
  });

  test('suppression by the galley.istio.io/analyze-suppress annotation', async () => {
    const annotated = BAD_VS.replace('  name: reviews\n', '  name: reviews\n  annotations: {galley.istio.io/analyze-suppress: "IST0102,IST0101"}\n');
    const r = await meshctl(['analyze', join(dir, 'svc.yaml'), w('annotated.yaml', annotated)]);
    expect(r.exitCode).toBe(0);
  });

  test('stdin, directories and -R', async () => {
    expect((await meshctl(['analyze', '-'], { stdin: SVC + '---\n' + BAD_VS })).exitCode).toBe(79);
    // Without -R only the top level of a directory is read.
    expect((await meshctl(['analyze', join(dir, 'tree')])).exitCode).toBe(0);
    const r = await meshctl(['analyze', '-R', join(dir, 'tree')]);
    expect(r.exitCode).toBe(79);
    expect(r.stdout).toMatch(/bad\.yml\n {2}10:9 /);
  });

  test('Lists, comments and non-mesh objects are read', async () => {
    const list = `# kubectl get -o yaml output
apiVersion: v1
kind: List
items:
- ${SVC.replace(/\n(?=.)/g, '\n  ')}- apiVersion: v1
  kind: Namespace
  metadata: {name: default, labels: {istio-injection: enabled}}
`;
    const r = await meshctl(['analyze', '-o', 'json', w('list.yaml', list), join(dir, 'bad.yaml')]);
    expect(r.exitCode).toBe(79);
    expect(JSON.parse(r.stdout).summary.resources).toBe(3);
  });

  test('-R on a real repository: kustomization.yaml is not an object, Helm charts are skipped with a note', async () => {
    const repo = mkdtempSync(join(tmpdir(), 'meshctl-analyze-repo-'));
    mkdirSync(join(repo, 'k8s'));
    mkdirSync(join(repo, 'chart', 'templates'), { recursive: true });
    writeFileSync(join(repo, 'k8s', 'kustomization.yaml'), 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [svc.yaml, bad.yaml]\n');
    writeFileSync(join(repo, 'k8s', 'svc.yaml'), SVC);
    writeFileSync(join(repo, 'k8s', 'bad.yaml'), BAD_VS);
    writeFileSync(join(repo, 'chart', 'Chart.yaml'), 'apiVersion: v2\nname: app\nversion: 0.1.0\n');
    writeFileSync(join(repo, 'chart', 'values.yaml'), 'replicas: 2\n');
    writeFileSync(join(repo, 'chart', 'templates', 'svc.yaml'), 'apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\n');
    const r = await meshctl(['analyze', '-R', '-o', 'json', '.'], { cwd: repo });
    expect(r.exitCode).toBe(79);
    expect(JSON.parse(r.stdout).summary.resources).toBe(2);
    expect(r.stderr).toBe('skipped chart/: a Helm chart (render it: helm template chart | meshctl analyze -)\n');
    // Named explicitly, a chart or one of its templates is an error that says how to feed it.
    const chart = await meshctl(['analyze', '-R', 'chart'], { cwd: repo });
    expect(chart.exitCode).toBe(65);
    expect(chart.stderr).toBe('Error: chart is a Helm chart, not manifests (render it first: helm template chart | meshctl analyze -)\n');
    const tpl = await meshctl(['analyze', 'chart/templates/svc.yaml'], { cwd: repo });
    expect(tpl.exitCode).toBe(65);
    expect(tpl.stderr).toMatch(/^Error: chart\/templates\/svc\.yaml:3: Service has no metadata\.name \(chart\/templates\/svc\.yaml looks like an unrendered Helm template\) \(render it first: helm template/);
    expect(tpl.stderr.trimEnd().split('\n')).toHaveLength(1); // no yaml warning about a {{ }} key
    expect((await meshctl(['analyze', '--ignore-unknown', 'chart/templates/svc.yaml'], { cwd: repo })).exitCode).toBe(0);
    // `{{ }}` in a valid object (an alerting template in a ConfigMap) is just text.
    const cm = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: alerts}\ndata:\n  summary: "{{ $labels.instance }} is down"\n';
    expect((await meshctl(['analyze', '-'], { stdin: cm })).exitCode).toBe(0);
  });

  test('AuthorizationPolicy references offline: typos are named with the likely name, other namespaces are skipped', async () => {
    const ap = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web, namespace: prod}
spec:
  rules:
  - from: [{source: {namespaces: [prdo, monitoring], principals: [cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account]}}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: istio-system}
spec: {selector: {istio: ingressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]}
`;
    const r = await meshctl(['analyze', '-o', 'json', '-'], { stdin: ap });
    const report = JSON.parse(r.stdout) as { messages: { code: string; text: string }[]; skipped: { reason: string }[] };
    expect(report.messages.map((m) => `${m.code} ${m.text}`)).toEqual(['MSH0402 AuthorizationPolicy references unknown namespace "prdo". Did you mean "prod"?']);
    expect(report.skipped.map((k) => k.reason)).toContain('namespace monitoring is not in the input, so references to it are not checked');
  });

  test('bad input exits 65 naming the file and line', async () => {
    const missing = await meshctl(['analyze', join(dir, 'nope.yaml')]);
    expect(missing.exitCode).toBe(65);
    expect(missing.stderr).toContain('nope.yaml');
    const broken = await meshctl(['analyze', w('broken.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n')]);
    expect(broken.exitCode).toBe(65);
    expect(broken.stderr).toMatch(/broken\.yaml:\d+:\d+: invalid YAML/);
    expect(broken.stderr).not.toMatch(/at line \d+, column \d+/); // said once, as file:line:col
    const notK8s = await meshctl(['analyze', w('scalar.yaml', 'apiVersion: v1\nkind: Service\n---\nfoo: bar\n')]);
    expect(notK8s.exitCode).toBe(65);
    expect(notK8s.stderr).toMatch(/scalar\.yaml:1: Service has no metadata.name/);
  });

  test('istioctl flags carry over: --use-kube=false, -L, -o log, --ignore-unknown', async () => {
    const files = [join(dir, 'svc.yaml'), join(dir, 'bad.yaml')];
    const r = await meshctl(['analyze', '--use-kube=false', '-o', 'log', ...files]);
    expect(r.exitCode).toBe(79);
    expect(r.stdout).toContain('[IST0101]');
    expect((await meshctl('analyze -L')).stdout).toContain('IST0101');
    expect((await meshctl('analyze --use-kube=false')).exitCode).toBe(64);
    // -k and --color=false as istioctl spells them; a bare boolean flag before a file.
    const k = await meshctl(['analyze', '-k', 'false', '--color=false', ...files], { env: { FORCE_COLOR: '1' } });
    expect(k.exitCode).toBe(79);
    expect(k.stdout).not.toContain('\x1b[');
    expect((await meshctl(['analyze', '--use-kube=false', '--color', ...files], { env: { FORCE_COLOR: '1' } })).stdout).toContain('\x1b[');
    const maybe = await meshctl(['analyze', '--color=maybe', ...files]);
    expect(maybe.stderr).toContain('maybe: no such file');
    expect(maybe.exitCode).toBe(65);
    const junk = w('junk.yaml', 'just: a config file\n---\n- a list\n---\n' + SVC);
    expect((await meshctl(['analyze', junk])).exitCode).toBe(65);
    expect((await meshctl(['analyze', '--ignore-unknown', junk, join(dir, 'bad.yaml')])).exitCode).toBe(79);
    expect((await meshctl(['analyze', '--ignore-unknown', junk])).exitCode).toBe(0);
  });

  test('unknown -o is a usage error', async () => {
    expect((await meshctl(['analyze', '-o', 'xml', join(dir, 'svc.yaml')])).exitCode).toBe(64);
  });

  test('--list-analyzers lists codes, levels and descriptions', async () => {
    const r = await meshctl('analyze --list-analyzers');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/IST0101\s+Error\s+ReferencedResourceNotFound/);
    expect(r.stdout).toContain('MSH0201');
    const j = JSON.parse((await meshctl('analyze --list-analyzers -o json')).stdout);
    expect(j.analyzers.length).toBeGreaterThan(15);
  });

  test('sarif 2.1.0 with rules and physical locations', async () => {
    const r = await meshctl(['analyze', '-o', 'sarif', join(dir, 'svc.yaml'), join(dir, 'bad.yaml')]);
    const s = JSON.parse(r.stdout);
    expect(s.version).toBe('2.1.0');
    const run = s.runs[0];
    expect(run.tool.driver.rules.map((x: { id: string }) => x.id)).toEqual(['IST0101']);
    expect(run.results[0]).toMatchObject({ ruleId: 'IST0101', level: 'error', locations: [{ physicalLocation: { region: { startLine: 10, startColumn: 9 } } }] });
  });

  test('junit and github formats', async () => {
    const files = [join(dir, 'svc.yaml'), join(dir, 'bad.yaml'), join(dir, 'warn.yaml')];
    const j = await meshctl(['analyze', '-o', 'junit', ...files]);
    expect(j.stdout).toMatch(/<testsuite name="meshctl analyze" tests="\d+" failures="1"/);
    expect(j.stdout).toContain('<testcase classname="meshctl.analyze" name="virtualservice.destination-hosts">');
    const g = await meshctl(['analyze', '-o', 'github', ...files]);
    expect(g.stdout).toMatch(/^::error file=.*bad\.yaml,line=10,col=9,title=IST0101 ReferencedResourceNotFound::Referenced host not found/m);
    expect(g.stdout).toMatch(/^::warning file=.*warn\.yaml,line=\d+,col=\d+,title=MSH0206/m);
    // Absolute paths inside the working directory (the repository) are given relative to it.
    const inRepo = await meshctl(['analyze', '-o', 'github', ...files], { cwd: dir });
    expect(inRepo.stdout).toMatch(/^::error file=bad\.yaml,line=10,col=9,/m);
    const sarif = await meshctl(['analyze', '-o', 'sarif', ...files], { cwd: dir });
    expect(sarif.stdout).toContain('"uri": "bad.yaml"');
    expect((await meshctl(['analyze', ...files], { cwd: dir })).stdout).toContain(join(dir, 'bad.yaml')); // people see what they typed
  });

  test('repo config .meshctl.yaml holds suppressions and thresholds; flags win', async () => {
    const repo = mkdtempSync(join(tmpdir(), 'meshctl-repo-'));
    writeFileSync(join(repo, 'svc.yaml'), SVC);
    writeFileSync(join(repo, 'warn.yaml'), WARN_VS);
    writeFileSync(join(repo, '.meshctl.yaml'), 'analyze:\n  failureThreshold: Warning\n');
    expect((await meshctl('analyze svc.yaml warn.yaml', { cwd: repo })).exitCode).toBe(79);
    expect((await meshctl('analyze --failure-threshold Error svc.yaml warn.yaml', { cwd: repo })).exitCode).toBe(0);
    writeFileSync(join(repo, '.meshctl.yaml'), 'analyze:\n  failureThreshold: Warning\n  suppress: ["MSH0206=VirtualService faulty.*"]\n');
    expect((await meshctl('analyze svc.yaml warn.yaml', { cwd: repo })).exitCode).toBe(0);
    // Found from a subdirectory too, up to the repository root.
    mkdirSync(join(repo, '.git'));
    mkdirSync(join(repo, 'k8s'));
    writeFileSync(join(repo, 'k8s', 'warn.yaml'), WARN_VS);
    writeFileSync(join(repo, '.meshctl.yaml'), 'analyze:\n  failureThreshold: Warning\n');
    expect((await meshctl('analyze ../svc.yaml warn.yaml', { cwd: join(repo, 'k8s') })).exitCode).toBe(79);
    // A baseline it names is found next to it, wherever analyze runs from.
    writeFileSync(join(repo, 'baseline.json'), (await meshctl('analyze -o json ../svc.yaml warn.yaml', { cwd: join(repo, 'k8s') })).stdout);
    writeFileSync(join(repo, '.meshctl.yaml'), 'analyze:\n  failureThreshold: Warning\n  baseline: baseline.json\n');
    expect((await meshctl('analyze ../svc.yaml warn.yaml', { cwd: join(repo, 'k8s') })).exitCode).toBe(0);
    expect((await meshctl('analyze svc.yaml k8s/warn.yaml', { cwd: repo })).exitCode).toBe(0);
    writeFileSync(join(repo, '.meshctl.yaml'), 'analyze: [oops]\n');
    expect((await meshctl('analyze svc.yaml', { cwd: repo })).exitCode).toBe(65);
  });

  test('--baseline reports only new findings', async () => {
    const files = [join(dir, 'svc.yaml'), join(dir, 'bad.yaml')];
    const first = await meshctl(['analyze', '-o', 'json', ...files]);
    const baseline = w('baseline.json', first.stdout);
    const again = await meshctl(['analyze', '--baseline', baseline, ...files]);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('No validation issues');
    // A new finding on top of the old one still fails.
    const more = BAD_VS.replace('name: reviews', 'name: reviews2').replace('hosts: [reviews]', 'hosts: [other.example.com]');
    const r = await meshctl(['analyze', '-o', 'json', '--baseline', baseline, ...files, w('more.yaml', more)]);
    expect(r.exitCode).toBe(79);
    expect(JSON.parse(r.stdout).messages.map((m: { resource: { name: string } }) => m.resource.name)).toEqual(['reviews2']);
    expect((await meshctl(['analyze', '--baseline', join(dir, 'none.json'), ...files])).exitCode).toBe(65);
  });

  test('skipped checks are said, not guessed', async () => {
    const vs = BAD_VS.replace('host: reviewz', 'host: api.payments.svc.cluster.local');
    const r = await meshctl(['analyze', '-o', 'json', join(dir, 'svc.yaml'), w('other-ns.yaml', vs)]);
    expect(r.exitCode).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.messages).toEqual([]);
    expect(report.skipped.map((s: { analyzer: string }) => s.analyzer)).toContain('virtualservice.destination-hosts');
    // One short line on stderr names the skipped checks; -v adds each reason.
    const t = await meshctl(['analyze', join(dir, 'svc.yaml'), join(dir, 'other-ns.yaml')]);
    expect(t.stdout).not.toContain('skipped');
    expect(t.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(t.stderr).toMatch(/^skipped \d+ checks? .*virtualservice\.destination-hosts.* \(-v says why/);
    const v = await meshctl(['analyze', '-v', join(dir, 'svc.yaml'), join(dir, 'other-ns.yaml')]);
    expect(v.stderr).toMatch(/^ {2}virtualservice\.destination-hosts: hosts outside the input's namespaces are not checked/m);
  });
});
