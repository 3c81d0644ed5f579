// The HTTP side of a member: etcd's /health, /readyz, /livez, /version and
// /metrics, and (when given) the JSON gateway under /v3/. Served on the
// client port next to gRPC and on the optional metrics port.
import express, { type Express, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import type { EtcdServer } from '../server/etcd-server.js';
import { ETCD_API_VERSION } from '../version.js';

/** Whether the member can serve: it knows a leader and no alarm is raised. */
export function healthOf(server: EtcdServer, excludeAlarms: readonly string[] = []): { health: boolean; reason: string } {
  if (!server.node || server.node.fatalError) return { health: false, reason: 'RAFT NO LEADER' };
  if (server.node.leaderId === 0) return { health: false, reason: 'RAFT NO LEADER' };
  const alarms = server.alarmList().filter((a) => !excludeAlarms.includes(a.alarm));
  if (alarms.length > 0) return { health: false, reason: `ALARM ${alarms.map((a) => a.alarm).join(',')}` };
  return { health: true, reason: '' };
}

export function healthApp(server: EtcdServer, registry: Registry, gateway?: (app: Express) => void): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/health', (_req: Request, res: Response) => {
    const h = healthOf(server);
    res.status(h.health ? 200 : 503).json({ health: String(h.health), reason: h.reason });
  });
  app.get('/livez', (_req: Request, res: Response) => {
    // Alive as long as the Raft loop has not failed (a failed disk is fatal).
    if (server.node?.fatalError) res.status(503).type('text/plain').send(`[-]raft failed: ${server.node.fatalError.message}\n`);
    else res.type('text/plain').send('ok');
  });
  app.get('/readyz', (_req: Request, res: Response) => {
    // As etcd 3.5's /readyz: a full quota (NOSPACE) leaves the member ready, so
    // clients can still reach it to compact and disarm.
    const h = healthOf(server, ['NOSPACE']);
    if (h.health) res.type('text/plain').send('ok');
    else res.status(503).type('text/plain').send(`[-]${h.reason}\n`);
  });
  app.get('/version', (_req: Request, res: Response) => {
    res.json({ etcdserver: ETCD_API_VERSION, etcdcluster: ETCD_API_VERSION.replace(/\.\d+$/, '.0') });
  });
  app.get('/metrics', async (_req: Request, res: Response) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  gateway?.(app);
  return app;
}
