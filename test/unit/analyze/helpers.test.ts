import { describe, expect, test } from 'vitest';
import { re2Problem } from '../../../src/core/analyze/analyzers/regex.js';
import { compareVersions, imageVersion } from '../../../src/core/analyze/analyzers/proxy-version.js';
import { parsePath } from '../../../src/core/analyze/analyzers/schema.js';
import { CelValidator } from '../../../src/core/analyze/cel.js';
import { newSince, parseLevel, parseSuppression } from '../../../src/core/analyze/filter.js';
import { formatTemplate, MESSAGES } from '../../../src/core/analyze/messages.js';
import { ALL_ANALYZERS } from '../../../src/core/analyze/all.js';
import type { Message } from '../../../src/core/analyze/types.js';
import { parseDuration } from '../../../src/core/analyze/util.js';
import { UsageError } from '../../../src/core/errors.js';

describe('catalogue and registry', () => {
  test('codes are unique and sorted; every analyzer code is catalogued; names are unique and sorted', () => {
    const codes = MESSAGES.map((m) => m.code);
    expect(new Set(codes).size).toBe(codes.length);
    expect([...codes].sort()).toEqual(codes);
    for (const a of ALL_ANALYZERS) for (const c of a.codes) expect(codes, a.name).toContain(c);
    for (const c of codes) expect(ALL_ANALYZERS.some((a) => a.codes.includes(c)), `${c} has an analyzer`).toBe(true);
    const names = ALL_ANALYZERS.map((a) => a.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual(names);
  });

  test('istioctl codes keep istioctl names', () => {
    const byCode = Object.fromEntries(MESSAGES.map((m) => [m.code, m.name]));
    expect(byCode).toMatchObject({
      IST0101: 'ReferencedResourceNotFound',
      IST0106: 'SchemaValidationError',
      IST0109: 'ConflictingMeshGatewayVirtualServiceHosts',
      IST0118: 'PortNameIsNotUnderNamingConvention',
      IST0122: 'InvalidRegexp',
      IST0130: 'VirtualServiceUnreachableRule',
      IST0145: 'ConflictingGateways',
    });
  });

  test('templates fill in order and keep %%', () => {
    expect(formatTemplate('a %s b %s c %%', ['x', 2])).toBe('a x b 2 c %');
  });
});

describe('durations and regexes', () => {
  test.each([
    ['1s', 1000],
    ['1.5s', 1500],
    ['100ms', 100],
    ['1h30m', 5_400_000],
    ['.5s', 500],
  ])('%s parses', (v, ms) => expect(parseDuration(v)).toEqual({ ms }));
  test.each(['10', '5 seconds', '1x', '', 's'])('%s does not', (v) => expect(parseDuration(v)).toHaveProperty('error'));

  test('RE2 rules: inline flags ok; look-around and back-references refused', () => {
    expect(re2Problem('(?i)^/api/v[0-9]+$')).toBeUndefined();
    expect(re2Problem('^(?!admin)')).toMatch(/look-around/);
    expect(re2Problem('(a)\\1')).toMatch(/back-references/);
    expect(re2Problem('/api/(v1|v2')).toBeDefined();
  });
});

describe('suppressions, levels, baselines', () => {
  test('suppression globs match code and "Kind name.namespace"', () => {
    const s = parseSuppression('IST01*=VirtualService *.prod');
    expect(s.code.test('IST0101') && s.resource.test('VirtualService reviews.prod')).toBe(true);
    expect(s.resource.test('VirtualService reviews.production')).toBe(false);
    expect(() => parseSuppression('IST0101')).toThrow(UsageError);
    expect(() => parseSuppression('=x')).toThrow(UsageError);
  });

  test('levels are case-insensitive; bad ones are usage errors', () => {
    expect(parseLevel('warning', '--x')).toBe('Warning');
    expect(parseLevel(undefined, '--x')).toBeUndefined();
    expect(() => parseLevel('fatal', '--x')).toThrow(UsageError);
  });

  test('a baseline absorbs each old finding once, whatever its line', () => {
    const m = (name: string, line: number): Message => ({ code: 'IST0101', name: 'R', level: 'Error', text: 't', analyzer: 'a', resource: { kind: 'VirtualService', name, namespace: 'd' }, origin: { file: 'f', line, column: 1 } });
    expect(newSince([m('a', 5), m('a', 9), m('b', 1)], [m('a', 1)]).map((x) => `${x.resource.name}:${x.origin?.line}`)).toEqual(['a:9', 'b:1']);
  });
});

describe('small parsers', () => {
  test('schema paths', () => expect(parsePath('spec.http[0].route[12].weight')).toEqual(['spec', 'http', 0, 'route', 12, 'weight']));
  test('proxy versions', () => {
    expect(imageVersion('docker.io/istio/proxyv2:1.22.3-distroless')).toBe('1.22.3');
    expect(imageVersion('proxy:latest')).toBeUndefined();
    expect(compareVersions('1.21.9', '1.22.0')).toBeLessThan(0);
    expect(compareVersions('1.22', '1.22.0')).toBe(0);
  });
});

describe('CEL rules offline', () => {
  const schema = {
    type: 'object',
    properties: {
      ports: {
        type: 'array',
        items: { type: 'object', properties: { number: { type: 'integer', 'x-kubernetes-validations': [{ rule: '0 < self && self <= 65535', message: 'port must be between 1-65535' }] } } },
        'x-kubernetes-validations': [{ rule: 'self.all(l1, self.exists_one(l2, l1.number == l2.number))', message: 'port number must be unique' }],
      },
      url: { type: 'string', 'x-kubernetes-validations': [{ rule: 'url(self).getScheme() in ["http", "https"]' }] },
      moved: { type: 'string', 'x-kubernetes-validations': [{ rule: 'self == oldSelf' }] },
    },
  };
  test('reports violations with their path and message; skips what it cannot evaluate', () => {
    const cel = new CelValidator();
    const v = cel.validate(schema, { ports: [{ number: 80 }, { number: 80 }, { number: 70000 }], url: 'ftp://x', moved: 'a' }, ['spec']);
    expect(v.map((x) => `${x.path.join('.')}: ${x.message}`).sort()).toEqual([
      'spec.ports.2.number: port must be between 1-65535',
      'spec.ports: port number must be unique',
      'spec.url: failed rule: url(self).getScheme() in ["http", "https"]',
    ]);
    // Only the transition rule (oldSelf) cannot be judged offline.
    expect([...cel.unevaluated]).toEqual(['self == oldSelf']);
    expect(cel.validate(schema, { url: 'https://example.com/jwks' })).toEqual([]);
    expect(cel.validate(schema, { ports: [{ number: 80 }, { number: 443 }] })).toEqual([]);
  });
});
