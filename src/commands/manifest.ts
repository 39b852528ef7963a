import { defineCommand } from './spec.js';
import { RENDER_OPTIONS, renderFlags } from './manifest-inputs.js';

export const manifestGenerateCommand = defineCommand({
  path: 'manifest generate',
  summary: 'Print the manifests `meshctl install` would apply, as a YAML stream',
  description:
    'Renders a profile with your values into Kubernetes objects, in the order install applies them.\n' +
    'The output is deterministic: the same profile, values and meshctl version give the same bytes.\n' +
    '-o json|yaml print the objects as one List instead of a YAML stream.\n' +
    'The root CA comes from the values only (ca.cert/ca.key): without one there is no meshctl-ca Secret\n' +
    'and no webhook caBundle, and a note on stderr says so. `meshctl install` fills that gap (it reuses\n' +
    'Secret meshctl-system/meshctl-ca or generates a CA); to apply this output yourself, add\n' +
    '--set-file ca.cert=root-cert.pem --set-file ca.key=root-key.pem.',
  options: RENDER_OPTIONS,
  examples: [
    'meshctl manifest generate > meshctl.yaml',
    'meshctl manifest generate --profile demo --set meshConfig.mtls.mode=STRICT',
    'meshctl manifest generate -f my-values.yaml --set image.tag=dev | kubectl apply --server-side -f -',
  ],
  async run(ctx, _args, opts) {
    const { renderFromFlags, toYamlStream } = await import('./manifest-inputs.js');
    const rendered = await renderFromFlags(ctx, renderFlags(opts));
    const { CA_SECRET } = await import('../manifests/render.js');
    const injection = (rendered.values as { injection?: { enabled?: boolean } }).injection?.enabled === true;
    if (injection && !rendered.resources.some((r) => r.kind === 'Secret' && r.metadata.name === CA_SECRET)) ctx.info(NO_CA_NOTE);
    return { data: { apiVersion: 'v1', kind: 'List', items: rendered.resources }, text: await toYamlStream(rendered.resources) };
  },
});

/** Said on stderr when the render turns injection on without a CA: stdout stays the manifests, deterministic. */
export const NO_CA_NOTE =
  'note: no root CA in these values (ca.cert/ca.key), so no meshctl-ca Secret and no webhook caBundle: the controller will not serve sidecar injection. ' +
  'meshctl install reuses Secret meshctl-system/meshctl-ca or generates one; to apply this output yourself, add --set-file ca.cert=root-cert.pem --set-file ca.key=root-key.pem';
