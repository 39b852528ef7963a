// The floor for added latency of any proxy written on Node: one upstream TCP connection per client
// connection, bytes copied both ways, no HTTP parsing, no routing, no metrics. Not a usable proxy
// (no load balancing, no retries, nothing per request): a measure of what Node's event loop and
// this machine's cross-core wakeups cost by themselves.
import { connect, createServer } from 'node:net';

const [listenPort, upstreamPort] = process.argv.slice(2).map(Number);
createServer({ noDelay: true }, (client) => {
  const up = connect({ port: upstreamPort, host: '127.0.0.1', noDelay: true });
  client.on('data', (d) => up.write(d));
  up.on('data', (d) => client.write(d));
  client.on('close', () => up.destroy());
  up.on('close', () => client.destroy());
  client.on('error', () => {});
  up.on('error', () => {});
}).listen(listenPort, '127.0.0.1', () => console.log('ready'));
