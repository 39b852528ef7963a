import type { AddressInfo, Server } from 'node:net';
import { MeshctlError } from './errors.js';

/**
 * Binds a server and resolves with the port it got (port 0 picks a free one). A port already taken
 * is the user's to fix, so it is a one-line error naming the address (exit 69), not an internal one.
 */
export function listen(server: Server, port: number, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new MeshctlError('E_PORT_IN_USE', `port ${address}:${port} is already in use`, { hint: 'pick another port (0 picks a free one)', exitCode: 69 }) : err);
    server.once('error', onError);
    server.listen(port, address, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
