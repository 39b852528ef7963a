import { resolve } from 'node:path';
import type { GlobalOptions } from '../context.js';
import type { ConfigStore } from './config-store.js';

/**
 * Opens the store the global flags point at. Each backend is imported only here, on first use,
 * so commands that never touch a store never load @kubernetes/client-node.
 */
export async function openStore(globals: GlobalOptions, env: Record<string, string | undefined>, cwd: string): Promise<ConfigStore> {
  if (globals.local) {
    const { FileStore } = await import('./file-store.js');
    return FileStore.open(resolve(cwd, globals.local));
  }
  const { KubeStore } = await import('./kube-store.js');
  return KubeStore.fromKubeconfig({ kubeconfig: globals.kubeconfig ?? env.KUBECONFIG, context: globals.context, env });
}
