/** Entry of dist/proxy-discovery.cjs: `meshctl proxy --discovery ADDR`, the sidecar as injected (see runtime-main.ts). */
import { runDiscoveryProxy } from './discovery.js';
import { startRuntime } from './runtime-main.js';

startRuntime('dist/proxy-discovery.cjs', async (ctx, launch) => {
  if (!('discovery' in launch)) throw new Error('dist/proxy-discovery.cjs runs --discovery only; --config runs from dist/proxy-config.cjs');
  await runDiscoveryProxy(ctx, launch);
});
