import { readFileSync } from 'node:fs';
import { createServer, type ServerResponse, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { backoffDelay, DiscoveryClient, LineSplitter, parseLine, streamUrl, type SnapshotMessage } from '../../../src/proxy/discovery.js';

const line = (version: string, generation = 1) => JSON.stringify({ type: 'snapshot', generation, snapshot: { version }, upcoming: [] }) + '\n';

async function until(pred: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('stream protocol pieces', () => {
  it('splits lines across chunks and keeps a partial line for later', () => {
    const s = new LineSplitter();
    expect(s.push('{"a":1}\n{"b"')).toEqual(['{"a":1}']);
    expect(s.push(':2}\n\n')).toEqual(['{"b":2}']);
    expect(() => new LineSplitter(4).push('123456')).toThrow(/longer than 4 characters/);
  });
  it('joins a long line from many reads, and several lines from one read', () => {
    const s = new LineSplitter();
    const long = JSON.stringify({ type: 'snapshot', pad: 'x'.repeat(300_000) });
    const got: string[] = [];
    // Cut into reads of 997 characters, so newlines fall anywhere in a read, including at its edges.
    const stream = `${long}\n\n{"n":1}\n{"n":2}\n${long}\n`;
    for (let i = 0; i < stream.length; i += 997) got.push(...s.push(stream.slice(i, i + 997)));
    expect(got).toEqual([long, '{"n":1}', '{"n":2}', long]);
    expect(s.push('')).toEqual([]);
  });
  it('counts a partial line across reads against the bound', () => {
    const s = new LineSplitter(10);
    expect(s.push('12345')).toEqual([]);
    expect(s.push('67890')).toEqual([]);
    expect(() => s.push('1')).toThrow(/longer than 10 characters/);
    // A newline resets the count.
    const t = new LineSplitter(10);
    expect(t.push('1234567890\n12345')).toEqual(['1234567890']);
    expect(t.push('67890\n')).toEqual(['1234567890']);
  });
  it('accepts snapshots and heartbeats, rejects anything else', () => {
    expect(parseLine(line('abc')).type).toBe('snapshot');
    expect(parseLine('{"type":"heartbeat","generation":3}')).toEqual({ type: 'heartbeat', generation: 3 });
    expect(() => parseLine('{"type":"snapshot"}')).toThrow(/unexpected discovery line/);
    expect(() => parseLine('nope')).toThrow();
  });
  it('bounds the jittered backoff', () => {
    expect(backoffDelay(0, 250, 10_000, () => 0)).toBe(125);
    expect(backoffDelay(0, 250, 10_000, () => 0.999)).toBeLessThanOrEqual(250);
    expect(backoffDelay(50, 250, 10_000, () => 0.999)).toBeLessThanOrEqual(10_000);
    expect(backoffDelay(50, 250, 10_000, () => 0)).toBe(5000);
  });
  it('builds the stream URL from the proxy identity', () => {
    const u = streamUrl('http://127.0.0.1:15010', { workload: 'w', namespace: 'n', labels: { version: 'v2', app: 'x' }, appPort: 9080 });
    expect(u.pathname).toBe('/v1/snapshot');
    expect(u.searchParams.getAll('label')).toEqual(['app=x', 'version=v2']);
    expect(u.searchParams.get('appPort')).toBe('9080');
    expect(() => streamUrl('https://x:1', { workload: 'w', namespace: 'n' })).toThrow(/only http/);
  });
});

describe('DiscoveryClient', () => {
  let server: Server | undefined;
  let client: DiscoveryClient | undefined;
  afterEach(async () => {
    client?.stop();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r) ?? r(undefined));
  });

  it('applies each snapshot, reconnects after the stream ends, and reports its state', async () => {
    const streams: ServerResponse[] = [];
    let requests = 0;
    server = createServer((req, res) => {
      requests++;
      expect(req.url).toContain('workload=w');
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(line(`v${requests}`));
      streams.push(res);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const got: SnapshotMessage[] = [];
    const states: string[] = [];
    client = new DiscoveryClient({
      address: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      key: { workload: 'w', namespace: 'n' },
      onSnapshot: (m) => got.push(m),
      log: (f) => states.push(String(f.state)),
      backoff: { initialMs: 20, maxMs: 100 },
    });
    client.start();
    await until(() => got.length === 1);
    expect(client.state).toBe('connected');
    streams[0]!.write(line('v1b', 2));
    await until(() => got.length === 2);
    expect(got[1]!.snapshot.version).toBe('v1b');

    streams[0]!.end(); // the controller went away (or restarted)
    await until(() => got.length === 3);
    expect(got[2]!.snapshot.version).toBe('v2');
    expect(states).toEqual(['connected', 'disconnected', 'connecting', 'connected']);
    expect(client.connects).toBe(2);
    expect(client.stats()).toContain('discovery.state: connected');
  });

  it('counts a silent stream as dead after the idle timeout and reconnects', async () => {
    let requests = 0;
    server = createServer((_req, res) => {
      requests++;
      res.writeHead(200);
      if (requests === 1) res.write(line('first')); // then silence: no heartbeats
      else res.write(line('second'));
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const got: string[] = [];
    const errors: unknown[] = [];
    client = new DiscoveryClient({
      address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
      key: { workload: 'w', namespace: 'n' },
      onSnapshot: (m) => got.push(m.snapshot.version),
      log: (f) => f.error && errors.push(f.error),
      idleTimeoutMs: 150,
      backoff: { initialMs: 10, maxMs: 20 },
    });
    client.start();
    await until(() => got.length === 2);
    expect(got).toEqual(['first', 'second']);
    expect(String(errors[0])).toMatch(/no line from the controller for 150 ms/);
  });

  it('backs off on refused connections and on HTTP errors, naming the reason', async () => {
    server = createServer((_req, res) => res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"workload is required"}'));
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const errors: string[] = [];
    client = new DiscoveryClient({
      address: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      key: { workload: 'w', namespace: 'n' },
      onSnapshot: () => undefined,
      log: (f) => void (f.error && errors.push(String(f.error))),
      backoff: { initialMs: 10, maxMs: 20 },
    });
    client.start();
    await until(() => errors.length >= 1);
    expect(errors[0]).toMatch(/HTTP 400: {"error":"workload is required"}/);
    expect(client.state).not.toBe('connected');
  });
});

/**
 * The client speaks HTTP/1.1 itself over node:net, so these serve raw bytes from a node:net server:
 * every framing, split wherever a TCP read or a chunk boundary can split it.
 */
describe('DiscoveryClient over raw HTTP/1.1', () => {
  interface RawConn {
    socket: Socket;
    /** The request head as received (up to and without the blank line). */
    head: string;
  }
  let server: NetServer | undefined;
  let client: DiscoveryClient | undefined;
  const sockets = new Set<Socket>();
  afterEach(async () => {
    client?.stop();
    client = undefined;
    for (const s of sockets) s.destroy();
    sockets.clear();
    await new Promise((r) => server?.close(r) ?? r(undefined));
    server = undefined;
  });

  /** Listens on port 0; `onRequest` gets each connection once its request head has arrived (n counts from 1). */
  async function rawServer(onRequest: (c: RawConn, n: number) => void): Promise<{ port: number; conns: RawConn[]; accepted: () => number }> {
    const conns: RawConn[] = [];
    let accepted = 0;
    server = createNetServer((socket) => {
      accepted++;
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('error', () => undefined);
      let buf = '';
      const onData = (b: Buffer) => {
        buf += b.toString('latin1');
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        const c = { socket, head: buf.slice(0, end) };
        conns.push(c);
        onRequest(c, conns.length);
      };
      socket.on('data', onData);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return { port: (server.address() as AddressInfo).port, conns, accepted: () => accepted };
  }

  /** Writes each part in its own write, apart in time, so each arrives in its own TCP read. */
  async function send(socket: Socket, ...parts: (string | Buffer)[]): Promise<void> {
    for (const p of parts) {
      if (socket.destroyed) return;
      socket.write(p);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  const chunk = (data: Buffer | string) => {
    const b = Buffer.from(data);
    return Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]);
  };
  const CHUNKED_200 = 'HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\n\r\n';

  function start(port: number) {
    const got: SnapshotMessage[] = [];
    const logs: Record<string, unknown>[] = [];
    client = new DiscoveryClient({
      address: `http://127.0.0.1:${port}`,
      key: { workload: 'w', namespace: 'n' },
      onSnapshot: (m) => got.push(m),
      log: (f) => logs.push(f),
      backoff: { initialMs: 10, maxMs: 20 },
    });
    client.start();
    const errors = () => logs.filter((f) => f.error).map((f) => String(f.error));
    return { got, logs, errors };
  }

  it('sends one GET with host, accept and connection: close, and decodes a chunked stream split mid-line and mid-character', async () => {
    // 2-, 3- and 4-byte UTF-8 characters; the cuts below land inside the 3- and the 4-byte one.
    const v1 = 'ré€𝄞-1';
    const v2 = 'ré€𝄞-2';
    const payload = Buffer.from(line(v1, 1) + '{"type":"heartbeat","generation":1}\n' + line(v2, 2));
    const euro = payload.indexOf(Buffer.from('€'));
    const clef = payload.lastIndexOf(Buffer.from('𝄞'));
    const c2 = chunk(payload.subarray(euro + 1, clef + 2));
    const { port, conns } = await rawServer((c, n) => {
      if (n > 1) return; // a reconnect would hang: the test fails on its assertions instead
      // The first TCP read ends after the first byte of "€"; the next splits the chunk-size line;
      // the last holds a chunk boundary that cuts "𝄞" in half.
      void send(c.socket, Buffer.concat([Buffer.from(CHUNKED_200), chunk(payload.subarray(0, euro + 1))]), c2.subarray(0, 1), Buffer.concat([c2.subarray(1), chunk(payload.subarray(clef + 2))]));
    });
    const { got, errors } = start(port);
    await until(() => got.length === 2);
    expect(got.map((m) => m.snapshot.version)).toEqual([v1, v2]);
    expect(client!.generation).toBe(2);
    expect(client!.lastVersion).toBe(v2);
    expect(client!.state).toBe('connected');
    expect(client!.connects).toBe(1);
    expect(errors()).toEqual([]);
    const [requestLine, ...fields] = conns[0]!.head.split('\r\n');
    expect(requestLine).toBe('GET /v1/snapshot?workload=w&namespace=n HTTP/1.1');
    expect(fields).toEqual([`host: 127.0.0.1:${port}`, 'accept: application/x-ndjson', 'connection: close']);
  });

  it('reads a content-length body to its end, then counts the stream as closed and reconnects', async () => {
    const body = line('cl-1');
    const { port } = await rawServer((c, n) => {
      // The socket stays open after the body: the length, not the close, ends the response.
      if (n === 1) void send(c.socket, `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`, body.slice(10));
      // Only the second connection answers: answering every reconnect (each 10-20 ms) made `got`
      // grow past 2 between two polls of until(), and the test failed now and then.
      else if (n === 2) void send(c.socket, `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(line('cl-2'))}\r\n\r\n${line('cl-2')}`);
    });
    const { got, errors } = start(port);
    await until(() => got.length === 2);
    expect(got.map((m) => m.snapshot.version)).toEqual(['cl-1', 'cl-2']);
    expect(errors()[0]).toBe('the controller closed the stream');
  });

  it('reads a body with neither length nor chunks until the connection closes', async () => {
    const body = line('close-1');
    const { port } = await rawServer((c, n) => {
      if (n === 1) void send(c.socket, 'HTTP/1.1 200 OK\r\n\r\n' + body.slice(0, 7), body.slice(7)).then(() => c.socket.end());
    });
    const { got, errors } = start(port);
    await until(() => errors().length >= 1);
    expect(got.map((m) => m.snapshot.version)).toEqual(['close-1']);
    expect(errors()[0]).toBe('the controller closed the stream');
    expect(client!.lastVersion).toBe('close-1');
  });

  it('reports a non-200 answer with (the first 500 chars of) its body, and never counts as connected', async () => {
    const long = 'x'.repeat(700);
    const { port } = await rawServer((c, n) => {
      if (n === 1) void send(c.socket, 'HTTP/1.1 503 Service Unavailable\r\ntransfer-encoding: chunked\r\n\r\n', chunk('controller is '), chunk('syncing\n'), '0\r\n\r\n');
      else if (n === 2) void send(c.socket, `HTTP/1.1 500 Internal Server Error\r\ncontent-length: ${long.length}\r\n\r\n${long}`);
    });
    const { got, errors } = start(port);
    await until(() => errors().length >= 2);
    expect(errors()[0]).toBe('HTTP 503: controller is syncing');
    expect(errors()[1]).toBe(`HTTP 500: ${'x'.repeat(500)}`);
    expect(got).toEqual([]);
    expect(client!.connects).toBe(0);
    expect(client!.state).not.toBe('connected');
  });

  it('fails on a malformed status line with a one-line reason, and retries', async () => {
    const { port, conns } = await rawServer((c) => void send(c.socket, 'HTTP/1.1 2000 OK\r\n\r\n'));
    const { errors } = start(port);
    await until(() => conns.length >= 2);
    expect(errors()[0]).toMatch(/^bad response from the controller: malformed status line "HTTP\/1.1 2000 OK"$/);
    expect(client!.connects).toBe(0);
  });

  it('fails on broken chunk framing', async () => {
    const { port } = await rawServer((c, n) => {
      if (n === 1) void send(c.socket, CHUNKED_200 + 'zz\r\n');
    });
    const { errors } = start(port);
    await until(() => errors().length >= 1);
    expect(errors()[0]).toBe('bad chunked framing from the controller: malformed chunk size');
  });

  it('a stream cut mid-chunk: disconnected, keeps the last snapshot, reconnects and takes the next', async () => {
    const { port } = await rawServer((c, n) => {
      if (n === 1) {
        // A whole chunk, then half of the next one, then the connection goes.
        const next = chunk(line('never'));
        void send(c.socket, CHUNKED_200, chunk(line('keep')), next.subarray(0, 20)).then(() => c.socket.destroy());
      } else void send(c.socket, CHUNKED_200, chunk(line('after')));
    });
    const { got, logs, errors } = start(port);
    await until(() => got.length === 2);
    const states = logs.map((f) => f.state);
    expect(got.map((m) => m.snapshot.version)).toEqual(['keep', 'after']);
    expect(errors()[0]).toMatch(/^the stream closed/);
    expect(logs.find((f) => f.state === 'disconnected')).toMatchObject({ keeping: 'keep' });
    expect(states).toEqual(['connected', 'disconnected', 'connecting', 'connected']);
    expect(client!.connects).toBe(2);
  });

  it('stop() while connecting or waiting for the head: no state line, no retry, the socket closed', async () => {
    let closed = 0;
    const { port, conns, accepted } = await rawServer((c) => c.socket.on('close', () => closed++));
    const quiet = () => new Promise((r) => setTimeout(r, 100)); // long past the 10 ms backoff: a retry would show
    // Stopped before the TCP connect completes.
    const a = start(port);
    client!.stop();
    expect(client!.state).toBe('stopped');
    await quiet();
    const afterA = accepted();
    expect(afterA).toBeLessThanOrEqual(1);
    expect(conns).toEqual([]);
    // Stopped while the server holds the request without answering.
    const b = start(port);
    await until(() => conns.length === 1);
    client!.stop();
    await until(() => closed >= 1);
    await quiet();
    expect(accepted()).toBe(afterA + 1);
    expect(conns.length).toBe(1);
    expect(a.logs).toEqual([]);
    expect(b.logs).toEqual([]);
    expect([...a.got, ...b.got]).toEqual([]);
    expect(client!.state).toBe('stopped');
  });

  it('stop() from inside onSnapshot: the rest of the same read is not delivered', async () => {
    // Three snapshots in three chunks, all in one TCP write.
    const { port } = await rawServer((c, n) => {
      if (n === 1) void send(c.socket, Buffer.concat([Buffer.from(CHUNKED_200), chunk(line('s-1', 1)), chunk(line('s-2', 2)), chunk(line('s-3', 3))]));
    });
    const got: string[] = [];
    client = new DiscoveryClient({
      address: `http://127.0.0.1:${port}`,
      key: { workload: 'w', namespace: 'n' },
      onSnapshot: (m) => {
        got.push(m.snapshot.version);
        client!.stop();
      },
      log: () => undefined,
      backoff: { initialMs: 10, maxMs: 20 },
    });
    client.start();
    await until(() => got.length > 0);
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toEqual(['s-1']);
    expect(client.state).toBe('stopped');
  });

  it('loads no node:http: the sidecar bundle must not need it', () => {
    const src = readFileSync(new URL('../../../src/proxy/discovery.ts', import.meta.url), 'utf8');
    expect(src).not.toMatch(/from 'node:https?'/);
  });
});
