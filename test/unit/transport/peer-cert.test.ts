// peerCertificateProblem: which certificates may speak for a member on the
// peer port (issue 13, finding 1): etcd's allowed-CN and allowed-hostname
// rules, and a certificate that must cover the claimed member's peer host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateCA, issueCertificate } from '../../../operator/tls/index.js';
import { peerCertificateProblem, type PeerTlsOptions } from '../../../node/transport/tls.js';
import { X509Certificate } from 'node:crypto';

/** A socket as the listener sees it after the handshake, presenting `certPem` (or nothing). */
function socketWith(certPem: string | undefined): unknown {
  return { getPeerCertificate: () => (certPem ? { raw: new X509Certificate(certPem).raw } : {}) };
}

test('finding 1: the peer port takes only certificates that fit the rules and the claimed member', async () => {
  const ca = await generateCA('test-ca', 1);
  const peer = await issueCertificate(ca, { commonName: 'c-peer', dnsNames: ['*.c-peer.ns.svc', 'localhost'], ipAddresses: ['127.0.0.1'], usage: 'peer', validityDays: 1 });
  const client = await issueCertificate(ca, { commonName: 'root', usage: 'client', validityDays: 1 });
  const base: PeerTlsOptions = { cert: peer.cert, key: peer.key, ca: ca.cert, requireClientCert: true };
  const m0 = ['https://c-0.c-peer.ns.svc:2380'];

  assert.equal(peerCertificateProblem(base, socketWith(peer.cert), m0), undefined);
  assert.equal(peerCertificateProblem(base, socketWith(peer.cert), ['https://127.0.0.1:2380']), undefined);
  // A client certificate has no SANs: it speaks for no member, even without an allowed-CN rule.
  assert.match(peerCertificateProblem(base, socketWith(client.cert), m0) ?? '', /covers none of the claimed member's peer hosts/);
  assert.match(peerCertificateProblem(base, socketWith(peer.cert), ['https://other.example:2380']) ?? '', /covers none/);
  assert.match(peerCertificateProblem(base, socketWith(undefined), m0) ?? '', /no peer certificate/);

  const cnRule: PeerTlsOptions = { ...base, allowedCommonNames: ['c-peer'] };
  assert.equal(peerCertificateProblem(cnRule, socketWith(peer.cert)), undefined);
  assert.match(peerCertificateProblem(cnRule, socketWith(client.cert)) ?? '', /CN "root" is not an allowed peer CN/);

  const hostRule: PeerTlsOptions = { ...base, allowedHostnames: ['c-1.c-peer.ns.svc'] };
  assert.equal(peerCertificateProblem(hostRule, socketWith(peer.cert)), undefined);
  assert.match(peerCertificateProblem({ ...base, allowedHostnames: ['elsewhere.example'] }, socketWith(peer.cert)) ?? '', /allowed peer hostnames/);

  // Without TLS there is nothing to check.
  assert.equal(peerCertificateProblem(undefined, socketWith(undefined), m0), undefined);
});
