/**
 * Entry of dist/proxy-compile.cjs, the short-lived compile process of `meshctl proxy --config DIR`
 * (src/proxy/config-source.ts childCompiler): reads the request from argv, compiles the directory,
 * writes one JSON result to stdout and exits. A compile error is a result (exit 0); a non-zero exit
 * means the process itself failed, and its last stderr line says why.
 */
import { compileDir } from './config-compile.js';
import { toWireError, type DirCompileRequest, type WireResult } from './config-source.js';

async function main(): Promise<void> {
  const req = JSON.parse(process.argv[2] ?? '') as DirCompileRequest;
  if (typeof req?.dir !== 'string' || typeof req.key?.workload !== 'string') throw new Error('usage: proxy-compile.cjs \'{"dir":...,"key":{...}}\' (run by meshctl proxy --config)');
  const r = await compileDir(req);
  const wire: WireResult = 'error' in r ? { sources: r.sources, error: toWireError(r.error) } : r;
  // The callback: exit only once the (possibly megabytes long) line is written to the pipe.
  process.stdout.write(JSON.stringify(wire), () => process.exit(0));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
