import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Resource } from '../../../src/api/resource.js';
import { MeshProxy, type ProxyOptions } from '../../../src/proxy/proxy.js';

export interface Upstream {
  server: Server;
  port: number;
  hits: { method: string; url: string; headers: IncomingHttpHeaders; body: string }[];
  close(): Promise<void>;
}

/** An upstream on 127.0.0.1:0. The default handler echoes who answered, as JSON. */
export async function upstream(name: string, handler?: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<Upstream> {
  const hits: Upstream['hits'] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      hits.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (handler) return handler(req, res, body);
      const out = JSON.stringify({ name, url: req.url, headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json', connection: 'keep-alive', 'keep-alive': 'timeout=5', 'x-upstream': name });
      res.end(out);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    hits,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export const se = (host: string, app: string, extra: Record<string, unknown> = {}): Resource => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'ServiceEntry',
  metadata: { name: app, namespace: 'default' },
  spec: { hosts: [host], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'STATIC', workloadSelector: { labels: { app } }, ...extra },
});

export const we = (name: string, app: string, port: number, labels: Record<string, string> = {}): Resource => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'WorkloadEntry',
  metadata: { name, namespace: 'default' },
  spec: { address: '127.0.0.1', ports: { http: port }, labels: { app, ...labels } },
});

export const vs = (name: string, spec: Record<string, unknown>): Resource => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: 'default' }, spec });
export const dr = (name: string, spec: Record<string, unknown>): Resource => ({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name, namespace: 'default' }, spec });

export const logs: string[] = [];

/** A test proxy's settings: workload `client` in `default`, every port picked free, on 127.0.0.1. */
export const TEST_PROXY_OPTIONS: Omit<ProxyOptions, 'log'> = {
  workload: 'client',
  namespace: 'default',
  labels: { app: 'client' },
  ports: { outbound: 0, inbound: 0, admin: 0, stats: 0, health: 0 },
  outboundAddress: '127.0.0.1',
  bindAddress: '127.0.0.1',
  metrics: true,
  accessLog: false,
  headersTimeoutMs: 5000,
  idleTimeoutMs: 5000,
};

export async function startProxy(resources: Resource[], extra: Partial<ProxyOptions> = {}): Promise<MeshProxy> {
  return MeshProxy.start({ ...TEST_PROXY_OPTIONS, log: (l) => void logs.push(l), ...extra }, resources);
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  socket: unknown;
}

export function send(port: number, host: string, path = '/', opts: { method?: string; headers?: Record<string, string>; body?: string; agent?: import('node:http').Agent } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: { host, ...opts.headers }, agent: opts.agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, socket: res.socket }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

export async function admin(proxy: MeshProxy, path: string): Promise<Reply> {
  return send(proxy.ports.admin, 'admin', path);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
