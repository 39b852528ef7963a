import { describe, expect, it } from 'vitest';
import type { Resource } from '../../src/api/resource.js';
import { lineDiff } from '../../src/manifests/diff.js';
import { ADOPTED, containsDesired, isAdopted, normalize, pruneCandidates, releasePatch, sameObject, summarize, withAdoption } from '../../src/manifests/plan.js';

const obj = (kind: string, name: string, extra: Partial<Resource> = {}, labels: Record<string, string> = {}): Resource => ({
  apiVersion: 'v1',
  kind,
  metadata: { name, namespace: kind === 'CustomResourceDefinition' || kind === 'Namespace' ? undefined : 'meshctl-system', labels },
  ...extra,
});
const MESHCTL = { 'app.kubernetes.io/managed-by': 'meshctl' };

describe('install plan', () => {
  it('ignores server bookkeeping and status when comparing', () => {
    const a = obj('ConfigMap', 'c', { data: { a: '1' } });
    const b = { ...obj('ConfigMap', 'c', { data: { a: '1' }, status: { x: 1 } }), metadata: { ...a.metadata, resourceVersion: '9', managedFields: [{}], uid: 'u', generation: 3 } };
    expect(sameObject(a, b)).toBe(true);
    expect(sameObject(a, obj('ConfigMap', 'c', { data: { a: '2' } }))).toBe(false);
    expect(normalize(b).metadata).toEqual(a.metadata);
  });

  it('marks a CRD that was there without meshctl\'s label as adopted, and keeps the mark', () => {
    const desired = obj('CustomResourceDefinition', 'x.io', {}, MESHCTL);
    expect(withAdoption(desired, undefined)).toBe(desired); // meshctl creates it: its own
    const istios = obj('CustomResourceDefinition', 'x.io', {}, { release: 'istio' });
    expect(withAdoption(desired, istios).metadata.annotations?.[ADOPTED]).toBe('true');
    const adoptedBefore = { ...desired, metadata: { ...desired.metadata, annotations: { [ADOPTED]: 'true' } } };
    expect(withAdoption(desired, adoptedBefore).metadata.annotations?.[ADOPTED]).toBe('true');
    expect(withAdoption(desired, desired)).toBe(desired); // created by meshctl earlier
  });

  it('adopts any object that was there without meshctl\'s label, such as a namespace the user made', () => {
    const desired = obj('Namespace', 'meshctl-system', {}, MESHCTL);
    const users = obj('Namespace', 'meshctl-system', {}, { team: 'platform' });
    expect(withAdoption(desired, users).metadata.annotations?.[ADOPTED]).toBe('true');
    expect(withAdoption(desired, desired)).toBe(desired);
    expect(isAdopted(withAdoption(desired, users))).toBe(true);
    // Uninstall takes exactly meshctl's marks off and nothing else.
    expect(releasePatch()).toEqual({
      metadata: {
        labels: { 'app.kubernetes.io/name': null, 'app.kubernetes.io/part-of': null, 'app.kubernetes.io/managed-by': null, 'app.kubernetes.io/version': null },
        annotations: { [ADOPTED]: null },
      },
    });
  });

  it('never prunes an adopted object', () => {
    const adopted = { ...obj('ConfigMap', 'theirs'), metadata: { ...obj('ConfigMap', 'theirs').metadata, annotations: { [ADOPTED]: 'true' } } };
    expect(pruneCandidates([adopted, obj('ConfigMap', 'ours')], []).map((r) => r.metadata.name)).toEqual(['ours']);
  });

  it('prunes what the render dropped, webhook before workloads, never CRDs', () => {
    const rendered = [obj('ConfigMap', 'keep')];
    const installed = [obj('ConfigMap', 'keep'), obj('Deployment', 'old'), obj('MutatingWebhookConfiguration', 'hook'), obj('CustomResourceDefinition', 'x.io'), obj('PodDisruptionBudget', 'p')];
    expect(pruneCandidates(installed, rendered).map((r) => r.kind)).toEqual(['MutatingWebhookConfiguration', 'PodDisruptionBudget', 'Deployment']);
  });

  it('counts actions', () => {
    const ref = { kind: 'ConfigMap', name: 'x' };
    expect(summarize([{ action: 'create', ref }, { action: 'create', ref }, { action: 'prune', ref }])).toEqual({ create: 2, update: 0, unchanged: 0, prune: 1 });
  });

  it('accepts extra server defaults but names the first field that differs', () => {
    const desired = { spec: { replicas: 2, template: { containers: [{ name: 'c', resources: { limits: { cpu: 1 } } }] } } };
    const actual = { spec: { replicas: 2, strategy: { type: 'RollingUpdate' }, template: { containers: [{ name: 'c', imagePullPolicy: 'Always', resources: { limits: { cpu: '1' } } }] } } };
    expect(containsDesired(actual, desired)).toBe(true);
    expect(containsDesired({ spec: { replicas: 3 } }, { spec: { replicas: 2 } })).toBe('spec.replicas: want 2, found 3');
    expect(containsDesired({ spec: {} }, { spec: { a: { b: 1 } } })).toBe('spec.a: want a map, found nothing');
    expect(containsDesired({ l: [1, 2] }, { l: [1] })).toBe('l: want 1 items, found 2');
  });
});

describe('lineDiff', () => {
  it('is empty for equal text', () => {
    expect(lineDiff('a\nb\n', 'a\nb\n')).toBe('');
  });

  it('shows changed lines with context and folds the rest', () => {
    const before = Array.from({ length: 20 }, (_, i) => `line ${i}`).join('\n');
    const after = before.replace('line 10', 'line ten');
    expect(lineDiff(before, after, { context: 1 })).toBe('@@\n  line 9\n- line 10\n+ line ten\n  line 11\n@@\n');
  });

  it('handles insertions and deletions at the ends', () => {
    expect(lineDiff('a\nb', 'x\na\nb\ny', { context: 0 })).toBe('+ x\n@@\n+ y\n');
    expect(lineDiff('a\nb\nc', '', { context: 0 })).toBe('- a\n- b\n- c\n');
  });
});
