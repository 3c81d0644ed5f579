// The operator's HTTP endpoints: /healthz (the process is alive), /readyz
// (its caches are synced; a standby replica is ready too, so a rollout does
// not wait on leadership) and /metrics.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HealthSource {
  live(): boolean;
  ready(): boolean;
}

/** Parses ":8080", "0.0.0.0:8080", "127.0.0.1:0" or "[::1]:8080". */
export function parseListenAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address.trim());
  if (!m) throw new Error(`invalid listen address "${address}" (want host:port or :port)`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port: Number(m[3]) };
}

export class OperatorHttpServer {
  private readonly server: http.Server;

  constructor(
    private readonly health: HealthSource,
    private readonly registry: Registry,
  ) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  async listen(address: string): Promise<AddressInfo> {
    const { host, port } = parseListenAddress(address);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    return this.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const text = (code: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(code, { 'Content-Type': type });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'method not allowed\n');
    if (path === '/healthz' || path === '/livez') return this.health.live() ? text(200, 'ok\n') : text(500, 'not live\n');
    if (path === '/readyz') return this.health.ready() ? text(200, 'ok\n') : text(503, 'caches not synced\n');
    if (path === '/metrics') {
      try {
        return text(200, await this.registry.metrics(), this.registry.contentType);
      } catch (err) {
        return text(500, `metrics: ${(err as Error).message}\n`);
      }
    }
    text(404, 'not found\n');
  }
}
