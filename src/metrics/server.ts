/**
 * The operator's endpoint: GET /metrics (Prometheus text) and GET /healthz (JSON, 200 or 503), on
 * node:http, loopback by default. Nothing else is served; no request body is read.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { HealthReport } from './health.js';

export interface MetricsServerOptions {
  host: string;
  /** 0 picks a free port */
  port: number;
  registry: Registry;
  health: () => Promise<HealthReport>;
  onError?: (err: unknown) => void;
}

export interface MetricsServer {
  /** http://host:port, the port the server really listens on */
  url: string;
  port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

export async function startMetricsServer(o: MetricsServerOptions): Promise<MetricsServer> {
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const route = (req.url ?? '/').split('?')[0];
    if (route !== '/metrics' && route !== '/healthz') return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    if (req.method !== 'GET') return send(res, 405, 'text/plain; charset=utf-8', 'only GET\n', { allow: 'GET' });
    if (route === '/metrics') return send(res, 200, o.registry.contentType, await o.registry.metrics());
    const report = await o.health();
    return send(res, report.ok ? 200 : 503, 'application/json; charset=utf-8', `${JSON.stringify(report)}\n`);
  };
  const server = createServer((req, res) => {
    req.resume(); // a body, if any, is not read
    handle(req, res).catch((err: unknown) => {
      o.onError?.(err);
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => o.onError?.(err));
  const port = (server.address() as AddressInfo).port;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
