import type { Analyzer } from '../types.js';
import type { Workload } from '../context.js';

/**
 * New in meshctl: pods whose proxy image is older than the control plane (they keep the old proxy
 * until restarted). The control plane version comes from the snapshot (cluster mode) or from an
 * istiod / meshctl-controller Deployment in the input.
 */
export const proxyVersion: Analyzer = {
  name: 'workload.proxy-version',
  codes: ['MSH0502'],
  description: 'Sidecars are not older than the control plane',
  inputs: ['Deployment', 'Pod'],
  analyze(ctx, report) {
    const workloads = ctx.allWorkloads();
    const cp = ctx.controlPlaneVersion ?? controlPlaneFromInput(workloads);
    if (!cp) {
      if (workloads.some((w) => w.isPod && w.proxyImage)) report.skip('the control plane version is unknown (no istiod or meshctl-controller Deployment in the input)');
      return;
    }
    for (const w of workloads) {
      if (!w.isPod || !w.proxyImage) continue;
      const v = imageVersion(w.proxyImage);
      if (v && compareVersions(v, cp) < 0) report.report('MSH0502', w.input, ['spec', 'containers'], w.input.resource.metadata.name, v, cp);
    }
  },
};

function controlPlaneFromInput(workloads: readonly Workload[]): string | undefined {
  for (const w of workloads) {
    const r = w.input.resource;
    if (r.kind !== 'Deployment') continue;
    if (r.metadata.name === 'meshctl-controller') return r.metadata.labels?.['app.kubernetes.io/version'];
    if (r.metadata.name.startsWith('istiod') && r.metadata.namespace === 'istio-system') {
      const spec = r.spec as { template?: { spec?: { containers?: { name?: string; image?: string }[] } } } | undefined;
      const image = spec?.template?.spec?.containers?.find((c) => c.name === 'discovery')?.image;
      if (image) return imageVersion(image);
    }
  }
  return undefined;
}

/** `docker.io/istio/proxyv2:1.22.3-distroless` -> `1.22.3`. */
export function imageVersion(image: string): string | undefined {
  const tag = image.slice(image.lastIndexOf(':') + 1);
  return /^v?(\d+\.\d+(?:\.\d+)?)/.exec(tag)?.[1];
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}
