import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadSources } from '../../../src/core/analyze/load.js';
import { overlay } from '../../../src/core/analyze/overlay.js';
import { meshctl } from '../../helpers/run-meshctl.js';

const dr = (subsets: string[], ns = '') =>
  `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: details\n${ns ? `  namespace: ${ns}\n` : ''}spec:\n  host: details\n  subsets: [${subsets.map((s) => `{name: ${s}, labels: {version: ${s}}}`).join(', ')}]\n`;

describe('overlay (pure)', () => {
  test('the last definition wins; a different earlier one is reported, an identical copy is not', () => {
    const files = loadSources([
      { file: 'a.yaml', text: dr(['v1', 'v2']) },
      { file: 'b.yaml', text: dr(['v1', 'v2'], 'default') }, // same object, same content: -n default places a.yaml's
      { file: 'c.yaml', text: dr(['v1']) },
    ]);
    const { resources, redefined } = overlay([], files, 'default');
    expect(resources).toHaveLength(1);
    expect(resources[0]?.file).toBe('c.yaml');
    expect(redefined).toHaveLength(1);
    expect(redefined[0]?.kept.file).toBe('c.yaml');
    // a.yaml and b.yaml are the same object with the same content (-n default places a.yaml's); both differ from c.yaml.
    expect(redefined[0]?.replaced.map((r) => r.file)).toEqual(['a.yaml', 'b.yaml']);
    // A copy identical to the last definition is not named.
    const again = overlay([], loadSources([{ file: 'a.yaml', text: dr(['v1']) }, { file: 'b.yaml', text: dr(['v2']) }, { file: 'c.yaml', text: dr(['v1']) }]), 'default');
    expect(again.redefined[0]?.replaced.map((r) => r.file)).toEqual(['b.yaml']);
  });

  test('files replacing cluster (or snapshot) objects is the point of an overlay, not a redefinition', () => {
    const cluster = loadSources([{ file: 'snap.yaml', text: dr(['v1', 'v2'], 'default') }]);
    const files = loadSources([{ file: 'pr.yaml', text: dr(['v1']) }]);
    const { resources, redefined } = overlay(cluster, files, 'default');
    expect(resources.map((r) => r.file)).toEqual(['pr.yaml']);
    expect(redefined).toEqual([]);
  });

  test('another API group is another object; another version of the same group is the same one', () => {
    const gw = (apiVersion: string, extra: string) => `apiVersion: ${apiVersion}\nkind: Gateway\nmetadata: {name: web}\nspec: {${extra}}\n`;
    const files = loadSources([
      { file: 'istio.yaml', text: gw('networking.istio.io/v1', 'selector: {istio: ingressgateway}') },
      { file: 'gateway-api.yaml', text: gw('gateway.networking.k8s.io/v1', 'gatewayClassName: istio') },
      { file: 'old.yaml', text: gw('networking.istio.io/v1alpha3', 'selector: {istio: egressgateway}') },
    ]);
    const { resources, redefined } = overlay([], files, 'default');
    expect(resources.map((r) => r.file).sort()).toEqual(['gateway-api.yaml', 'old.yaml']);
    expect(redefined.map((d) => [d.kept.file, d.replaced.map((r) => r.file)])).toEqual([['old.yaml', ['istio.yaml']]]);
  });

  test('other namespaces are other objects', () => {
    const files = loadSources([{ file: 'a.yaml', text: `${dr(['v1'], 'prod')}---\n${dr(['v2'], 'staging')}` }]);
    expect(overlay([], files, 'default').redefined).toEqual([]);
  });
});

describe('analyze reports a redefinition (MSH0001)', () => {
  test('-R samples/bookinfo: the DestinationRule details of fault-injection-details-v1.yaml replaces the one with v2', async () => {
    const r = await meshctl(['analyze', '-R', '-o', 'json', 'samples/bookinfo']);
    type Msg = { code: string; level: string; text: string; resource: { kind: string; name: string }; origin: { file: string; line: number } };
    const msgs = (JSON.parse(r.stdout) as { messages: Msg[] }).messages;
    const details = msgs.find((m) => m.code === 'MSH0001' && m.resource.kind === 'DestinationRule' && m.resource.name === 'details');
    expect(details?.level).toBe('Warning');
    expect(details?.origin.file).toBe('samples/bookinfo/networking/fault-injection-details-v1.yaml');
    expect(details?.text).toBe(
      'Also defined, differently, in samples/bookinfo/networking/destination-rule-all-mtls.yaml, samples/bookinfo/networking/destination-rule-all.yaml; this last definition is the one analyzed.',
    );
    // ...which is why details+v2 is reported missing.
    expect(msgs.some((m) => m.code === 'IST0101' && m.text.includes('details+v2'))).toBe(true);
    // Many alternatives for one VirtualService: the message stays one line.
    const reviews = msgs.find((m) => m.code === 'MSH0001' && m.resource.name === 'reviews' && m.resource.kind === 'VirtualService');
    expect(reviews?.text).toMatch(/, \d+ more; this last definition is the one analyzed\.$/);
  });

  test('two definitions in one file (stdin): the earlier one is in this file', async () => {
    const r = await meshctl(['analyze', '-o', 'json', '-'], { stdin: `${dr(['v1', 'v2'])}---\n${dr(['v1'])}` });
    const [m] = (JSON.parse(r.stdout) as { messages: { code: string; text: string; origin: { line: number } }[] }).messages.filter((x) => x.code === 'MSH0001');
    expect(m?.text).toBe('Also defined, differently, in this file (earlier); this last definition is the one analyzed.');
    expect(m?.origin.line).toBe(12);
    expect(r.exitCode).toBe(0); // a Warning: the default threshold (Error) is not reached
    // Its text has no line numbers, so a baseline still holds it after unrelated lines move.
    const dir = mkdtempSync(join(tmpdir(), 'meshctl-redefined-'));
    writeFileSync(join(dir, 'base.json'), r.stdout);
    const moved = await meshctl(['analyze', '-o', 'json', '--baseline', join(dir, 'base.json'), '-'], { stdin: `# a comment\n\n${dr(['v1', 'v2'])}---\n${dr(['v1'])}` });
    expect((JSON.parse(moved.stdout) as { messages: unknown[] }).messages).toEqual([]);
  });
});
