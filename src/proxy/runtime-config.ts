/** Entry of dist/proxy-config.cjs: `meshctl proxy --config DIR`, the file store and YAML included (see runtime-main.ts). */
import { runProxy } from './run.js';
import { startRuntime } from './runtime-main.js';

startRuntime('dist/proxy-config.cjs', async (ctx, launch) => {
  if (!('dir' in launch)) throw new Error('dist/proxy-config.cjs runs --config only; --discovery runs from dist/proxy-discovery.cjs');
  await runProxy(ctx, launch);
});
