// The HTTP side of a member: etcd's /health, /readyz, /livez (health-routes.ts),
// /version and /metrics, and (when given) the JSON gateway under /v3/.
// Served on the client port next to gRPC and on the optional metrics port.
import express, { type Express, type Request, type Response, type Router } from 'express';
import type { Registry } from 'prom-client';
import { ETCD_API_VERSION, KVORUM_VERSION, type VersionInfo } from '../../contract/version.js';

/** One app per server; `health` is the member's one health router (see healthRoutes). */
export function healthApp(health: Router, registry: Registry, gateway?: (app: Express) => void): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(health);
  app.get('/version', (_req: Request, res: Response) => {
    const body: VersionInfo = { etcdserver: ETCD_API_VERSION, etcdcluster: ETCD_API_VERSION.replace(/\.\d+$/, '.0'), kvorum: KVORUM_VERSION };
    res.json(body);
  });
  app.get('/metrics', async (_req: Request, res: Response) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  gateway?.(app);
  return app;
}
