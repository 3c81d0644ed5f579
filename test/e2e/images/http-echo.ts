// The kvorum-e2e/http-echo test image: a tiny HTTP server.
//   GET  /            -> JSON with the pod's name, namespace, IP and hostname
//   GET  /healthz     -> "ok" (503 while the file named by $NOT_READY_FILE exists)
//   GET  /fetch?url=  -> fetches url from inside the pod and relays status and body
//   GET  /resolve?name= -> the addresses the system resolver returns for name
//   PUT  /file?path=  -> writes the request body to path
//   GET  /file?path=  -> reads path
//   GET  /env         -> the process environment
// Port: $PORT or 8080.
import { createServer } from 'node:http';
import { lookup } from 'node:dns/promises';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { dirname } from 'node:path';

const hostname = (): string => process.env.HOSTNAME ?? osHostname();

const port = Number(process.env.PORT ?? 8080);

function reply(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' });
  res.end(text);
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://local');
  void (async () => {
    try {
      if (url.pathname === '/healthz') {
        const nr = process.env.NOT_READY_FILE;
        if (nr && existsSync(nr)) return reply(res, 503, 'not ready');
        return reply(res, 200, 'ok');
      }
      if (url.pathname === '/') {
        return reply(res, 200, {
          pod: process.env.POD_NAME ?? null,
          namespace: process.env.POD_NAMESPACE ?? null,
          podIP: process.env.POD_IP ?? null,
          hostname: hostname(),
        });
      }
      if (url.pathname === '/env') return reply(res, 200, process.env);
      if (url.pathname === '/resolve') {
        const all = await lookup(url.searchParams.get('name') ?? '', { all: true });
        return reply(res, 200, all.map((a) => a.address));
      }
      if (url.pathname === '/fetch') {
        const target = url.searchParams.get('url') ?? '';
        const r = await fetch(target, { signal: AbortSignal.timeout(5000) });
        return reply(res, r.status, await r.text());
      }
      if (url.pathname === '/file') {
        const path = url.searchParams.get('path') ?? '';
        if (req.method === 'PUT') {
          const chunks: Buffer[] = [];
          for await (const c of req) chunks.push(c as Buffer);
          await mkdir(dirname(path), { recursive: true });
          await writeFile(path, Buffer.concat(chunks));
          return reply(res, 204, '');
        }
        return reply(res, 200, await readFile(path, 'utf8'));
      }
      reply(res, 404, 'not found');
    } catch (e) {
      reply(res, 502, `error: ${(e as Error).message}`);
    }
  })();
});

server.listen(port, '0.0.0.0');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
