// Identity from the client certificate under --client-cert-auth: with auth
// enabled, a request with no token acts as the user its verified
// certificate's CN names (etcd's behaviour), and a token, when given,
// names the user instead. The same holds when client workers terminate TLS
// (--client-workers), and a client cannot claim a CN by sending the header
// the workers use to pass it on.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { connect } from 'node:http2';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessCluster, hostPort, requireTools, type ClusterTls } from './process-cluster.js';
import { desiredTLSSecrets, issueCertificate } from '../../operator/tls/index.js';
import type { KVCluster } from '../../operator/api/index.js';
import { loadEtcdProtos } from '../../contract/etcd-proto.js';
import { CLIENT_CN_HEADER } from '../../node/api/grpc/caller.js';

for (const workers of [0, 2]) describe(`Auth: identity from the client certificate CN${workers ? `, through ${workers} client workers` : ''}`, () => {
  let dir: string;
  let c: ProcessCluster;
  const certFor: Record<string, { cert: string; key: string }> = {};
  let tls: ClusterTls;

  before(async () => {
    requireTools('etcdctl');
    dir = mkdtempSync(join(tmpdir(), 'kvorum-auth-tls-'));
    const kvc: KVCluster = { apiVersion: 'kvorum.io/v1alpha1', kind: 'KVCluster', metadata: { name: 'it', namespace: 'default', uid: 'it-uid' }, spec: {} };
    const secrets = new Map((await desiredTLSSecrets(kvc, new Map())).secrets.map((s) => [s.metadata.name, s]));
    const data = (secret: string, key: string): string => Buffer.from(secrets.get(secret)!.data![key]!, 'base64').toString('utf8');
    const file = (name: string, text: string): string => {
      const path = join(dir, name);
      writeFileSync(path, text, { mode: 0o600 });
      return path;
    };
    tls = {
      caFile: file('ca.crt', data('it-ca', 'ca.crt')),
      serverCertFile: file('server.crt', data('it-server-tls', 'tls.crt')),
      serverKeyFile: file('server.key', data('it-server-tls', 'tls.key')),
      peerCertFile: file('peer.crt', data('it-peer-tls', 'tls.crt')),
      peerKeyFile: file('peer.key', data('it-peer-tls', 'tls.key')),
      clientCertFile: file('client.crt', data('it-client-tls', 'tls.crt')),
      clientKeyFile: file('client.key', data('it-client-tls', 'tls.key')),
      clientCertAuth: true,
      peerClientCertAuth: true,
    };
    const ca = { cert: data('it-ca', 'ca.crt'), key: data('it-ca', 'ca.key') };
    for (const user of ['root', 'alice']) {
      const pair = await issueCertificate(ca, { commonName: user, usage: 'client', validityDays: 1 });
      certFor[user] = { cert: file(`${user}.crt`, pair.cert), key: file(`${user}.key`, pair.key) };
    }
    c = await ProcessCluster.create('kvorum', 3, { tls });
    for (const m of c.members) m.env = { ETCD_CLIENT_WORKERS: String(workers) };
    await c.startAll();
    for (const args of [
      ['user', 'add', 'root:rootpw'],
      ['user', 'grant-role', 'root', 'root'],
      ['role', 'add', 'r1'],
      ['role', 'grant-permission', 'r1', 'readwrite', '--prefix', '/a/'],
      ['user', 'add', 'alice:alicepw'],
      ['user', 'grant-role', 'alice', 'r1'],
      ['auth', 'enable'],
    ]) {
      c.ctl(args);
    }
  });
  after(async () => {
    await c?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const as = (user: string, args: string[], endpoint = c.members[0]!.clientUrl): string => {
    const r = spawnSync(
      'etcdctl',
      [`--endpoints=${hostPort(endpoint)}`, '--command-timeout=10s', `--cacert=${tls.caFile}`, `--cert=${certFor[user]!.cert}`, `--key=${certFor[user]!.key}`, ...args],
      { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' }, timeout: 20_000 },
    );
    return `${r.stdout}${r.stderr}`.replace(/^\{"level".*\n/gm, '').trim();
  };

  test('a certificate for alice acts as alice, with no password or token', () => {
    assert.equal(as('alice', ['put', '/a/1', 'x']), 'OK');
    assert.equal(as('alice', ['get', '/a/1', '--print-value-only']), 'x');
    assert.equal(as('alice', ['put', '/z', 'x']), 'Error: etcdserver: permission denied');
    assert.equal(as('alice', ['user', 'list']), 'Error: etcdserver: permission denied');
  });

  test('a certificate for root acts as root; a token names its own user over the certificate', () => {
    assert.equal(as('root', ['put', '/z', 'x']), 'OK');
    assert.equal(as('root', ['user', 'list']), 'alice\nroot');
    assert.equal(as('alice', ['--user=root:rootpw', 'put', '/z', 'y']), 'OK');
    assert.equal(as('root', ['--user=alice:alicepw', 'put', '/z', 'y']), 'Error: etcdserver: permission denied');
  });

  test('a member change sent to a follower by a root certificate reaches the leader as root', async () => {
    const leader = await c.leader();
    const follower = c.members.find((m) => m !== leader)!;
    const added = as('root', ['member', 'add', 'm9', '--learner', `--peer-urls=${await c.newUrl()}`], follower.clientUrl);
    assert.match(added, /Member\s+([0-9a-f]+) added to cluster/);
    const id = /Member\s+([0-9a-f]+) added/.exec(added)![1]!;
    assert.equal(as('alice', ['member', 'remove', id], follower.clientUrl), 'Error: etcdserver: permission denied');
    assert.match(as('root', ['member', 'remove', id], follower.clientUrl), /removed from cluster/);
  });

  test('a client that sends the CN header itself is still who its certificate says', { skip: workers === 0 && 'the header means nothing without client workers' }, async () => {
    // alice's certificate, claiming root through the header: a put outside
    // her prefix (a hot call) and a user list (a proxied one) are refused.
    const endpoint = hostPort(c.members[0]!.clientUrl);
    const session = connect(`https://${endpoint}`, { ca: readFileSync(tls.caFile), cert: readFileSync(certFor.alice!.cert), key: readFileSync(certFor.alice!.key) });
    try {
      const call = (path: string, body: Buffer): Promise<string | undefined> =>
        new Promise((resolve, reject) => {
          const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', [CLIENT_CN_HEADER]: 'root' });
          let status: string | undefined;
          req.on('response', (h) => (status ??= h['grpc-status'] as string | undefined));
          req.on('trailers', (t) => (status = t['grpc-status'] as string | undefined));
          req.on('error', reject);
          req.resume();
          req.on('end', () => resolve(status));
          const prefix = Buffer.alloc(5);
          prefix.writeUInt32BE(body.length, 1);
          req.end(Buffer.concat([prefix, body]));
        });
      const PERMISSION_DENIED = '7';
      const protos = loadEtcdProtos().packageDefinition as unknown as Record<string, Record<string, { requestSerialize(v: unknown): Buffer }>>;
      assert.equal(await call('/etcdserverpb.KV/Put', protos['etcdserverpb.KV']!.Put!.requestSerialize({ key: Buffer.from('/z'), value: Buffer.from('x') })), PERMISSION_DENIED);
      assert.equal(await call('/etcdserverpb.Auth/UserList', protos['etcdserverpb.Auth']!.UserList!.requestSerialize({})), PERMISSION_DENIED);
      assert.equal(as('root', ['get', '/z', '--print-value-only']), 'y', 'the refused put wrote nothing');
    } finally {
      session.close();
    }
  });
});
