import { describe, expect, it } from 'vitest';
import { injectPod, SIDECAR_NAME, STATUS_ANNOTATION, workloadName, type PodLike } from '../../../src/core/inject/inject.js';

const opts = { image: 'ghcr.io/meshctl/meshctl:0.1.0', discoveryAddress: 'http://meshctl-controller.meshctl-system.svc:15010', namespace: 'default' };
const pod = (extra: Partial<PodLike['metadata']> = {}, spec: PodLike['spec'] = { containers: [{ name: 'app', image: 'reviews', ports: [{ containerPort: 9080 }] }] }): PodLike => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { generateName: 'reviews-v2-7f9c8d4b5-', labels: { app: 'reviews', version: 'v2', 'pod-template-hash': '7f9c8d4b5' }, ownerReferences: [{ kind: 'ReplicaSet', name: 'reviews-v2-7f9c8d4b5' }], ...extra },
  spec,
});

describe('injectPod', () => {
  it('adds the proxy streaming from the controller, named as the Deployment, with the app port and stable labels', () => {
    const r = injectPod(pod(), opts);
    if (!r.injected) throw new Error(r.reason);
    const sidecar = r.pod.spec!.containers!.at(-1)!;
    expect(sidecar.name).toBe(SIDECAR_NAME);
    expect(sidecar.args).toEqual(['proxy', '--discovery', opts.discoveryAddress, '--workload', 'reviews-v2', '-n', 'default', '--app-port', '9080', '--label', 'app=reviews', '--label', 'version=v2']);
    expect(r.patch[0]).toEqual({ op: 'add', path: '/spec/containers/-', value: sidecar });
    expect(r.patch[1]).toMatchObject({ op: 'add', path: '/metadata/annotations' });
    expect(r.pod.metadata?.annotations?.[STATUS_ANNOTATION]).toContain('reviews-v2');
  });

  it('escapes the annotation key when annotations exist', () => {
    const r = injectPod(pod({ annotations: { a: 'b' } }), opts);
    if (!r.injected) throw new Error(r.reason);
    expect(r.patch[1]?.path).toBe('/metadata/annotations/sidecar.meshctl.dev~1status');
  });

  it('skips opted-out, hostNetwork and already injected pods, saying why', () => {
    expect(injectPod(pod({ annotations: { 'sidecar.istio.io/inject': 'false' } }), opts)).toEqual({ injected: false, reason: 'sidecar.istio.io/inject: "false"' });
    expect(injectPod(pod({}, { hostNetwork: true, containers: [{ name: 'a' }] }), opts)).toMatchObject({ injected: false, reason: expect.stringContaining('hostNetwork') as string });
    const once = injectPod(pod(), opts);
    if (!once.injected) throw new Error('not injected');
    expect(injectPod(once.pod, opts)).toEqual({ injected: false, reason: 'already injected' });
  });

  it('names workloads as Istio reports them', () => {
    expect(workloadName({ metadata: { name: 'bare' } })).toBe('bare');
    expect(workloadName({ metadata: { ownerReferences: [{ kind: 'StatefulSet', name: 'db' }], name: 'db-0' } })).toBe('db');
    expect(workloadName({ metadata: { generateName: 'ratings-v1-5d8f7c9b6d-' } })).toBe('ratings-v1');
  });
});
