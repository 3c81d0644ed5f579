// The operator's certificate maker: what it issues is what TLS stacks check
// (usages, SANs, validity, the signing CA), verified here with Node's own
// X.509 parser as well as ours, and by a real TLS handshake.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createServer, connect, type TLSSocket } from 'node:tls';
import { coversName, generateCA, isSignedBy, issueCertificate, keyMatchesCertificate, parseCertificate, type KeyPair } from '../../../../operator/tls/certs.js';

const DAY = 86_400_000;

describe('generateCA', () => {
  test('is a self-signed CA certificate valid for the given days, with a PKCS#8 key', async () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const ca = await generateCA('demo-ca', 3650, now);
    const info = parseCertificate(ca.cert);
    assert.equal(info.isCA, true);
    assert.equal(info.commonName, 'demo-ca');
    assert.equal(info.issuer, info.subject);
    assert.equal(info.notAfter.getTime(), now.getTime() + 3650 * DAY);
    assert.ok(info.notBefore.getTime() < now.getTime(), 'backdated for clock skew');
    assert.match(ca.key, /^-----BEGIN PRIVATE KEY-----/);
    assert.ok(isSignedBy(ca.cert, ca.cert));
    assert.ok(new X509Certificate(ca.cert).ca);
  });

  test('refuses a non-positive validity', async () => {
    await assert.rejects(generateCA('x', 0), /positive number of days/);
  });
});

describe('issueCertificate', () => {
  let ca: KeyPair;
  const caReady = generateCA('test-ca', 30).then((c) => (ca = c));

  test('server, client and peer usages map to serverAuth / clientAuth / both', async () => {
    await caReady;
    const eku = async (usage: 'server' | 'client' | 'peer'): Promise<string[]> =>
      parseCertificate((await issueCertificate(ca, { commonName: usage, usage, validityDays: 1 })).cert).extendedKeyUsages;
    assert.deepEqual(await eku('server'), ['serverAuth']);
    assert.deepEqual(await eku('client'), ['clientAuth']);
    assert.deepEqual(await eku('peer'), ['serverAuth', 'clientAuth']);
  });

  test('carries the requested SANs and is signed by the CA, with its own key', async () => {
    await caReady;
    const leaf = await issueCertificate(ca, {
      commonName: 'demo-server',
      dnsNames: ['*.demo-peer.ns.svc', 'demo-client.ns.svc'],
      ipAddresses: ['127.0.0.1'],
      usage: 'peer',
      validityDays: 10,
    });
    const info = parseCertificate(leaf.cert);
    assert.deepEqual(info.dnsNames, ['*.demo-peer.ns.svc', 'demo-client.ns.svc']);
    assert.deepEqual(info.ipAddresses, ['127.0.0.1']);
    assert.equal(info.commonName, 'demo-server');
    assert.equal(info.issuer, 'CN=test-ca');
    assert.equal(info.isCA, false);
    assert.ok(isSignedBy(leaf.cert, ca.cert));
    assert.ok(keyMatchesCertificate(leaf.cert, leaf.key));
    assert.ok(!keyMatchesCertificate(leaf.cert, ca.key));
    // Node's parser agrees on the names.
    assert.equal(new X509Certificate(leaf.cert).subjectAltName, 'DNS:*.demo-peer.ns.svc, DNS:demo-client.ns.svc, IP Address:127.0.0.1');
    assert.equal(new X509Certificate(leaf.cert).checkHost('demo-0.demo-peer.ns.svc'), '*.demo-peer.ns.svc');
  });

  test('is not signed by another CA', async () => {
    await caReady;
    const other = await generateCA('other', 30);
    const leaf = await issueCertificate(other, { commonName: 'x', usage: 'client', validityDays: 1 });
    assert.ok(!isSignedBy(leaf.cert, ca.cert));
    assert.ok(isSignedBy(leaf.cert, `${ca.cert}${other.cert}`), 'a bundle holding the issuer verifies it');
  });

  test('a TLS handshake with mutual authentication succeeds with issued certificates', async () => {
    await caReady;
    const server = await issueCertificate(ca, { commonName: 's', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usage: 'server', validityDays: 1 });
    const client = await issueCertificate(ca, { commonName: 'root', usage: 'client', validityDays: 1 });
    const srv = createServer({ cert: server.cert, key: server.key, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (s: TLSSocket) => {
      s.end(String((s.getPeerCertificate() as { subject?: { CN?: string } }).subject?.CN));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (srv.address() as { port: number }).port;
      const answer = await new Promise<string>((resolve, reject) => {
        const sock = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.cert, cert: client.cert, key: client.key }, () => {
          let text = '';
          sock.setEncoding('utf8');
          sock.on('data', (d: string) => (text += d));
          sock.on('end', () => resolve(text));
        });
        sock.on('error', reject);
      });
      assert.equal(answer, 'root', 'the server saw the client certificate');
    } finally {
      srv.close();
    }
  });
});

describe('parseCertificate and coversName', () => {
  test('rejects text that is not a certificate', () => {
    assert.throws(() => parseCertificate('hello'), /no PEM certificate/);
  });

  test('wildcards cover exactly one label; IPs match exactly', () => {
    const info = { dnsNames: ['*.c-peer.ns.svc', 'localhost'], ipAddresses: ['127.0.0.1'] };
    assert.ok(coversName(info, 'c-0.c-peer.ns.svc'));
    assert.ok(coversName(info, 'C-1.C-PEER.NS.SVC'));
    assert.ok(!coversName(info, 'a.b.c-peer.ns.svc'));
    assert.ok(!coversName(info, 'c-peer.ns.svc'));
    assert.ok(coversName(info, '*.c-peer.ns.svc'));
    assert.ok(coversName(info, '127.0.0.1'));
    assert.ok(!coversName(info, '127.0.0.2'));
    assert.ok(!coversName(info, 'localhost.localdomain'));
  });
});
