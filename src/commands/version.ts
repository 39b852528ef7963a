import { defineCommand } from './spec.js';
import { VERSION } from '../version.js';

export interface VersionInfo {
  client: { version: string; commit: string; node: string; platform: string };
  controlPlane?: { version: string; source: string } | { error: string };
}

export const versionCommand = defineCommand({
  path: 'version',
  summary: 'Print the client and control plane versions',
  options: [{ flags: '--client', description: 'only the client version; do not contact a cluster' }],
  examples: ['meshctl version', 'meshctl version --client -o json'],
  async run(ctx, _args, opts) {
    const info: VersionInfo = {
      client: { version: VERSION.version, commit: VERSION.commit, node: process.version, platform: `${process.platform}/${process.arch}` },
    };
    if (!opts.client) {
      const { findControlPlaneVersion } = await import('../store/control-plane.js');
      const cp = await findControlPlaneVersion(ctx);
      if (cp) info.controlPlane = cp;
    }
    const rows: [string, string][] = [
      ['client', `${info.client.version} (commit ${info.client.commit}, node ${info.client.node})`],
    ];
    if (info.controlPlane) {
      rows.push(['control plane', 'error' in info.controlPlane ? `unreachable: ${info.controlPlane.error}` : `${info.controlPlane.version} (${info.controlPlane.source})`]);
    }
    return { data: info, text: rows.map(([k, v]) => `${k}: ${v}`).join('\n') };
  },
});
