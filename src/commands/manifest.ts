import { defineCommand } from './spec.js';
import { RENDER_OPTIONS, renderFlags } from './manifest-inputs.js';

export const manifestGenerateCommand = defineCommand({
  path: 'manifest generate',
  summary: 'Print the manifests `meshctl install` would apply, as a YAML stream',
  description:
    'Renders a profile with your values into Kubernetes objects, in the order install applies them.\n' +
    'The output is deterministic: the same profile, values and meshctl version give the same bytes.\n' +
    '-o json|yaml print the objects as one List instead of a YAML stream.',
  options: RENDER_OPTIONS,
  examples: [
    'meshctl manifest generate > meshctl.yaml',
    'meshctl manifest generate --profile demo --set meshConfig.mtls.mode=STRICT',
    'meshctl manifest generate -f my-values.yaml --set image.tag=dev | kubectl apply --server-side -f -',
  ],
  async run(ctx, _args, opts) {
    const { renderFromFlags, toYamlStream } = await import('./manifest-inputs.js');
    const rendered = await renderFromFlags(ctx, renderFlags(opts));
    return { data: { apiVersion: 'v1', kind: 'List', items: rendered.resources }, text: await toYamlStream(rendered.resources) };
  },
});
