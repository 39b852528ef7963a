// Bundles the CLI with esbuild: dist/meshctl.js plus lazily loaded chunks. Code splitting keeps
// @kubernetes/client-node, ink and undici in chunks of their own that load only inside the commands
// that need them, so `meshctl --help` parses a small file (see bench/startup.mjs).
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

function commit() {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'unknown';
  }
}

const define = {
  __MESHCTL_VERSION__: JSON.stringify(pkg.version),
  __MESHCTL_COMMIT__: JSON.stringify(process.env.MESHCTL_COMMIT ?? commit()),
  'process.env.NODE_ENV': '"production"',
};

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
const cli = build({
  absWorkingDir: root,
  entryPoints: { meshctl: 'src/entry.ts' },
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  jsx: 'automatic',
  alias: { 'react-devtools-core': './scripts/stubs/empty.cjs' },
  define,
  // CommonJS dependencies call require() for Node built-ins; ESM output has no require of its own.
  banner: { js: "import { createRequire as __meshctlCreateRequire } from 'node:module'; const require = __meshctlCreateRequire(import.meta.url);" },
});

// The process `meshctl proxy` becomes (src/proxy/reexec.ts): the proxy alone, as CommonJS, one
// file per config source. A CommonJS entry skips Node's ESM loader (a bare http server: 60 MB RSS
// as .mjs, 46 MB as .cjs) and none of the CLI's modules load. The --discovery bundle (the injected
// sidecar) leaves out the file store and the YAML parser too. Anything ESM-only (chalk,
// import.meta, top-level await) fails this build.
const runtime = (entry, outfile) =>
  build({
    absWorkingDir: root,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning',
    logOverride: { 'empty-import-meta': 'error' },
    define,
    metafile: true,
  });
const [, config, discovery, compile] = await Promise.all([
  cli,
  runtime('src/proxy/runtime-config.ts', 'dist/proxy-config.cjs'),
  runtime('src/proxy/runtime-discovery.ts', 'dist/proxy-discovery.cjs'),
  // `--config DIR`'s compile step, run as a short-lived child of the proxy (src/proxy/config-source.ts).
  runtime('src/proxy/runtime-compile.ts', 'dist/proxy-compile.cjs'),
]);
// The CLI's packages have no business in a sidecar: one stray import would put them in every pod.
// Neither proxy bundle parses YAML: the compile bundle does, in its own short-lived process.
const cliOnly = /node_modules\/(chalk|commander|ink|react|@kubernetes|ajv|@bufbuild|@peculiar|diff|js-yaml)\//;
const fileOnly = /node_modules\/yaml\/|src\/store\//;
for (const [file, { metafile }, banned] of [
  ['dist/proxy-config.cjs', config, new RegExp(`${cliOnly.source}|${fileOnly.source}`)],
  ['dist/proxy-discovery.cjs', discovery, new RegExp(`${cliOnly.source}|${fileOnly.source}`)],
  ['dist/proxy-compile.cjs', compile, cliOnly],
]) {
  const strays = Object.keys(metafile.inputs).filter((f) => banned.test(f));
  if (strays.length) throw new Error(`${file} bundles modules it must not carry: ${strays.slice(0, 5).join(', ')}`);
}
