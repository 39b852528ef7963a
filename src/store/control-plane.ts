import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { isMeshctlError } from '../core/errors.js';

export const CONTROL_PLANE_NAMESPACE = 'meshctl-system';
export const CONTROLLER_NAME = 'meshctl-controller';
export const VERSION_LABEL = 'app.kubernetes.io/version';

/**
 * The installed control plane's version, from the controller Deployment's version label (the same
 * object in a cluster and in a --local mesh). Returns undefined when there is nothing to ask —
 * no --local and no kubeconfig — so `meshctl version` on a laptop without a cluster stays fast
 * and quiet, and an error entry (not a failure) when the cluster cannot be reached.
 */
export async function findControlPlaneVersion(ctx: Context): Promise<{ version: string; source: string } | { error: string } | undefined> {
  if (!ctx.globals.local && !hasKubeconfig(ctx)) return undefined;
  try {
    const store = await ctx.store();
    const deploy = await store.get({ kind: 'Deployment', namespace: CONTROL_PLANE_NAMESPACE, name: CONTROLLER_NAME });
    if (!deploy) return { error: `no ${CONTROLLER_NAME} in ${store.location}` };
    return { version: deploy.metadata.labels?.[VERSION_LABEL] ?? 'unknown', source: store.location };
  } catch (err) {
    if (isMeshctlError(err)) return { error: err.message };
    throw err;
  }
}

function hasKubeconfig(ctx: Context): boolean {
  if (ctx.globals.kubeconfig) return true;
  const env = ctx.env.KUBECONFIG;
  if (env) return env.split(':').some((p) => p && existsSync(p));
  return existsSync(join(ctx.env.HOME ?? homedir(), '.kube', 'config'));
}
