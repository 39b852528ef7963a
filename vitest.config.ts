import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };
const define = { __MESHCTL_VERSION__: JSON.stringify(pkg.version), __MESHCTL_COMMIT__: JSON.stringify('test') };

// Tiers by folder: unit (pure, fast), integration (a real kube-apiserver on etcd, started once per
// run by test/integration/global-setup.ts), e2e (real meshctl processes on 127.0.0.1).
export default defineConfig({
  define,
  test: {
    projects: [
      { define, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node' } },
      {
        define,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // One API server is shared; files run one at a time so they never step on each other's load.
          fileParallelism: false,
        },
      },
      { define, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000, fileParallelism: false } },
    ],
  },
});
