// Start-up cost of the CLI against bare Node, measured in the same run, interleaved, as medians.
// Goal (issue 2): `meshctl --help` and `meshctl version` at most 2x `node -e 0`.
// Usage: node bench/startup.mjs [[--rounds] N]   (builds nothing: run `npm run build` first)
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// `node bench/startup.mjs 31` or `--rounds 31`, as bench/proxy/run.mjs takes it.
const roundsArg = process.argv[2] === '--rounds' ? process.argv[3] : process.argv[2];
const rounds = Number(roundsArg ?? 15);
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error(`bench/startup.mjs: ${roundsArg} is not a number of rounds (e.g. node bench/startup.mjs 21)`);
  process.exit(2);
}
const bin = fileURLToPath(new URL('../bin/meshctl', import.meta.url));
// A home with no kubeconfig: `version` then has no cluster to ask, as on a laptop without one.
const env = { ...process.env, HOME: mkdtempSync(join(tmpdir(), 'meshctl-bench-')), KUBECONFIG: '', NODE_COMPILE_CACHE: join(tmpdir(), 'meshctl-bench-cc') };
delete env.KUBECONFIG;

const variants = [
  ['node -e 0 (baseline)', ['-e', '0']],
  ['meshctl --help', [bin, '--help']],
  ['meshctl version', [bin, 'version']],
  ['meshctl version --client -o json', [bin, 'version', '--client', '-o', 'json']],
];

function once(args) {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

// Warm-up fills the compile cache and the page cache, as any second run on a machine would.
for (const [, args] of variants) once(args);
const times = variants.map(() => []);
for (let i = 0; i < rounds; i++) variants.forEach(([, args], v) => times[v].push(once(args)));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(times[0]);
console.log(`node ${process.version}, ${rounds} interleaved rounds, medians`);
console.log('variant'.padEnd(36) + 'median ms'.padStart(10) + 'x node'.padStart(9));
variants.forEach(([name], v) => {
  const m = median(times[v]);
  console.log(name.padEnd(36) + m.toFixed(1).padStart(10) + (m / base).toFixed(2).padStart(9));
});
