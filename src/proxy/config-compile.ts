import { compileForProxy } from '../controller/hub.js';
import { COMPILE_KINDS } from '../core/compile/compile.js';
import { FileStore, listYamlFiles } from '../store/file-store.js';
import { fingerprintOf } from './snapshot-feed.js';
import { stampSource, type DirCompileRequest, type DirCompileResult, type SourceStamp } from './config-source.js';

/**
 * The compile step of `meshctl proxy --config DIR`: the directory through the FileStore (the same
 * reading, validation and errors as every other local command), compiled for the proxy's key as
 * the controller compiles for a sidecar (compileForProxy). Runs in the short-lived compile process
 * (src/proxy/runtime-compile.ts) or, for the in-process CLI fallback, in the CLI itself.
 */
export async function compileDir(req: DirCompileRequest): Promise<DirCompileResult> {
  const sources = await scanSources(req.dir);
  try {
    const store = await FileStore.open(req.dir);
    try {
      const resources = await store.listKinds(COMPILE_KINDS);
      const config = compileForProxy(req.key, resources, new Date());
      return req.known === fingerprintOf(config) ? { sources, unchanged: true } : { sources, config };
    } finally {
      await store.close();
    }
  } catch (err) {
    return { sources, error: err as Error };
  }
}

/**
 * Every directory and YAML file the store will read, stamped before it reads them. A directory
 * that cannot be listed (missing, say) is still a source: its stamp changes when it comes back.
 */
async function scanSources(dir: string): Promise<SourceStamp[]> {
  const dirs: string[] = [];
  let files: string[] = [];
  try {
    files = await listYamlFiles(dir, dirs);
  } catch {
    // The compile that follows reports why; the root stays watched below.
  }
  if (!dirs.includes(dir)) dirs.unshift(dir);
  const paths = [...dirs.map((path) => ({ path, dir: true })), ...files.map((path) => ({ path, dir: false }))];
  return Promise.all(paths.map(async (p) => ({ ...p, stamp: await stampSource(p) })));
}
