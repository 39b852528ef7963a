import { defineCommand, type CommandOutput } from './spec.js';
import { RENDER_OPTIONS, renderFlags } from './manifest-inputs.js';

interface Check {
  object: string;
  status: 'ok' | 'missing' | 'drifted' | 'extra' | 'not ready';
  detail: string;
  fatal: boolean;
}

export const verifyInstallCommand = defineCommand({
  path: 'verify-install',
  summary: 'Check that every object of the install exists in the cluster and matches the render',
  description:
    'Renders the same profile and values as install (pass the same --profile, -f and --set) and checks\n' +
    'each object: present, every rendered field equal in the cluster, CRDs Established. A controller\n' +
    'that is not ready yet and objects the render no longer has are reported as warnings.\n' +
    'Needs only read access. Exits 69 when an object is missing or differs.',
  options: RENDER_OPTIONS,
  examples: ['meshctl verify-install', 'meshctl verify-install --profile demo -o json'],
  async run(ctx, _args, opts) {
    const { renderFromFlags } = await import('./manifest-inputs.js');
    const { openApplier, listInstalled } = await import('./install.js');
    const { containsDesired, describeRef, pruneCandidates } = await import('../manifests/plan.js');
    const { KIND_ORDER, NAMESPACE, INSTALL_SELECTOR } = await import('../manifests/render.js');
    const { installKindInfo, crdEstablished, deploymentReady } = await import('../store/kube-apply.js');
    let rendered = await renderFromFlags(ctx, renderFlags(opts));
    const checks: Check[] = [];
    if (ctx.globals.local) {
      // A local mesh: the objects install --local lays out, read through the FileStore.
      const { LOCAL_KINDS } = await import('./install.js');
      const store = await ctx.store();
      for (const r of rendered.resources.filter((x) => LOCAL_KINDS.has(x.kind))) {
        const ref = { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name };
        const actual = await store.get(ref);
        const object = describeRef(ref);
        if (!actual) {
          checks.push({ object, status: 'missing', detail: `not in ${store.location}: run meshctl install --local`, fatal: true });
          continue;
        }
        const same = containsDesired(actual, r);
        checks.push(same === true ? { object, status: 'ok', detail: '', fatal: false } : { object, status: 'drifted', detail: same, fatal: true });
      }
      return report(rendered, checks, `in ${store.location}`);
    }
    const kube = await openApplier(ctx);
    try {
      // Without a CA in the values, install stored (or generated) one in meshctl-ca: check against that.
      const { clusterCA, renderWithCA } = await import('./install.js');
      const found = await clusterCA(ctx, kube, rendered.values, { generate: false });
      if (found) rendered = await renderWithCA(rendered, found.ca);
      for (const r of rendered.resources) {
        const ref = { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name };
        const object = describeRef(ref);
        const actual = await kube.get(ref);
        if (!actual) {
          checks.push({ object, status: 'missing', detail: 'not in the cluster: run meshctl install', fatal: true });
          continue;
        }
        const same = containsDesired(actual, r);
        if (same !== true) {
          checks.push({ object, status: 'drifted', detail: same, fatal: true });
          continue;
        }
        if (r.kind === 'CustomResourceDefinition') {
          const est = crdEstablished(actual);
          if (est !== true) {
            checks.push({ object, status: 'not ready', detail: est, fatal: true });
            continue;
          }
        }
        if (r.kind === 'Deployment') {
          const ready = deploymentReady(actual);
          if (ready !== true) {
            checks.push({ object, status: 'not ready', detail: ready, fatal: false });
            continue;
          }
        }
        checks.push({ object, status: 'ok', detail: '', fatal: false });
      }
      const installed = await listInstalled(kube, KIND_ORDER, NAMESPACE, INSTALL_SELECTOR, installKindInfo);
      for (const r of pruneCandidates(installed, rendered.resources)) {
        checks.push({ object: describeRef({ kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name }), status: 'extra', detail: 'installed by meshctl but not in this render (install prunes it)', fatal: false });
      }
      return report(rendered, checks, `in context "${kube.context}"`);
    } finally {
      await kube.close();
    }
  },
});

function report(rendered: { profile: string; version: string }, checks: Check[], where = ''): CommandOutput {
  const failed = checks.filter((c) => c.fatal).length;
  const total = checks.filter((c) => c.status !== 'extra').length;
  const warnings = checks.filter((c) => !c.fatal && c.status !== 'ok').length;
  const ok = checks.filter((c) => c.status === 'ok').length;
  const summary = failed
    ? `${failed} of ${total} objects are missing or differ from meshctl ${rendered.version} (profile ${rendered.profile})`
    : `meshctl ${rendered.version} (profile ${rendered.profile}) is installed: ${ok} objects verified${warnings ? `, ${warnings} warning${warnings > 1 ? 's' : ''}` : ''}`;
  const shown = checks.filter((c) => c.status !== 'ok');
  // Nothing but CRDs (which uninstall keeps) is there: one line says it better than a line per object.
  const notInstalled = checks.filter((c) => !c.object.startsWith('CustomResourceDefinition '));
  if (notInstalled.length > 0 && notInstalled.every((c) => c.status === 'missing')) {
    return {
      data: { profile: rendered.profile, version: rendered.version, ok: false, checks },
      text: `meshctl is not installed${where ? ` ${where}` : ''}: none of its ${notInstalled.length} objects are there (run meshctl install)`,
      exitCode: 69,
    };
  }
  return {
    data: { profile: rendered.profile, version: rendered.version, ok: failed === 0, checks },
    text: [...shown.map((c) => `${c.fatal ? '✗' : '!'} ${c.object}: ${c.status}${c.detail ? ` (${c.detail})` : ''}`), summary].join('\n'),
    ...(failed ? { exitCode: 69 } : {}),
  };
}
