import { describe, expect, test } from 'vitest';
import type { Resource } from '../../../src/api/resource.js';
import { faultActive, faultExpiry, nextFaultExpiry } from '../../../src/core/traffic/fault-expiry.js';

const vs = (annotation: string | undefined, names: string[]): Resource => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'ratings', ...(annotation === undefined ? {} : { annotations: { 'meshctl.io/fault-expires': annotation } }) },
  spec: { hosts: ['ratings'], http: [...names.map((name) => ({ name, fault: { abort: { httpStatus: 503 } }, route: [] })), { route: [] }] },
});

describe('fault expiry (the contract with the proxy)', () => {
  const v = vs('{"meshctl-fault-a":"2026-01-02T03:10:00.000Z","meshctl-fault-b":"2026-01-02T04:00:00Z","meshctl-fault-c":"soon"}', ['meshctl-fault-a', 'meshctl-fault-b', 'meshctl-fault-c', 'hand-written']);

  test('reads the route\'s own entry; none for other routes, broken values or a broken annotation', () => {
    expect(faultExpiry({ name: 'meshctl-fault-a' }, v)?.toISOString()).toBe('2026-01-02T03:10:00.000Z');
    expect(faultExpiry({ name: 'meshctl-fault-c' }, v)).toBeUndefined();
    expect(faultExpiry({ name: 'hand-written' }, v)).toBeUndefined();
    expect(faultExpiry({}, v)).toBeUndefined();
    expect(faultExpiry({ name: 'meshctl-fault-a' }, vs('{not json', []))).toBeUndefined();
    expect(faultExpiry({ name: 'meshctl-fault-a' }, vs(undefined, []))).toBeUndefined();
  });

  test('a fault applies until its expiry, exclusive', () => {
    expect(faultActive({ name: 'meshctl-fault-a' }, v, new Date('2026-01-02T03:09:59.999Z'))).toBe(true);
    expect(faultActive({ name: 'meshctl-fault-a' }, v, new Date('2026-01-02T03:10:00.000Z'))).toBe(false);
    expect(faultActive({ name: 'hand-written' }, v, new Date('2100-01-01T00:00:00Z'))).toBe(true);
  });

  test('the next expiry to schedule a recompile for', () => {
    expect(nextFaultExpiry([v], new Date('2026-01-02T03:00:00Z'))?.toISOString()).toBe('2026-01-02T03:10:00.000Z');
    expect(nextFaultExpiry([v], new Date('2026-01-02T03:10:00Z'))?.toISOString()).toBe('2026-01-02T04:00:00.000Z');
    expect(nextFaultExpiry([v], new Date('2026-01-02T04:00:00Z'))).toBeUndefined();
  });
});
