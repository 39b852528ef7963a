// Replaced at build time by scripts/build.mjs (esbuild `define`) and in tests by vitest.config.ts.
declare const __MESHCTL_VERSION__: string;
declare const __MESHCTL_COMMIT__: string;

export const VERSION = {
  version: typeof __MESHCTL_VERSION__ === 'string' ? __MESHCTL_VERSION__ : '0.0.0-dev',
  commit: typeof __MESHCTL_COMMIT__ === 'string' ? __MESHCTL_COMMIT__ : 'unknown',
};
