// etcd 3.5's health endpoints over HTTP, with its query parameters, bodies,
// status codes and metrics (see health.ts for what each one checks):
//   GET /health[?exclude=ALARM...][&serializable=true]
//       200 {"health":"true","reason":""}; 503 with the same JSON and a reason
//   GET /livez, /readyz[?exclude=CHECK...][&verbose]
//       200 "ok\n" (the per-check lines first when verbose);
//       503 with every check's "[+]name ok" / "[-]name failed: why" line
//   GET /livez/<check>, /readyz/<check>: that check alone
// Anything but GET is 405, as etcd answers.
import { Router, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { CHECKS, checkLines, legacyHealth, runChecks, selectChecks, type CheckKind, type CheckResult, type HealthSource } from './health.js';

interface HealthMetrics {
  success: Counter;
  failures: Counter;
  check: Gauge<'type' | 'name'>;
  checks: Counter<'type' | 'name' | 'status'>;
}

function healthMetrics(registry: Registry): HealthMetrics {
  const registers = [registry];
  return {
    success: new Counter({ name: 'etcd_server_health_success', help: 'The total number of successful health checks', registers }),
    failures: new Counter({ name: 'etcd_server_health_failures', help: 'The total number of failed health checks', registers }),
    check: new Gauge({ name: 'etcd_server_healthcheck', help: 'The result of each kind of healthcheck.', labelNames: ['type', 'name'], registers }),
    checks: new Counter({ name: 'etcd_server_healthchecks_total', help: 'The total number of each kind of healthcheck.', labelNames: ['type', 'name', 'status'], registers }),
  };
}

function query(req: Request): URLSearchParams {
  return new URL(req.originalUrl, 'http://member').searchParams;
}

/** Go's http.Error: plain text, no sniffing, a trailing newline. */
function plainError(res: Response, status: number, body: string): void {
  res.status(status).set('X-Content-Type-Options', 'nosniff').type('text/plain; charset=utf-8').send(body + '\n');
}

function getOnly(req: Request, res: Response): boolean {
  if (req.method === 'GET') return true;
  res.set('Allow', 'GET');
  plainError(res, 405, 'Method Not Allowed');
  return false;
}

/**
 * The health routes of one member. Build it once per member (it registers
 * its metrics) and mount it on every server that answers health, e.g. the
 * client port and the metrics port.
 */
export function healthRoutes(source: HealthSource, registry: Registry, logger: Logger): Router {
  const metrics = healthMetrics(registry);
  const log = logger.child({ component: 'health' });
  const router = Router();

  router.all('/health', async (req: Request, res: Response) => {
    if (!getOnly(req, res)) return;
    const q = query(req);
    const h = await legacyHealth(source, { exclude: q.getAll('exclude').filter(Boolean), serializable: q.get('serializable') === 'true' });
    const body = JSON.stringify(h);
    if (h.health === 'true') {
      metrics.success.inc();
      res.status(200).type('text/plain; charset=utf-8').send(body);
    } else {
      metrics.failures.inc();
      log.warn({ path: '/health', reason: h.reason }, 'health check failed');
      plainError(res, 503, body);
    }
  });

  const record = (kind: CheckKind, results: readonly CheckResult[]): void => {
    for (const r of results) {
      const status = r.failure === undefined ? 'success' : 'error';
      metrics.check.set({ type: kind, name: r.name }, r.failure === undefined ? 1 : 0);
      metrics.checks.inc({ type: kind, name: r.name, status });
    }
  };
  const answer = (req: Request, res: Response, path: string, ok: boolean, results: readonly CheckResult[]): void => {
    const lines = checkLines(results);
    if (!ok) {
      log.warn({ path, reason: lines.trimEnd() }, 'health check failed');
      plainError(res, 503, lines);
      return;
    }
    // The per-check lines only when asked for (?verbose); failures always list them.
    const verbose = query(req).has('verbose');
    res.status(200).set('X-Content-Type-Options', 'nosniff').type('text/plain; charset=utf-8').send((verbose ? lines : '') + 'ok\n');
  };

  for (const kind of ['livez', 'readyz'] as const) {
    router.all(`/${kind}`, async (req: Request, res: Response) => {
      if (!getOnly(req, res)) return;
      const { names, unknown } = selectChecks(kind, query(req).getAll('exclude').filter(Boolean));
      if (unknown.length > 0) log.warn({ path: `/${kind}`, checks: unknown }, 'some health checks cannot be excluded: no such check');
      const report = await runChecks(source, names);
      record(kind, report.results);
      answer(req, res, `/${kind}`, report.ok, report.results);
    });
    for (const name of CHECKS[kind]) {
      router.all(`/${kind}/${name}`, async (req: Request, res: Response) => {
        if (!getOnly(req, res)) return;
        // A single check ignores exclude=, as etcd's sub-paths do.
        const report = await runChecks(source, [name]);
        record(kind, report.results);
        answer(req, res, `/${kind}/${name}`, report.ok, report.results);
      });
    }
  }
  return router;
}
