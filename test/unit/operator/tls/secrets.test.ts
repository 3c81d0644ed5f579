// desiredTLSSecrets, tlsPodSettings and operatorClientTLS: the Secrets a
// KVCluster's TLS needs in each mode, renewal rules, and idempotence.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KVCluster, TLSSpec } from '../../../../operator/api/index.js';
import {
  generateCA,
  issueCertificate,
  isSignedBy,
  parseCertificate,
  desiredTLSSecrets,
  operatorClientSecretName,
  operatorClientTLS,
  tlsContentHash,
  tlsPodSettings,
  type KeyPair,
  type Secret,
} from '../../../../operator/tls/index.js';

const DAY = 86_400_000;
const NOW = new Date('2030-06-01T00:00:00Z');

function cluster(tls?: TLSSpec, replicas = 3): KVCluster {
  return {
    apiVersion: 'kvorum.io/v1alpha1',
    kind: 'KVCluster',
    metadata: { name: 'demo', namespace: 'prod', uid: 'uid-1' },
    spec: { replicas, ...(tls && { tls }) },
  };
}

const text = (s: Secret | undefined, key: string): string => Buffer.from(s?.data?.[key] ?? '', 'base64').toString('utf8');
const byName = (secrets: Secret[]): Map<string, Secret> => new Map(secrets.map((s) => [s.metadata.name!, s]));
const b64 = (s: string): string => Buffer.from(s).toString('base64');

function tlsSecret(name: string, pair: KeyPair | undefined, ca: string | undefined): Secret {
  const data: Record<string, string> = {};
  if (pair) {
    data['tls.crt'] = b64(pair.cert);
    data['tls.key'] = b64(pair.key);
  }
  if (ca) data['ca.crt'] = b64(ca);
  return { metadata: { name, namespace: 'prod' }, type: 'kubernetes.io/tls', data };
}

describe('desiredTLSSecrets, OperatorManaged (the default)', () => {
  test('creates the CA and the server, peer and client Secrets, owned by the cluster', async () => {
    const r = await desiredTLSSecrets(cluster(), new Map(), NOW);
    assert.equal(r.mode, 'OperatorManaged');
    assert.equal(r.error, undefined);
    assert.deepEqual(
      r.issued.map((i) => `${i.secret}: ${i.reason}`),
      ['demo-ca: missing', 'demo-server-tls: missing', 'demo-peer-tls: missing', 'demo-client-tls: missing'],
    );
    const s = byName(r.secrets);
    assert.deepEqual([...s.keys()], ['demo-ca', 'demo-server-tls', 'demo-peer-tls', 'demo-client-tls']);
    for (const secret of r.secrets) {
      assert.equal(secret.metadata.namespace, 'prod');
      assert.equal(secret.metadata.labels?.['app.kubernetes.io/instance'], 'demo');
      assert.equal(secret.metadata.labels?.['app.kubernetes.io/managed-by'], 'kvorum-operator');
      assert.deepEqual(secret.metadata.ownerReferences?.map((o) => [o.kind, o.name, o.uid, o.controller]), [['KVCluster', 'demo', 'uid-1', true]]);
    }
    assert.equal(s.get('demo-ca')!.type, 'Opaque');
    assert.deepEqual(Object.keys(s.get('demo-ca')!.data!).sort(), ['ca.crt', 'ca.key']);
    const caCert = text(s.get('demo-ca'), 'ca.crt');
    assert.ok(parseCertificate(caCert).isCA);
    for (const leaf of ['demo-server-tls', 'demo-peer-tls', 'demo-client-tls']) {
      const secret = s.get(leaf)!;
      assert.equal(secret.type, 'kubernetes.io/tls');
      assert.deepEqual(Object.keys(secret.data!).sort(), ['ca.crt', 'tls.crt', 'tls.key'], 'the CA key stays in the CA Secret');
      assert.equal(text(secret, 'ca.crt'), caCert);
      assert.ok(isSignedBy(text(secret, 'tls.crt'), caCert));
    }
  });

  test('SANs and usages of the server, peer and client certificates', async () => {
    const s = byName((await desiredTLSSecrets(cluster(), new Map(), NOW)).secrets);
    const server = parseCertificate(text(s.get('demo-server-tls'), 'tls.crt'));
    assert.deepEqual(server.dnsNames, [
      '*.demo-peer.prod.svc',
      '*.demo-peer.prod.svc.cluster.local',
      'demo-client',
      'demo-client.prod',
      'demo-client.prod.svc',
      'demo-client.prod.svc.cluster.local',
      'localhost',
    ]);
    assert.deepEqual(server.ipAddresses, ['127.0.0.1']);
    // Members present the server certificate when they forward to the leader.
    assert.deepEqual(server.extendedKeyUsages, ['serverAuth', 'clientAuth']);
    const peer = parseCertificate(text(s.get('demo-peer-tls'), 'tls.crt'));
    assert.deepEqual(peer.dnsNames, ['*.demo-peer.prod.svc', '*.demo-peer.prod.svc.cluster.local', 'localhost']);
    assert.deepEqual(peer.extendedKeyUsages, ['serverAuth', 'clientAuth']);
    const client = parseCertificate(text(s.get('demo-client-tls'), 'tls.crt'));
    assert.equal(client.commonName, 'root');
    assert.deepEqual(client.extendedKeyUsages, ['clientAuth']);
    assert.deepEqual(client.dnsNames, []);
    assert.equal(server.notAfter.getTime() - NOW.getTime(), 365 * DAY);
  });

  test('is idempotent: valid Secrets come back unchanged and nothing is issued', async () => {
    const first = await desiredTLSSecrets(cluster(), new Map(), NOW);
    const later = new Date(NOW.getTime() + 100 * DAY);
    const second = await desiredTLSSecrets(cluster(), byName(first.secrets), later);
    assert.deepEqual(second.issued, []);
    assert.deepEqual(second.secrets, first.secrets);
  });

  test('renews leaves that expire within 30 days, keeping the CA', async () => {
    const first = await desiredTLSSecrets(cluster(), new Map(), NOW);
    const nearExpiry = new Date(NOW.getTime() + 340 * DAY);
    const r = await desiredTLSSecrets(cluster(), byName(first.secrets), nearExpiry);
    assert.deepEqual(
      r.issued.map((i) => i.secret),
      ['demo-server-tls', 'demo-peer-tls', 'demo-client-tls'],
    );
    for (const i of r.issued) assert.match(i.reason, /^expires at .* within 30 days$/);
    const s = byName(r.secrets);
    assert.equal(s.get('demo-ca')!.data!['ca.crt'], byName(first.secrets).get('demo-ca')!.data!['ca.crt']);
    const renewed = parseCertificate(text(s.get('demo-server-tls'), 'tls.crt'));
    assert.equal(renewed.notAfter.getTime(), nearExpiry.getTime() + 365 * DAY);
  });

  test('a CA near its end is not swapped at once: a rotation starts, members trusting old and new CA first', async () => {
    const first = await desiredTLSSecrets(cluster(), new Map(), NOW);
    const r = await desiredTLSSecrets(cluster(), byName(first.secrets), new Date(NOW.getTime() + 3640 * DAY));
    assert.equal(r.rotation?.phase, 'TrustBoth');
    assert.deepEqual(
      r.issued.map((i) => [i.secret, i.reason.split(' ')[0]]),
      [
        ['demo-ca', 'the'],
        ['demo-server-tls', 'ca.crt'],
        ['demo-peer-tls', 'ca.crt'],
        ['demo-client-tls', 'ca.crt'],
      ],
    );
    const s = byName(r.secrets);
    assert.equal(s.get('demo-server-tls')!.data!['tls.crt'], byName(first.secrets).get('demo-server-tls')!.data!['tls.crt']);
  });

  test('re-issues only what is missing, foreign, mismatched or not covering the names', async () => {
    const first = await desiredTLSSecrets(cluster(), new Map(), NOW);
    const existing = byName(first.secrets);
    const otherCA = await generateCA('other', 30, NOW);
    const foreign = await issueCertificate(otherCA, { commonName: 'root', usage: 'client', validityDays: 300 }, NOW);
    const ca: KeyPair = { cert: text(existing.get('demo-ca'), 'ca.crt'), key: text(existing.get('demo-ca'), 'ca.key') };
    const narrow = await issueCertificate(ca, { commonName: 'x', dnsNames: ['*.demo-peer.staging.svc'], usage: 'peer', validityDays: 300 }, NOW);
    existing.delete('demo-server-tls');
    existing.set('demo-client-tls', tlsSecret('demo-client-tls', foreign, ca.cert));
    existing.set('demo-peer-tls', tlsSecret('demo-peer-tls', narrow, ca.cert));
    const r = await desiredTLSSecrets(cluster(), existing, NOW);
    assert.deepEqual(r.issued.map((i) => `${i.secret}: ${i.reason}`), [
      'demo-server-tls: missing',
      'demo-peer-tls: SANs do not cover *.demo-peer.prod.svc, *.demo-peer.prod.svc.cluster.local, localhost, 127.0.0.1',
      'demo-client-tls: signed by another CA',
    ]);

    const swapped = byName(r.secrets);
    const serverData = swapped.get('demo-server-tls')!.data!;
    swapped.set('demo-server-tls', { ...swapped.get('demo-server-tls')!, data: { ...serverData, 'tls.key': swapped.get('demo-peer-tls')!.data!['tls.key']! } });
    swapped.set('demo-peer-tls', { ...swapped.get('demo-peer-tls')!, data: { 'tls.crt': swapped.get('demo-peer-tls')!.data!['tls.crt']! } });
    const again = await desiredTLSSecrets(cluster(), swapped, NOW);
    assert.deepEqual(again.issued.map((i) => `${i.secret}: ${i.reason}`), ['demo-server-tls: tls.key does not match tls.crt', 'demo-peer-tls: lacks tls.key, ca.crt']);
  });

  test('a damaged CA Secret is regenerated', async () => {
    const existing = new Map<string, Secret>([['demo-ca', { metadata: { name: 'demo-ca' }, data: { 'ca.crt': b64('garbage'), 'ca.key': b64('x') } }]]);
    const r = await desiredTLSSecrets(cluster(), existing, NOW);
    assert.deepEqual(r.issued[0], { secret: 'demo-ca', reason: 'ca.crt is not a PEM certificate' });
  });
});

describe('desiredTLSSecrets, Disabled', () => {
  test('needs no Secrets, and the pods run plain http', async () => {
    const r = await desiredTLSSecrets(cluster({ mode: 'Disabled' }), new Map(), NOW);
    assert.deepEqual(r, { mode: 'Disabled', secrets: [], issued: [], warnings: [] });
    assert.deepEqual(tlsPodSettings(cluster({ mode: 'Disabled' })), { scheme: 'http', volumes: [], volumeMounts: [], args: [], env: [] });
  });
});

describe('desiredTLSSecrets, user-supplied Secrets', () => {
  const spec: TLSSpec = { mode: 'Secrets', serverSecretName: 'my-server', peerSecretName: 'my-peer', clientSecretName: 'my-client' };
  async function userSecrets(opts: { validityDays?: number; serverNames?: string[] } = {}): Promise<{ ca: KeyPair; secrets: Map<string, Secret> }> {
    const ca = await generateCA('corp-ca', 3650, NOW);
    const days = opts.validityDays ?? 365;
    const names = opts.serverNames ?? ['*.demo-peer.prod.svc'];
    const server = await issueCertificate(ca, { commonName: 's', dnsNames: names, usage: 'peer', validityDays: days }, NOW);
    const peer = await issueCertificate(ca, { commonName: 'p', dnsNames: ['*.demo-peer.prod.svc'], usage: 'peer', validityDays: days }, NOW);
    const client = await issueCertificate(ca, { commonName: 'root', usage: 'client', validityDays: days }, NOW);
    return {
      ca,
      secrets: byName([tlsSecret('my-server', server, ca.cert), tlsSecret('my-peer', peer, ca.cert), tlsSecret('my-client', client, ca.cert)]),
    };
  }

  test('valid Secrets: no error, nothing written', async () => {
    const { secrets } = await userSecrets();
    const r = await desiredTLSSecrets(cluster(spec), secrets, NOW);
    assert.deepEqual(r, { mode: 'Secrets', secrets: [], issued: [], warnings: [] });
  });

  test('missing Secrets and missing keys are named in one Degraded message', async () => {
    const { secrets, ca } = await userSecrets();
    secrets.delete('my-peer');
    secrets.set('my-client', tlsSecret('my-client', undefined, ca.cert));
    const r = await desiredTLSSecrets(cluster(spec), secrets, NOW);
    assert.equal(r.error?.reason, 'TLSSecretsInvalid');
    assert.equal(r.error?.message, 'Secret prod/my-peer (spec.tls.peerSecretName) not found; Secret prod/my-client lacks tls.crt, tls.key');
  });

  test('a Secret without ca.crt is an error unless spec.tls.caSecretName provides it', async () => {
    const { secrets, ca } = await userSecrets();
    for (const [name, s] of secrets) {
      const { ['ca.crt']: _drop, ...rest } = s.data!;
      secrets.set(name, { ...s, data: rest });
    }
    const without = await desiredTLSSecrets(cluster(spec), secrets, NOW);
    assert.match(without.error?.message ?? '', /Secret prod\/my-server lacks ca\.crt \(or set spec\.tls\.caSecretName\)/);
    secrets.set('corp-ca', { metadata: { name: 'corp-ca' }, data: { 'ca.crt': b64(ca.cert) } });
    const withCA = await desiredTLSSecrets(cluster({ ...spec, caSecretName: 'corp-ca' }), secrets, NOW);
    assert.equal(withCA.error, undefined);
    const missingCA = await desiredTLSSecrets(cluster({ ...spec, caSecretName: 'nope' }), secrets, NOW);
    assert.match(missingCA.error?.message ?? '', /^Secret prod\/nope \(spec\.tls\.caSecretName\) not found$/);
  });

  test('expired certificates are errors, expiring ones warnings', async () => {
    const { secrets } = await userSecrets({ validityDays: 20 });
    const soon = await desiredTLSSecrets(cluster(spec), secrets, NOW);
    assert.equal(soon.error, undefined);
    assert.equal(soon.warnings.length, 3);
    assert.match(soon.warnings[0]!, /^Secret prod\/my-server: certificate expires at .*; replace it soon$/);
    const expired = await desiredTLSSecrets(cluster(spec), secrets, new Date(NOW.getTime() + 21 * DAY));
    assert.match(expired.error?.message ?? '', /Secret prod\/my-server: certificate expired at/);
  });

  test('a server certificate that does not cover the member names is an error', async () => {
    const { secrets } = await userSecrets({ serverNames: ['demo-0.demo-peer.prod.svc'] });
    const r = await desiredTLSSecrets(cluster(spec), secrets, NOW);
    assert.equal(r.error?.message, 'Secret prod/my-server: certificate SANs do not cover demo-1.demo-peer.prod.svc, demo-2.demo-peer.prod.svc (members are addressed by these names)');
  });

  test('a client certificate from a CA the members do not trust is an error', async () => {
    const { secrets } = await userSecrets();
    const other = await generateCA('other', 30, NOW);
    const foreign = await issueCertificate(other, { commonName: 'root', usage: 'client', validityDays: 100 }, NOW);
    secrets.set('my-client', tlsSecret('my-client', foreign, other.cert));
    const r = await desiredTLSSecrets(cluster(spec), secrets, NOW);
    assert.match(r.error?.message ?? '', /Secret prod\/my-client: client certificate is not signed by the CA the members trust/);
  });

  test('a peer certificate without clientAuth is an error (members dial each other with it)', async () => {
    const { secrets, ca } = await userSecrets();
    const serverOnly = await issueCertificate(ca, { commonName: 'p', dnsNames: ['*.demo-peer.prod.svc'], usage: 'server', validityDays: 100 }, NOW);
    secrets.set('my-peer', tlsSecret('my-peer', serverOnly, ca.cert));
    const r = await desiredTLSSecrets(cluster(spec), secrets, NOW);
    assert.equal(r.error?.message, 'Secret prod/my-peer: certificate lacks extended key usage clientAuth');
  });
});

describe('tlsPodSettings', () => {
  test('OperatorManaged: server and peer Secrets mounted, client and peer certificate auth on', () => {
    const p = tlsPodSettings(cluster());
    assert.equal(p.scheme, 'https');
    assert.deepEqual(p.volumes, [
      { name: 'tls-server', secret: { secretName: 'demo-server-tls' } },
      { name: 'tls-peer', secret: { secretName: 'demo-peer-tls' } },
    ]);
    assert.deepEqual(p.volumeMounts, [
      { name: 'tls-server', mountPath: '/etc/kvorum/tls/server', readOnly: true },
      { name: 'tls-peer', mountPath: '/etc/kvorum/tls/peer', readOnly: true },
    ]);
    assert.deepEqual(p.args, [
      '--cert-file=/etc/kvorum/tls/server/tls.crt',
      '--key-file=/etc/kvorum/tls/server/tls.key',
      '--trusted-ca-file=/etc/kvorum/tls/server/ca.crt',
      '--client-cert-auth=true',
      '--peer-cert-file=/etc/kvorum/tls/peer/tls.crt',
      '--peer-key-file=/etc/kvorum/tls/peer/tls.key',
      '--peer-trusted-ca-file=/etc/kvorum/tls/peer/ca.crt',
      '--peer-client-cert-auth=true',
    ]);
    // Only the generated peer certificate's CN may speak on the peer port (finding 1: the client certificate shares the CA).
    assert.deepEqual(p.env, [{ name: 'ETCD_PEER_CERT_ALLOWED_CN', value: 'demo-peer' }]);
  });

  test('user Secrets with a CA Secret: only its ca.crt is mounted and trusted', () => {
    const p = tlsPodSettings(cluster({ mode: 'Secrets', serverSecretName: 's', peerSecretName: 'p', caSecretName: 'corp-ca' }));
    assert.deepEqual(p.volumes[2], { name: 'tls-ca', secret: { secretName: 'corp-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] } });
    assert.ok(p.args.includes('--trusted-ca-file=/etc/kvorum/tls/ca/ca.crt'));
    assert.ok(p.args.includes('--peer-trusted-ca-file=/etc/kvorum/tls/ca/ca.crt'));
    assert.ok(p.args.includes('--cert-file=/etc/kvorum/tls/server/tls.crt'));
    assert.deepEqual(p.env, [], 'user certificates keep whatever CNs they have');
  });

  test('the generated flags are ones the node accepts', async () => {
    const { parseNodeConfig } = await import('../../../../node/config.js');
    const member = 'https://demo-0.demo-peer.prod.svc';
    const cfg = parseNodeConfig(
      [
        '--name=demo-0',
        '--listen-client-urls=https://0.0.0.0:2379',
        `--advertise-client-urls=${member}:2379`,
        '--listen-peer-urls=https://0.0.0.0:2380',
        `--initial-advertise-peer-urls=${member}:2380`,
        `--initial-cluster=demo-0=${member}:2380`,
        ...tlsPodSettings(cluster()).args,
      ],
      Object.fromEntries(tlsPodSettings(cluster()).env.map((e) => [e.name, e.value])),
    );
    assert.deepEqual(cfg.clientTls, { certFile: '/etc/kvorum/tls/server/tls.crt', keyFile: '/etc/kvorum/tls/server/tls.key', trustedCaFile: '/etc/kvorum/tls/server/ca.crt', clientCertAuth: true });
    assert.equal(cfg.peerTls?.clientCertAuth, true);
    assert.deepEqual(cfg.peerTls?.allowedCommonNames, ['demo-peer']);
    assert.deepEqual(cfg.warnings, []);
  });
});

describe('operatorClientTLS', () => {
  test('decodes the client Secret into buffers', async () => {
    const s = byName((await desiredTLSSecrets(cluster(), new Map(), NOW)).secrets).get('demo-client-tls')!;
    const tls = operatorClientTLS(s);
    assert.match(tls.cert.toString(), /^-----BEGIN CERTIFICATE-----/);
    assert.match(tls.key.toString(), /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(tls.ca.toString(), text(s, 'ca.crt'));
  });

  test('takes ca.crt from a CA Secret, and names what is missing', () => {
    const client: Secret = { metadata: { name: 'c', namespace: 'prod' }, data: { 'tls.crt': b64('CERT'), 'tls.key': b64('KEY') } };
    assert.throws(() => operatorClientTLS(client), /Secret prod\/c lacks ca\.crt/);
    const tls = operatorClientTLS(client, { metadata: { name: 'ca' }, data: { 'ca.crt': b64('CA') } });
    assert.equal(tls.ca.toString(), 'CA');
  });
});

describe('operatorClientSecretName and tlsContentHash', () => {
  test('the operator uses the client Secret, else the user server Secret, and none without TLS', () => {
    assert.equal(operatorClientSecretName(cluster()), 'demo-client-tls');
    assert.equal(operatorClientSecretName(cluster({ mode: 'Secrets', serverSecretName: 's', peerSecretName: 'p', clientSecretName: 'c' })), 'c');
    assert.equal(operatorClientSecretName(cluster({ mode: 'Secrets', serverSecretName: 's', peerSecretName: 'p' })), 's');
    assert.equal(operatorClientSecretName(cluster({ mode: 'Disabled' })), undefined);
  });

  test('the hash changes when a certificate is renewed, not when nothing changed', async () => {
    const first = await desiredTLSSecrets(cluster(), new Map(), NOW);
    const same = await desiredTLSSecrets(cluster(), byName(first.secrets), NOW);
    assert.equal(tlsContentHash(same.secrets), tlsContentHash(first.secrets));
    assert.equal(tlsContentHash([...first.secrets].reverse()), tlsContentHash(first.secrets));
    const renewed = await desiredTLSSecrets(cluster(), byName(first.secrets), new Date(NOW.getTime() + 340 * DAY));
    assert.notEqual(tlsContentHash(renewed.secrets), tlsContentHash(first.secrets));
  });
});
