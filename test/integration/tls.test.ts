// A 3-member Kvorum cluster with client and peer TLS, both requiring client
// certificates, using the Secrets the operator's TLS module makes, driven
// by the real etcdctl: reads and writes, member list and status, a learner
// added through a follower (forwarded to the https leader), refusals of
// clients without a certificate or with one from another CA, the JSON
// gateway and health over https, and the peer port refusing strangers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { ProcessCluster, requireTools, hostPort, type ClusterTls, type ProcessMember } from './process-cluster.js';
import { desiredTLSSecrets, generateCA, issueCertificate } from '../../operator/tls/index.js';
import type { KVCluster } from '../../operator/api/index.js';

interface Files {
  tls: ClusterTls;
  /** A client certificate from a CA the cluster does not trust. */
  foreignCertFile: string;
  foreignKeyFile: string;
  foreignCaFile: string;
}

/**
 * Files from the Secrets the operator would create for a KVCluster (its
 * server and peer certificates also cover localhost and 127.0.0.1), plus a
 * client certificate from a CA the cluster does not trust.
 */
async function writeCertificates(dir: string): Promise<Files> {
  mkdirSync(dir, { recursive: true });
  const kvc: KVCluster = { apiVersion: 'kvorum.io/v1alpha1', kind: 'KVCluster', metadata: { name: 'it', namespace: 'default', uid: 'it-uid' }, spec: {} };
  const secrets = new Map((await desiredTLSSecrets(kvc, new Map())).secrets.map((s) => [s.metadata.name, s]));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const fromSecret = (secret: string, key: string, name: string): string => file(name, Buffer.from(secrets.get(secret)!.data![key]!, 'base64').toString('utf8'));
  const otherCA = await generateCA('someone-else', 30);
  const foreign = await issueCertificate(otherCA, { commonName: 'root', usage: 'client', validityDays: 30 });
  return {
    tls: {
      caFile: fromSecret('it-server-tls', 'ca.crt', 'ca.crt'),
      serverCertFile: fromSecret('it-server-tls', 'tls.crt', 'server.crt'),
      serverKeyFile: fromSecret('it-server-tls', 'tls.key', 'server.key'),
      peerCertFile: fromSecret('it-peer-tls', 'tls.crt', 'peer.crt'),
      peerKeyFile: fromSecret('it-peer-tls', 'tls.key', 'peer.key'),
      clientCertFile: fromSecret('it-client-tls', 'tls.crt', 'client.crt'),
      clientKeyFile: fromSecret('it-client-tls', 'tls.key', 'client.key'),
      clientCertAuth: true,
      peerClientCertAuth: true,
    },
    foreignCertFile: file('foreign.crt', foreign.cert),
    foreignKeyFile: file('foreign.key', foreign.key),
    foreignCaFile: file('foreign-ca.crt', otherCA.cert),
  };
}

/** etcdctl with exactly the given TLS flags (the fixture's helper always adds the good client certificate). */
function etcdctlWith(tlsFlags: string[], endpoint: string, args: string[]): { status: number; out: string } {
  const r = spawnSync('etcdctl', [`--endpoints=${endpoint}`, '--dial-timeout=3s', '--command-timeout=5s', ...tlsFlags, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ETCDCTL_API: '3' },
    timeout: 20000,
  });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

interface HttpsAnswer {
  status: number;
  body: string;
}

/**
 * An HTTPS/1.1 request with the given TLS material (the gateway takes h2 for
 * gRPC, so no h2 here), on a fresh connection: a pooled one may have been
 * closed by the server's keep-alive timeout meanwhile.
 */
function httpsCall(url: string, tls: { ca: Buffer; cert?: Buffer; key?: Buffer }, body?: unknown): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method: body === undefined ? 'GET' : 'POST', ...tls, agent: false, timeout: 5000, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('client and peer TLS with client-certificate authentication', () => {
  // npm test provides them (scripts/etcd-tools.sh); a run without them fails rather than skips.
  before(() => requireTools('etcdctl'));
  let c: ProcessCluster;
  let files: Files;
  let certDir = '';
  const written = new Map<string, string>();

  before(async () => {
    certDir = mkdtempSync(join(tmpdir(), 'kvorum-tls-it-'));
    files = await writeCertificates(certDir);
    c = await ProcessCluster.create('kvorum', 3, { tls: files.tls });
    await c.startAll();
  });
  after(async () => {
    await c?.destroy();
    if (certDir) rmSync(certDir, { recursive: true, force: true });
  });

  const good = (): string[] => [`--cacert=${files.tls.caFile}`, `--cert=${files.tls.clientCertFile}`, `--key=${files.tls.clientKeyFile}`];
  const ca = (): Buffer => readFileSync(files.tls.caFile);
  const clientPair = (): { cert: Buffer; key: Buffer } => ({ cert: readFileSync(files.tls.clientCertFile), key: readFileSync(files.tls.clientKeyFile) });

  test('etcdctl writes and reads over TLS with the client certificate', () => {
    for (let i = 0; i < 20; i++) {
      const key = `tls/k${String(i).padStart(2, '0')}`;
      assert.equal(c.ctl(['put', key, `v${i}`]).trim(), 'OK');
      written.set(key, `v${i}`);
    }
    // An https:// endpoint works for ordinary (load-balanced) commands.
    const https = etcdctlWith(good(), c.members[1]!.clientUrl, ['get', 'tls/k07']);
    assert.equal(https.status, 0, https.out);
    assert.equal(https.out.trim(), 'tls/k07\nv7');
    const all = JSON.parse(c.ctl(['get', 'tls/', '--prefix', '-w', 'json'])) as { count: string | number };
    assert.equal(Number(all.count), 20);
  });

  test('member list shows https URLs and endpoint status reaches every member', async () => {
    const list = c.ctl(['member', 'list']);
    for (const m of c.members) assert.match(list, new RegExp(`started, ${m.name}, ${m.peerUrl}, ${m.clientUrl}, false`));
    const status = JSON.parse(c.ctl(['endpoint', 'status', '-w', 'json'])) as { Endpoint: string; Status: { leader: number | string } }[];
    assert.equal(status.length, 3);
    assert.equal(new Set(status.map((s) => String(s.Status.leader))).size, 1, 'every member names the same leader');
    const leader = await c.leader();
    assert.ok(c.members.includes(leader));
  });

  // etcdctl 3.4 reports any failed handshake as a deadline (as it does against
  // etcd); the member's log names the reason, like etcd's "rejected connection".
  const refusals = (m: ProcessMember): string[] =>
    m.log
      .join('')
      .split('\n')
      .filter((l) => l.includes('rejected client TLS connection'));
  /** Refusals logged since `from` that mention `reason` (the log arrives through a pipe, so give it a moment). */
  async function refusalLogged(m: ProcessMember, from: number, reason: string): Promise<string[]> {
    for (let i = 0; i < 40; i++) {
      const found = refusals(m).slice(from).filter((l) => l.includes(reason));
      if (found.length > 0) return found;
      await new Promise((r) => setTimeout(r, 50));
    }
    return [];
  }

  test('a client without a certificate is refused', async () => {
    const before = refusals(c.members[0]!).length;
    const r = etcdctlWith([`--cacert=${files.tls.caFile}`], hostPort(c.members[0]!.clientUrl), ['put', 'tls/intruder', 'x']);
    assert.notEqual(r.status, 0, r.out);
    assert.match(r.out, /context deadline exceeded/, r.out);
    assert.notDeepEqual(await refusalLogged(c.members[0]!, before, 'peer did not return a certificate'), [], 'the member logs why it refused');
  });

  test('a client certificate signed by another CA is refused', async () => {
    const before = refusals(c.members[0]!).length;
    const r = etcdctlWith([`--cacert=${files.tls.caFile}`, `--cert=${files.foreignCertFile}`, `--key=${files.foreignKeyFile}`], hostPort(c.members[0]!.clientUrl), [
      'put',
      'tls/intruder',
      'x',
    ]);
    assert.notEqual(r.status, 0, r.out);
    assert.match(r.out, /context deadline exceeded/, r.out);
    assert.notDeepEqual(await refusalLogged(c.members[0]!, before, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'), [], 'the member logs why it refused');
    // A client that does not trust the cluster's CA refuses the server.
    const distrust = etcdctlWith([`--cacert=${files.foreignCaFile}`, `--cert=${files.tls.clientCertFile}`, `--key=${files.tls.clientKeyFile}`], hostPort(c.members[0]!.clientUrl), [
      'get',
      'tls/k00',
    ]);
    assert.notEqual(distrust.status, 0, distrust.out);
    assert.equal(c.ctl(['get', 'tls/intruder', '--print-value-only']).trim(), '', 'nothing was written by refused clients');
  });

  test('the JSON gateway and health answer over https, and only to certified clients', async () => {
    const url = c.members[2]!.clientUrl;
    const health = await httpsCall(`${url}/health`, { ca: ca(), ...clientPair() });
    assert.equal(health.status, 200);
    assert.equal((JSON.parse(health.body) as { health: string }).health, 'true');
    const put = await httpsCall(`${url}/v3/kv/put`, { ca: ca(), ...clientPair() }, { key: b64('tls/gw'), value: b64('from-gateway') });
    assert.equal(put.status, 200, put.body);
    written.set('tls/gw', 'from-gateway');
    const range = await httpsCall(`${url}/v3/kv/range`, { ca: ca(), ...clientPair() }, { key: b64('tls/gw') });
    const kvs = (JSON.parse(range.body) as { kvs: { value: string }[] }).kvs;
    assert.equal(Buffer.from(kvs[0]!.value, 'base64').toString(), 'from-gateway');
    await assert.rejects(httpsCall(`${url}/health`, { ca: ca() }), /certificate|socket hang up|ECONNRESET|alert/i);
  });

  test('the peer port serves members with the peer certificate and refuses others', async () => {
    const peerUrl = c.members[0]!.peerUrl;
    const withPeerCert = await httpsCall(`${peerUrl}/members`, { ca: ca(), cert: readFileSync(files.tls.peerCertFile), key: readFileSync(files.tls.peerKeyFile) });
    assert.equal(withPeerCert.status, 200, withPeerCert.body);
    await assert.rejects(httpsCall(`${peerUrl}/members`, { ca: ca() }), /certificate|socket hang up|ECONNRESET|alert/i);
    await assert.rejects(
      httpsCall(`${peerUrl}/members`, { ca: ca(), cert: readFileSync(files.foreignCertFile), key: readFileSync(files.foreignKeyFile) }),
      /certificate|socket hang up|ECONNRESET|alert/i,
    );
  });

  test('a learner added through a follower (forwarded to the https leader) joins over peer TLS and is promoted', async () => {
    const leader = await c.leader();
    const follower = c.members.find((m) => m !== leader)!;
    const m4: ProcessMember = { name: 'm4', clientUrl: await c.newUrl(), peerUrl: await c.newUrl(), dataDir: join(c.root, 'm4'), log: [] };
    const add = c.ctl(['member', 'add', 'm4', `--peer-urls=${m4.peerUrl}`, '--learner'], { endpoints: follower.clientUrl });
    const id = /Member\s+([0-9a-f]+) added/.exec(add)?.[1];
    assert.ok(id, add);
    c.members.push(m4);
    c.start(m4, 'existing');
    try {
      await c.waitHealthy(30000, [m4]);
      await learnerCatchesUpAndIsPromoted(m4, id, follower);
    } finally {
      // Leave three members whatever happened, so the next test sees the cluster it expects.
      await c.kill(m4, 'SIGTERM');
      if (c.ctl(['member', 'list']).includes(id)) c.etcdctl(['member', 'remove', id]);
      c.members.splice(c.members.indexOf(m4), 1);
    }
    assert.equal(c.ctl(['member', 'list']).trim().split('\n').length, 3);
  });

  async function learnerCatchesUpAndIsPromoted(m4: ProcessMember, id: string, follower: ProcessMember): Promise<void> {
    let replicated = 0;
    for (let attempt = 0; attempt < 100 && replicated < written.size; attempt++) {
      const local = c.ctl(['get', 'tls/', '--prefix', '--keys-only', '--consistency=s', '-w', 'json'], { endpoints: m4.clientUrl });
      replicated = (JSON.parse(local) as { kvs?: unknown[] }).kvs?.length ?? 0;
      if (replicated < written.size) await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(replicated, written.size, 'the learner replicated every key over peer TLS');
    let promoted = '';
    for (let attempt = 0; attempt < 50 && !promoted; attempt++) {
      const r = c.etcdctl(['member', 'promote', id], { endpoints: follower.clientUrl });
      if (r.status === 0) promoted = r.stdout;
      else await new Promise((res) => setTimeout(res, 200));
    }
    assert.match(promoted, new RegExp(`Member\\s+${id} promoted in cluster`));
    assert.match(c.ctl(['member', 'list']), new RegExp(`${id}, started, m4, ${m4.peerUrl}, ${m4.clientUrl}, false`));
    // And back to three, again through a follower.
    assert.match(c.ctl(['member', 'remove', id], { endpoints: follower.clientUrl }), /removed from cluster/);
  }

  test('nothing stored is lost, also across a restart of every member', async () => {
    await c.stopAll();
    for (const m of c.members) c.start(m);
    await c.waitHealthy(30000);
    const got = JSON.parse(c.ctl(['get', 'tls/', '--prefix', '-w', 'json'])) as { kvs?: { key: string; value: string }[] };
    const stored = new Map((got.kvs ?? []).map((kv) => [Buffer.from(kv.key, 'base64').toString(), Buffer.from(kv.value, 'base64').toString()]));
    assert.deepEqual(stored, written);
  });
});
