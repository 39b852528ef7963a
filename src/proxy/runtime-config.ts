/**
 * Entry of dist/proxy-config.cjs: `meshctl proxy --config DIR` (see runtime-main.ts). The directory
 * is compiled by dist/proxy-compile.cjs in a short-lived child process (src/proxy/config-source.ts):
 * this bundle carries neither the YAML parser nor the file store.
 */
import { join } from 'node:path';
import { childCompiler } from './config-source.js';
import { runProxy } from './run.js';
import { startRuntime } from './runtime-main.js';

startRuntime('dist/proxy-config.cjs', async (ctx, launch) => {
  if (!('dir' in launch)) throw new Error('dist/proxy-config.cjs runs --config only; --discovery runs from dist/proxy-discovery.cjs');
  // This file is bundled as CommonJS (scripts/build.mjs): __dirname is dist/, where the compile bundle sits beside it.
  await runProxy(ctx, { ...launch, compile: childCompiler(join(__dirname, 'proxy-compile.cjs')) });
});
