import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DOMAIN,
  findSubset,
  fqdn,
  hostMatches,
  hostsOverlap,
  normalizeHost,
  parseNamespacedHost,
  parseSubsetRef,
  portNumberOf,
  serviceHost,
  serviceOfHost,
  splitHostPort,
  subsetKey,
  subsetsOf,
} from '../../src/api/hosts.js';
import type { Resource } from '../../src/api/resource.js';

describe('fqdn', () => {
  it('expands a short name in the namespace of the rule', () => {
    expect(DEFAULT_DOMAIN).toBe('cluster.local');
    expect(fqdn('reviews', 'default')).toBe('reviews.default.svc.cluster.local');
    // The rule's namespace wins even if the service lives elsewhere (Istio docs).
    expect(fqdn('reviews', 'prod')).toBe('reviews.prod.svc.cluster.local');
  });

  it('uses a custom cluster domain', () => {
    expect(fqdn('reviews', 'prod', 'corp.example')).toBe('reviews.prod.svc.corp.example');
    expect(fqdn('reviews', 'prod', 'Corp.Example.')).toBe('reviews.prod.svc.corp.example');
  });

  it('keeps dotted names as written, as istiod does', () => {
    expect(fqdn('reviews.prod.svc.cluster.local', 'default')).toBe('reviews.prod.svc.cluster.local');
    expect(fqdn('reviews.prod.svc.corp.example', 'default', 'corp.example')).toBe('reviews.prod.svc.corp.example');
    expect(fqdn('reviews.prod', 'default')).toBe('reviews.prod');
    expect(fqdn('example.com', 'default')).toBe('example.com');
  });

  it('keeps wildcards and IP addresses', () => {
    expect(fqdn('*', 'default')).toBe('*');
    expect(fqdn('*.example.com', 'default')).toBe('*.example.com');
    expect(fqdn('*.Prod.svc.cluster.local.', 'default')).toBe('*.prod.svc.cluster.local');
    expect(fqdn('10.0.0.1', 'default')).toBe('10.0.0.1');
    expect(fqdn('::1', 'default')).toBe('::1');
  });

  it('lower-cases and drops a trailing dot; an absolute name is never expanded', () => {
    expect(fqdn('Reviews', 'Default')).toBe('reviews.default.svc.cluster.local');
    expect(fqdn('REVIEWS.default.SVC.cluster.local.', 'x')).toBe('reviews.default.svc.cluster.local');
    expect(fqdn('reviews.', 'default')).toBe('reviews');
  });

  it('leaves a short name alone when no namespace is known', () => {
    expect(fqdn('reviews', '')).toBe('reviews');
    expect(fqdn('', 'default')).toBe('');
  });
});

describe('serviceHost (command-line names)', () => {
  it('reads name.namespace kubectl-style', () => {
    expect(serviceHost('reviews', 'default')).toBe('reviews.default.svc.cluster.local');
    expect(serviceHost('reviews.prod', 'default')).toBe('reviews.prod.svc.cluster.local');
    expect(serviceHost('reviews.prod.svc', 'default')).toBe('reviews.prod.svc.cluster.local');
    expect(serviceHost('reviews.prod.svc.cluster.local', 'default')).toBe('reviews.prod.svc.cluster.local');
    expect(serviceHost('reviews.prod', 'default', 'corp.example')).toBe('reviews.prod.svc.corp.example');
  });
});

describe('hostMatches', () => {
  it('* matches everything, including wildcards', () => {
    expect(hostMatches('*', 'reviews.default.svc.cluster.local')).toBe(true);
    expect(hostMatches('*', '*.example.com')).toBe(true);
    expect(hostMatches('*', '*')).toBe(true);
  });

  it('*.suffix matches subdomains but not the bare suffix', () => {
    const p = '*.ns.svc.cluster.local';
    expect(hostMatches(p, 'a.ns.svc.cluster.local')).toBe(true);
    expect(hostMatches(p, 'a.b.ns.svc.cluster.local')).toBe(true);
    expect(hostMatches(p, 'ns.svc.cluster.local')).toBe(false);
    expect(hostMatches(p, 'a.other.svc.cluster.local')).toBe(false);
    expect(hostMatches(p, 'xns.svc.cluster.local')).toBe(false);
    expect(hostMatches(p, '*.x.ns.svc.cluster.local')).toBe(true);
    expect(hostMatches(p, '*.svc.cluster.local')).toBe(false);
    expect(hostMatches(p, '*')).toBe(false);
  });

  it('is exact otherwise, ignoring case and trailing dots', () => {
    expect(hostMatches('Reviews.Default.svc.cluster.local.', 'reviews.default.svc.cluster.local')).toBe(true);
    expect(hostMatches('reviews.default.svc.cluster.local', 'reviews.prod.svc.cluster.local')).toBe(false);
    // No expansion here: short names must go through fqdn first.
    expect(hostMatches('reviews', 'reviews.default.svc.cluster.local')).toBe(false);
    expect(hostMatches('reviews.default.svc.cluster.local', '*.default.svc.cluster.local')).toBe(false);
  });

  it('matches short names from other namespaces only after fqdn', () => {
    const inProd = fqdn('reviews', 'prod');
    expect(hostMatches(fqdn('reviews', 'default'), inProd)).toBe(false);
    expect(hostMatches(fqdn('*.prod.svc.cluster.local', 'default'), inProd)).toBe(true);
  });
});

describe('hostsOverlap', () => {
  it('is symmetric', () => {
    expect(hostsOverlap('*.example.com', 'api.example.com')).toBe(true);
    expect(hostsOverlap('api.example.com', '*.example.com')).toBe(true);
    expect(hostsOverlap('*.example.com', '*.api.example.com')).toBe(true);
    expect(hostsOverlap('*.example.com', 'example.com')).toBe(false);
    expect(hostsOverlap('a.example.com', 'b.example.com')).toBe(false);
    expect(hostsOverlap('*', 'anything')).toBe(true);
  });
});

describe('serviceOfHost', () => {
  it('reads name.ns.svc.domain', () => {
    expect(serviceOfHost('reviews.prod.svc.cluster.local')).toEqual({ name: 'reviews', namespace: 'prod' });
    expect(serviceOfHost('Reviews.Prod.svc.cluster.local.')).toEqual({ name: 'reviews', namespace: 'prod' });
    expect(serviceOfHost('reviews.prod.svc.corp.example', 'corp.example')).toEqual({ name: 'reviews', namespace: 'prod' });
  });

  it('rejects anything else', () => {
    expect(serviceOfHost('reviews.prod.svc.corp.example')).toBeUndefined();
    expect(serviceOfHost('reviews')).toBeUndefined();
    expect(serviceOfHost('reviews.prod')).toBeUndefined();
    expect(serviceOfHost('*.prod.svc.cluster.local')).toBeUndefined();
    expect(serviceOfHost('pod-1.reviews.prod.svc.cluster.local')).toBeUndefined();
    expect(serviceOfHost('prod.svc.cluster.local')).toBeUndefined();
    expect(serviceOfHost('example.com')).toBeUndefined();
  });
});

describe('ports and references', () => {
  it('splits host:port', () => {
    expect(splitHostPort('reviews:9080')).toEqual({ host: 'reviews', port: 9080 });
    expect(splitHostPort('Reviews.Prod')).toEqual({ host: 'reviews.prod', port: undefined });
    expect(splitHostPort('[::1]:8080')).toEqual({ host: '::1', port: 8080 });
    expect(splitHostPort('::1')).toEqual({ host: '::1', port: undefined });
    expect(splitHostPort('reviews:99999')).toEqual({ host: 'reviews:99999', port: undefined });
  });

  it('reads destination ports', () => {
    expect(portNumberOf({ host: 'reviews', port: { number: 9080 } })).toBe(9080);
    expect(portNumberOf({ host: 'reviews' })).toBeUndefined();
    expect(portNumberOf({ host: 'reviews', port: { number: 0 } })).toBeUndefined();
    expect(portNumberOf(undefined)).toBeUndefined();
  });

  it('parses namespace/host', () => {
    expect(parseNamespacedHost('istio-system/*.example.com')).toEqual({ namespace: 'istio-system', host: '*.example.com' });
    expect(parseNamespacedHost('./Reviews')).toEqual({ namespace: '.', host: 'reviews' });
    expect(parseNamespacedHost('reviews')).toEqual({ namespace: undefined, host: 'reviews' });
  });

  it('resolves subset references and keys', () => {
    const ref = parseSubsetRef({ host: 'reviews', subset: 'v2', port: { number: 9080 } }, 'default');
    expect(ref).toEqual({ host: 'reviews.default.svc.cluster.local', subset: 'v2', port: 9080 });
    expect(subsetKey('outbound', ref!)).toBe('outbound|9080|v2|reviews.default.svc.cluster.local');
    expect(subsetKey('outbound', parseSubsetRef({ host: 'ratings' }, 'prod')!)).toBe('outbound|||ratings.prod.svc.cluster.local');
    expect(parseSubsetRef({ subset: 'v1' }, 'default')).toBeUndefined();
  });

  it('finds subsets in a DestinationRule', () => {
    const dr: Resource = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'reviews', namespace: 'default' },
      spec: { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }, 'junk', { name: 'v2', labels: { version: 'v2' } }] },
    };
    expect(findSubset(dr, 'v2')).toEqual({ name: 'v2', labels: { version: 'v2' } });
    expect(findSubset(dr, 'v3')).toBeUndefined();
    expect(subsetsOf(dr)).toHaveLength(2);
    expect(subsetsOf({ ...dr, spec: undefined })).toEqual([]);
  });

  it('normalises', () => {
    expect(normalizeHost(' A.B. ')).toBe('a.b');
    expect(normalizeHost('.')).toBe('.');
  });
});
