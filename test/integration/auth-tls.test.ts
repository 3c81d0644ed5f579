// Identity from the client certificate under --client-cert-auth: with auth
// enabled, a request with no token acts as the user its verified
// certificate's CN names (etcd's behaviour), and a token, when given,
// names the user instead.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessCluster, hostPort, requireTools, type ClusterTls } from './process-cluster.js';
import { desiredTLSSecrets, issueCertificate } from '../../operator/tls/index.js';
import type { KVCluster } from '../../operator/api/index.js';

describe('Auth: identity from the client certificate CN', () => {
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
});
