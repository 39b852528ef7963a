// node-http-proxy with a keep-alive agent: the usual way to write a Node reverse proxy.
import { createServer, Agent } from 'node:http';
import httpProxy from 'http-proxy';

const [listenPort, target] = process.argv.slice(2);
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
const proxy = httpProxy.createProxyServer({ target, agent });
proxy.on('error', (_e, _req, res) => {
  res.writeHead?.(502);
  res.end();
});
const server = createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 60_000;
server.listen(Number(listenPort), '127.0.0.1', () => console.log('ready'));
