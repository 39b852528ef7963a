// A bare Node http server answering itself: the ceiling for anything written on Node.
import { Buffer } from 'node:buffer';
import { createServer } from 'node:http';

const body = Buffer.from('hello from upstream\n');
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2]), '127.0.0.1', () => console.log('ready'));
