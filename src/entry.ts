import { runMeshctl } from './main.js';

// A reader that goes away (`meshctl analyze --help | head`) is not an error: stop quietly, as
// kubectl and git do. Any other stream error is left to crash loudly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

// The bundle's entry: the real process streams and environment. Only this file sets the exit code.
const code = await runMeshctl(process.argv.slice(2), {
  io: { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, isTTY: Boolean(process.stdout.isTTY) },
  env: process.env,
  cwd: process.cwd(),
});
process.exitCode = code;
