// Test fixture: a cluster of real member processes on loopback, either
// Kvorum (`bin/kvorum node`) or etcd (whichever scripts/etcd-tools.sh
// provided), started with the same etcd flags, plus helpers to run etcdctl
// against it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export type Flavor = 'kvorum' | 'etcd';

/** PEM files for a TLS cluster: members serve clients and peers over https. */
export interface ClusterTls {
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  peerCertFile: string;
  peerKeyFile: string;
  /** What the fixture's own etcdctl and health checks present. */
  clientCertFile: string;
  clientKeyFile: string;
  clientCertAuth: boolean;
  peerClientCertAuth: boolean;
}

export interface ProcessMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  process?: ChildProcess;
  log: string[];
  /** Another Kvorum build to run this member from (its tree root; see scripts/build-previous-release.sh); this checkout when absent. */
  build?: string;
  /**
   * The peer URL the member advertises (and the others dial), when it is not
   * the one it listens on: the chaos harness puts a fault-injecting proxy there.
   */
  advertisePeerUrl?: string;
  /** Extra environment for this member's process (e.g. failpoints); replaces the fixture's own for the same names. */
  env?: Record<string, string | undefined>;
}

/** The peer URL a member is reached at. */
export function advertisedPeerUrl(m: ProcessMember): string {
  return m.advertisePeerUrl ?? m.peerUrl;
}

/** Ports this process has handed out: the kernel may offer a closed one again, and two members must never share one. */
const handedOut = new Set<number>();

/**
 * Ports are drawn at random from below the kernel's ephemeral range. A port
 * the kernel hands out for listen(0) lies inside that range, and between our
 * probe and the member's own listen any outgoing connection on the machine
 * (another test file's client, say) may take it as its local port: the member
 * then fails with EADDRINUSE. Below the range only a deliberate bind competes.
 */
const DRAW_FROM = 10_000;
const ephemeralStart = ((): number => {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32_768;
  } catch {
    return 32_768;
  }
})();

/** A loopback port nothing listens on now, outside the ephemeral range where there is one, never the same twice in one test process. */
export async function freePort(): Promise<number> {
  for (let tries = 0; ; tries++) {
    const wanted = ephemeralStart - DRAW_FROM > 1_000 && tries < 50 ? DRAW_FROM + Math.floor(Math.random() * (ephemeralStart - DRAW_FROM)) : 0;
    if (wanted !== 0 && handedOut.has(wanted)) continue;
    const port = await probePort(wanted);
    if (port === undefined || handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/** Binds `port` on loopback (0: any) and closes it again: the port bound, or undefined when it is taken. */
function probePort(port: number): Promise<number | undefined> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' || err.code === 'EACCES' ? resolvePort(undefined) : reject(err)));
    s.listen(port, '127.0.0.1', () => {
      const bound = (s.address() as { port: number }).port;
      s.close(() => resolvePort(bound));
    });
  });
}

export function hostPort(url: string): string {
  return url.replace(/^https?:\/\//, '');
}

export function hasEtcdctl(): boolean {
  return spawnSync('etcdctl', ['version'], { encoding: 'utf8' }).status === 0;
}

export function hasEtcd(): boolean {
  return spawnSync('etcd', ['--version'], { encoding: 'utf8' }).status === 0;
}

/**
 * Fails, naming what is missing, when a tool a test drives is not on PATH.
 * `npm test` (scripts/run-tests.mjs) gets etcd and etcdctl before it runs the
 * integration tests (scripts/etcd-tools.sh), so this only trips when a test
 * file is run some other way on a machine without them.
 */
export function requireTools(...tools: ('etcd' | 'etcdctl')[]): void {
  const missing = tools.filter((t) => (t === 'etcd' ? !hasEtcd() : !hasEtcdctl()));
  if (missing.length > 0) {
    throw new Error(
      `${missing.join(' and ')} not found on PATH. Run the tests with \`npm test\` or \`node scripts/run-tests.mjs\`, which provide etcd and etcdctl ` +
        `(bash scripts/etcd-tools.sh prints where), or install Debian's etcd-server and etcd-client.`,
    );
  }
}

export class ProcessCluster {
  readonly root: string;
  readonly members: ProcessMember[] = [];

  private constructor(
    readonly flavor: Flavor,
    readonly token: string,
    readonly tls?: ClusterTls,
    /** Flags every member gets after the fixture's own (e.g. a small --quota-backend-bytes). */
    readonly extraArgs: readonly string[] = [],
  ) {
    this.root = mkdtempSync(join(tmpdir(), `${flavor}-it-`));
  }

  static async create(flavor: Flavor, size: number, opts: { tls?: ClusterTls; extraArgs?: string[] } = {}): Promise<ProcessCluster> {
    const c = new ProcessCluster(flavor, `it-${process.pid}-${Date.now()}`, opts.tls, opts.extraArgs);
    for (let i = 1; i <= size; i++) {
      c.members.push({
        name: `m${i}`,
        clientUrl: `${c.scheme}://127.0.0.1:${await freePort()}`,
        peerUrl: `${c.scheme}://127.0.0.1:${await freePort()}`,
        dataDir: join(c.root, `m${i}`),
        log: [],
      });
    }
    return c;
  }

  get scheme(): 'http' | 'https' {
    return this.tls ? 'https' : 'http';
  }

  /** A free loopback URL with the cluster's scheme (for members added later). */
  async newUrl(): Promise<string> {
    return `${this.scheme}://127.0.0.1:${await freePort()}`;
  }

  /**
   * Endpoints as host:port. (etcdctl 3.4 puts a scheme-prefixed endpoint into
   * the HTTP/2 :authority header for per-endpoint commands, which Node's
   * HTTP/2 server refuses as malformed; see README "Compatibility".)
   */
  get endpoints(): string {
    return this.members.map((m) => hostPort(m.clientUrl)).join(',');
  }

  args(m: ProcessMember, state: 'new' | 'existing' = 'new', cluster = this.members): string[] {
    return [
      `--name=${m.name}`,
      `--data-dir=${m.dataDir}`,
      `--listen-client-urls=${m.clientUrl}`,
      `--advertise-client-urls=${m.clientUrl}`,
      `--listen-peer-urls=${m.peerUrl}`,
      `--initial-advertise-peer-urls=${advertisedPeerUrl(m)}`,
      `--initial-cluster=${cluster.map((x) => `${x.name}=${advertisedPeerUrl(x)}`).join(',')}`,
      `--initial-cluster-state=${state}`,
      `--initial-cluster-token=${this.token}`,
      '--heartbeat-interval=100',
      '--election-timeout=1000',
      '--log-level=warn',
      ...(this.tls ? this.tlsArgs(this.tls) : []),
      ...this.extraArgs,
    ];
  }

  private tlsArgs(t: ClusterTls): string[] {
    return [
      `--cert-file=${t.serverCertFile}`,
      `--key-file=${t.serverKeyFile}`,
      `--trusted-ca-file=${t.caFile}`,
      `--client-cert-auth=${t.clientCertAuth}`,
      `--peer-cert-file=${t.peerCertFile}`,
      `--peer-key-file=${t.peerKeyFile}`,
      `--peer-trusted-ca-file=${t.caFile}`,
      `--peer-client-cert-auth=${t.peerClientCertAuth}`,
    ];
  }

  /** GET of a member's HTTP endpoint (https with the fixture's client certificate on a TLS cluster). */
  async httpGet(url: string, timeoutMs = 1000): Promise<{ status: number; body: string }> {
    if (!this.tls) {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
      return { status: res.status, body: await res.text() };
    }
    const t = this.tls;
    return new Promise((resolveGet, reject) => {
      const req = httpsRequest(url, { ca: readFileSync(t.caFile), cert: readFileSync(t.clientCertFile), key: readFileSync(t.clientKeyFile), agent: false, timeout: timeoutMs }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolveGet({ status: res.statusCode ?? 0, body }));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }

  start(m: ProcessMember, state: 'new' | 'existing' = 'new', cluster = this.members): void {
    const [cmd, args] =
      this.flavor === 'kvorum' ? [process.execPath, [resolve(m.build ?? '.', 'bin/kvorum'), 'node', ...this.args(m, state, cluster)]] : ['etcd', this.args(m, state, cluster)];
    const env: NodeJS.ProcessEnv = { ...process.env, ETCD_UNSUPPORTED_ARCH: '', ...m.env };
    // (A name set to undefined in m.env is left out, not passed as the text "undefined".)
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    m.process = child;
    for (const s of [child.stdout!, child.stderr!]) {
      s.setEncoding('utf8');
      s.on('data', (chunk: string) => {
        m.log.push(chunk);
        if (m.log.length > 200) m.log.splice(0, m.log.length - 200);
      });
    }
  }

  async startAll(): Promise<void> {
    for (const m of this.members) this.start(m);
    await this.waitHealthy();
  }

  /** Sends a signal and waits for the process to exit. */
  async kill(m: ProcessMember, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = m.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    await exited;
    m.process = undefined;
  }

  /** Waits until every running member reports healthy (it has a leader). */
  async waitHealthy(timeoutMs = 20000, members = this.members.filter((m) => m.process)): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const m of members) {
      for (;;) {
        try {
          const res = await this.httpGet(`${m.clientUrl}/health`);
          if (res.status === 200 && (JSON.parse(res.body) as { health: string }).health === 'true') break;
        } catch {
          // not up yet
        }
        if (Date.now() > deadline) throw new Error(`${m.name} not healthy in time; log:\n${m.log.join('').slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Runs etcdctl against the given endpoints (all members by default). */
  etcdctl(args: string[], opts: { endpoints?: string; input?: string; timeoutMs?: number } = {}): { status: number; stdout: string; stderr: string } {
    const r = spawnSync('etcdctl', [`--endpoints=${opts.endpoints ? opts.endpoints.split(',').map(hostPort).join(',') : this.endpoints}`, '--command-timeout=10s', ...this.etcdctlTlsArgs(), ...args], {
      encoding: 'utf8',
      env: { ...process.env, ETCDCTL_API: '3' },
      input: opts.input,
      timeout: opts.timeoutMs ?? 30000,
    });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  private etcdctlTlsArgs(): string[] {
    const t = this.tls;
    return t ? [`--cacert=${t.caFile}`, `--cert=${t.clientCertFile}`, `--key=${t.clientKeyFile}`] : [];
  }

  /** etcdctl that must succeed; returns stdout. */
  ctl(args: string[], opts: { endpoints?: string; input?: string } = {}): string {
    const r = this.etcdctl(args, opts);
    if (r.status !== 0) throw new Error(`etcdctl ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  async leader(): Promise<ProcessMember> {
    const out = JSON.parse(this.ctl(['endpoint', 'status', '-w', 'json'])) as { Endpoint: string; Status: { header: { member_id: number | string }; leader: number | string } }[];
    const lead = out.find((s) => String(s.Status.leader) === String(s.Status.header.member_id));
    if (!lead) throw new Error('no leader in endpoint status');
    return this.members.find((m) => hostPort(m.clientUrl) === hostPort(lead.Endpoint))!;
  }

  async stopAll(): Promise<void> {
    for (const m of this.members) await this.kill(m, 'SIGTERM');
  }

  async destroy(): Promise<void> {
    for (const m of this.members) await this.kill(m, 'SIGKILL');
    rmSync(this.root, { recursive: true, force: true });
  }
}
