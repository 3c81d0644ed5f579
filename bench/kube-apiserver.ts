// The kube-apiserver workload: a real kube-apiserver (the e2e tools' build)
// on a fresh 3-member cluster of the system under test, driven by many
// concurrent HTTP clients: ConfigMap creates, updates, paginated lists, and
// watchers counting the update events (with their delivery latency).
import { generateKeyPairSync } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { Cluster, pickPorts, type SystemSpec } from './cluster.js';
import { portFree, runCommand, sleep } from './proc.js';
import type { Cell, Progress, RowDef, SuiteConfig } from './suite.js';

interface KubeLoad {
  clients: number;
  objects: number;
  listPages: number;
  watchers: number;
}

function load(cfg: SuiteConfig): KubeLoad {
  return cfg.quick ? { clients: 50, objects: 2_000, listPages: 200, watchers: 10 } : { clients: 100, objects: 10_000, listPages: 1_000, watchers: 50 };
}

export function kubeApiserverRows(cfg: SuiteConfig): RowDef[] {
  const l = load(cfg);
  return [
    { key: 'kube-create', label: `kube-apiserver: ConfigMap create, ${l.clients} clients, 1 KiB`, kind: 'throughput' },
    { key: 'kube-update', label: `kube-apiserver: ConfigMap update, ${l.clients} clients`, kind: 'throughput' },
    { key: 'kube-list', label: `kube-apiserver: paginated list (limit 100) of ${l.objects} ConfigMaps, ${Math.min(l.clients, 20)} clients: pages`, kind: 'throughput' },
    { key: 'kube-watch', label: `kube-apiserver: ${l.watchers} watchers, update events delivered (latency from the update's send)`, kind: 'rate' },
  ];
}

const TOKEN = 'kvorum-bench-token';

/** Where the e2e tools build put kube-apiserver (builds it when missing). */
async function kubeApiserverBinary(repo: string): Promise<string> {
  const r = await runCommand('bash', [join(repo, 'test', 'e2e', 'tools', 'build.sh')], { timeoutMs: 60 * 60_000, env: { ...process.env, E2E_BUILD_ONLY: 'kubernetes' } });
  const path = /^kube-apiserver=(.+)$/m.exec(r.stdout)?.[1];
  if (r.code !== 0 || !path) throw new Error(`test/e2e/tools/build.sh did not provide kube-apiserver: ${r.stderr.trim().split('\n').slice(-1)[0] ?? ''}`);
  return path;
}

class Api {
  readonly agent: Agent;
  constructor(
    readonly port: number,
    sockets: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets, rejectUnauthorized: false });
  }

  call(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        {
          host: '127.0.0.1',
          port: this.port,
          method,
          path,
          agent: this.agent,
          headers: { Authorization: `Bearer ${TOKEN}`, Accept: 'application/json', ...(payload && { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }) },
          timeout: 60_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: Record<string, unknown>;
            try {
              json = text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : { text };
            } catch {
              json = { text };
            }
            resolve({ status: res.statusCode ?? 0, json });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  }
}

function p99(ms: number[]): number {
  const s = [...ms].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] ?? 0;
}

/** "n, p50 X ms, p99 Y ms" of a latency sample. */
function latencies(ms: number[]): string {
  if (ms.length === 0) return '0';
  const s = [...ms].sort((a, b) => a - b);
  return `${s.length}, p50 ${s[Math.floor(s.length / 2)]!.toFixed(1)} ms, p99 ${p99(s).toFixed(1)} ms`;
}

/** Runs `total` operations from `clients` concurrent loops; each returns its latency or throws. */
async function drive(clients: number, total: number, op: (i: number) => Promise<void>): Promise<Cell> {
  const lat: number[] = [];
  let next = 0;
  let errors = 0;
  let firstError = '';
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) {
        const i = next++;
        const s = performance.now();
        try {
          await op(i);
          lat.push(performance.now() - s);
        } catch (e) {
          errors++;
          firstError ||= e instanceof Error ? e.message : String(e);
        }
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  if (lat.length === 0) throw new Error(`every request failed: ${firstError}`);
  const avg = lat.reduce((a, b) => a + b, 0) / lat.length;
  return { ok: true, rps: lat.length / secs, avgMs: avg, p99Ms: p99(lat), ...(errors > 0 && { note: `${errors} failed (${firstError.slice(0, 80)})` }) };
}

function startApiserver(binary: string, dir: string, port: number, etcdServers: string[]): ChildProcess {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(join(dir, 'tokens.csv'), `${TOKEN},bench,bench,system:masters\n`);
  const fd = openSync(join(dir, 'kube-apiserver.log'), 'a');
  const proc = spawn(
    binary,
    [
      `--etcd-servers=${etcdServers.map((e) => `http://${e}`).join(',')}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      `--cert-dir=${join(dir, 'certs')}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      '--profiling=false',
      '--v=1',
    ],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  return proc;
}

async function freePort(from: number): Promise<number> {
  for (let p = from; p < from + 200; p++) if (await portFree(p)) return p;
  throw new Error(`no free port near ${from}`);
}

/** Runs the kube-apiserver rows for one system; failures become cells. */
export async function runKubeApiserverRows(spec: SystemSpec, etcdctl: string, cfg: SuiteConfig, workDir: string, log: Progress, cells: Map<string, Cell>): Promise<void> {
  const keys = kubeApiserverRows(cfg).map((r) => r.key);
  const fail = (error: string): void => {
    for (const k of keys) if (!cells.has(k)) cells.set(k, { ok: false, error });
  };
  const l = load(cfg);
  const dir = join(workDir, `${spec.kind}-kube`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'certs'), { recursive: true });
  let binary: string;
  try {
    binary = await kubeApiserverBinary(spec.cwd);
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
    return;
  }
  const cluster = new Cluster(spec, dir, await pickPorts(cfg.basePort + 500), etcdctl);
  let apiserver: ChildProcess | undefined;
  const api = new Api(await freePort(26443), l.clients + l.watchers + 10);
  try {
    await cluster.start(60_000);
    apiserver = startApiserver(binary, dir, api.port, cluster.endpoints());
    const deadline = performance.now() + 120_000;
    for (;;) {
      const ready = await api.call('GET', '/readyz').catch(() => undefined);
      if (ready?.status === 200 && (await api.call('GET', '/api/v1/namespaces/default').catch(() => undefined))?.status === 200) break;
      if (apiserver.exitCode !== null) throw new Error(`kube-apiserver exited ${apiserver.exitCode} (log in ${dir})`);
      if (performance.now() > deadline) throw new Error('kube-apiserver not ready after 120 s');
      await sleep(500);
    }
    log('  kube-apiserver ready');
    const ns = '/api/v1/namespaces/default/configmaps';
    const data = 'x'.repeat(1024);
    const versions: string[] = [];
    const step = async (key: string, fn: () => Promise<Cell>): Promise<void> => {
      try {
        cells.set(key, await fn());
      } catch (e) {
        cells.set(key, { ok: false, error: e instanceof Error ? e.message : String(e) });
      }
      const c = cells.get(key)!;
      log(`  ${key}: ${c.ok ? `${Math.round(c.rps ?? 0)}/s p99 ${c.p99Ms?.toFixed(1)} ms` : `failed: ${c.error}`}`);
    };
    await step('kube-create', () =>
      drive(l.clients, l.objects, async (i) => {
        const r = await api.call('POST', ns, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `bench-${i}` }, data: { v: data } });
        if (r.status !== 201) throw new Error(`create: HTTP ${r.status}`);
        versions[i] = (r.json.metadata as { resourceVersion: string }).resourceVersion;
      }),
    );

    // Watchers see the updates; each update carries its send time. They start
    // at the list's revision, so no initial ADDED events are replayed.
    const listed = await api.call('GET', `${ns}?limit=1`);
    const fromRv = (listed.json.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
    if (listed.status !== 200 || !fromRv) throw new Error(`list for the watch revision: HTTP ${listed.status}`);
    const watchLat: number[] = [];
    const watches = await Promise.all(
      Array.from({ length: l.watchers }, () =>
        new Promise<{ stop(): void }>((resolve, reject) => {
          const req = request(
            { host: '127.0.0.1', port: api.port, path: `${ns}?watch=1&resourceVersion=${fromRv}`, agent: api.agent, headers: { Authorization: `Bearer ${TOKEN}` } },
            (res) => {
              let buf = '';
              res.on('data', (c: Buffer) => {
                buf += c.toString('utf8');
                let nl: number;
                while ((nl = buf.indexOf('\n')) >= 0) {
                  const line = buf.slice(0, nl);
                  buf = buf.slice(nl + 1);
                  const sent = /"sent":"(\d+(?:\.\d+)?)"/.exec(line)?.[1];
                  if (sent && line.includes('"MODIFIED"')) watchLat.push(performance.timeOrigin + performance.now() - Number(sent));
                }
              });
              res.on('error', () => {});
              resolve({ stop: () => req.destroy() });
            },
          );
          req.on('error', (e) => reject(e));
          req.end();
        }),
      ),
    );
    const updatesStart = performance.now();
    await step('kube-update', () =>
      drive(l.clients, l.objects, async (i) => {
        const r = await api.call('PUT', `${ns}/bench-${i}`, {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: `bench-${i}`, resourceVersion: versions[i] },
          data: { v: data, sent: String(performance.timeOrigin + performance.now()) },
        });
        if (r.status !== 200) throw new Error(`update: HTTP ${r.status}`);
      }),
    );
    await sleep(2000); // the last events on their way
    const watchSecs = (performance.now() - updatesStart) / 1000;
    for (const w of watches) w.stop();
    cells.set(
      'kube-watch',
      watchLat.length === 0
        ? { ok: false, error: 'no update event reached a watcher' }
        : { ok: true, rps: watchLat.length / watchSecs, avgMs: watchLat.reduce((a, b) => a + b, 0) / watchLat.length, p99Ms: p99(watchLat), note: `${watchLat.length}/${l.objects * l.watchers} events` },
    );

    // Each request is one page; clients take up the walks in progress (their
    // continue tokens) or start a new walk from the first page. The two kinds
    // take different paths in kube-apiserver: a first page is a consistent
    // read, served from its watch cache once that has caught up with the
    // store (when the store reports etcd >= 3.4.31 / 3.5.13, as Kvorum does),
    // a continue page is read from the store at the walk's revision; the note
    // gives each kind's latency.
    const walks: string[] = [];
    const firstLat: number[] = [];
    const contLat: number[] = [];
    await step('kube-list', async () => {
      const cell = await drive(Math.min(l.clients, 20), l.listPages, async () => {
        const cont = walks.pop();
        const t0 = performance.now();
        const r = await api.call('GET', `${ns}?limit=100${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`);
        if (r.status !== 200) throw new Error(`list: HTTP ${r.status}`);
        (cont ? contLat : firstLat).push(performance.now() - t0);
        const next = (r.json.metadata as { continue?: string }).continue;
        if (next) walks.push(next);
      });
      const kinds = `first pages ${latencies(firstLat)}; continue pages ${latencies(contLat)}`;
      return cell.ok ? { ...cell, note: cell.note ? `${cell.note}; ${kinds}` : kinds } : cell;
    });
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
  } finally {
    apiserver?.kill('SIGKILL');
    api.agent.destroy();
    await cluster.stop();
    if (!process.env.KVORUM_BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}
