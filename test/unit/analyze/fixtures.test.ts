import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ALL_ANALYZERS } from '../../../src/core/analyze/all.js';
import { analyze } from '../../../src/core/analyze/engine.js';
import { loadSources } from '../../../src/core/analyze/load.js';
import { overlay } from '../../../src/core/analyze/overlay.js';

/**
 * The fixture corpus: each test/fixtures/analyze/*.yaml states what every analyzer together must
 * report (`# expect: CODE Kind/name field`, or `# expect: none`); anything else reported fails the
 * test, so each fixture checks both what must and what must not be found. _base.yaml is added to
 * every fixture as the surrounding inventory. Add a case by adding a file.
 */
const dir = join(import.meta.dirname, '../../fixtures/analyze');
const base = { file: '_base.yaml', text: readFileSync(join(dir, '_base.yaml'), 'utf8') };

function expectations(text: string): string[] {
  return [...text.matchAll(/^# expect: (.+)$/gm)].map((m) => (m[1] ?? '').trim()).filter((e) => e !== 'none');
}

describe('analyzer fixtures', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && !f.startsWith('_'));
  test('corpus is not empty', () => expect(files.length).toBeGreaterThan(10));
  for (const f of files) {
    test(f, async () => {
      const text = readFileSync(join(dir, f), 'utf8');
      // As the command reads files: a later definition of the same object replaces an earlier one.
      const { resources, redefined } = overlay([], loadSources([base, { file: f, text }]), 'default');
      const { messages } = await analyze({ resources, redefined, origin: 'files', defaultNamespace: 'default' }, ALL_ANALYZERS);
      const got = messages.map((m) => `${m.code} ${m.resource.kind}/${m.resource.name}${m.field ? ' ' + m.field : ''}`).sort();
      expect(got).toEqual(expectations(text).sort());
      for (const m of messages) expect(m.origin?.line, `${m.code} has a source line`).toBeGreaterThan(0);
    });
  }
});
