import { runMeshctl } from './main.js';

// The bundle's entry: the real process streams and environment. Only this file sets the exit code.
const code = await runMeshctl(process.argv.slice(2), {
  io: { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, isTTY: Boolean(process.stdout.isTTY) },
  env: process.env,
  cwd: process.cwd(),
});
process.exitCode = code;
