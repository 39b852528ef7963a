// Writes completions/meshctl.{bash,zsh,fish} from the built CLI; --check fails on drift instead, so
// CI catches a command added without regenerating them.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const check = process.argv.includes('--check');
const files = { bash: 'completions/meshctl.bash', zsh: 'completions/_meshctl', fish: 'completions/meshctl.fish' };
mkdirSync(new URL('../completions', import.meta.url), { recursive: true });
let drift = 0;
for (const [shell, file] of Object.entries(files)) {
  const out = execFileSync(process.execPath, [`${root}/bin/meshctl`, 'completion', shell], { encoding: 'utf8' });
  const path = `${root}/${file}`;
  if (check) {
    let current = '';
    try {
      current = readFileSync(path, 'utf8');
    } catch {
      /* missing counts as drift */
    }
    if (current !== out) {
      console.error(`${file} is out of date: run "node scripts/gen-completions.mjs" and commit it`);
      drift++;
    }
  } else {
    writeFileSync(path, out);
  }
}
process.exitCode = drift ? 1 : 0;
