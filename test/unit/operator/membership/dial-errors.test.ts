// TLS trust failures of the operator's dials are named as such
// (operator/membership/dial-errors.ts), found through observeCluster, and
// reported as TLSUntrusted, never as a lost quorum (operator/cluster/status.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { createServer, type Server } from 'node:tls';
import { statusReport } from '../../../../operator/cluster/status.js';
import { ClusterClient } from '../../../../operator/membership/client.js';
import { classifyDialError, isUnclearConnectFailure, probeTLS } from '../../../../operator/membership/dial-errors.js';
import { observeCluster, type ObserveAPI } from '../../../../operator/membership/observe.js';
import { generateCA, issueCertificate, joinBundle, type KeyPair } from '../../../../operator/tls/index.js';

describe('classifyDialError', () => {
  test('our side refusing the member\'s certificate', () => {
    for (const text of [
      'Status: cannot reach https://kv-0:2379: No connection established. Last error: Error: self-signed certificate in certificate chain.',
      'unable to verify the first certificate',
      'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
      'certificate has expired',
    ]) {
      assert.equal(classifyDialError(text)?.kind, 'serverCertificateUntrusted', text);
      assert.match(classifyDialError(text)!.message, /^TLS: the operator does not trust the members' server certificate \(/);
    }
  });
  test('the member refusing ours', () => {
    for (const text of [
      'error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 116',
      'ssl3_read_bytes:sslv3 alert bad certificate',
      'tlsv1 alert unknown ca',
      'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
    ]) {
      assert.equal(classifyDialError(text)?.kind, 'clientCertificateRefused', text);
      assert.match(classifyDialError(text)!.message, /^TLS: members do not trust the operator's client certificate \(/);
    }
  });
  test('other failures are not TLS trust; the unclear ones are worth a probe', () => {
    for (const text of ['connect ECONNREFUSED 10.0.0.1:2379', 'no answer within 3000 ms', 'etcdserver: no leader', 'Name resolution failed for target dns:kv-0']) {
      assert.equal(classifyDialError(text), undefined, text);
    }
    assert.ok(isUnclearConnectFailure('Status: cannot reach https://kv-0:2379: No connection established. Last error: Failed to connect (2026-12-05T23:37:23.898Z).'));
    assert.ok(!isUnclearConnectFailure('connect ECONNREFUSED 10.0.0.1:2379'));
    assert.ok(!isUnclearConnectFailure('self-signed certificate in certificate chain'));
  });
});

describe('probeTLS and ClusterClient against a member that requires client certificates', () => {
  let caA: KeyPair;
  let caB: KeyPair;
  let serverPair: KeyPair;
  let clientA: KeyPair;
  let clientB: KeyPair;
  let server: Server;
  let endpoint: string;
  let closedPort: number;

  before(async () => {
    caA = await generateCA('a', 10);
    caB = await generateCA('b', 10);
    serverPair = await issueCertificate(caA, { commonName: 'member', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usage: 'peer', validityDays: 5 });
    clientA = await issueCertificate(caA, { commonName: 'root', usage: 'client', validityDays: 5 });
    clientB = await issueCertificate(caB, { commonName: 'root', usage: 'client', validityDays: 5 });
    // As a member's client listener: Node TLS, client certificates required, h2 by ALPN.
    server = createServer({ cert: serverPair.cert, key: serverPair.key, ca: caA.cert, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'] }, (s) => {
      s.on('error', () => undefined);
      s.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])); // a SETTINGS frame
    });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    endpoint = `https://localhost:${(server.address() as AddressInfo).port}`;
    const spare: NetServer = createNetServer();
    await new Promise<void>((r) => spare.listen(0, '127.0.0.1', r));
    closedPort = (spare.address() as AddressInfo).port;
    await new Promise<void>((r) => spare.close(() => r()));
  });
  after(() => server.close());

  test('trusted both ways: no problem', async () => {
    assert.equal(await probeTLS(endpoint, { ca: caA.cert, cert: clientA.cert, key: clientA.key }), undefined);
  });
  test('a client certificate from another CA: the member refuses it', async () => {
    const p = await probeTLS(endpoint, { ca: caA.cert, cert: clientB.cert, key: clientB.key });
    assert.equal(p?.kind, 'clientCertificateRefused');
    assert.match(p!.message, /^TLS: members do not trust the operator's client certificate/);
  });
  test('no client certificate at all: refused too', async () => {
    assert.equal((await probeTLS(endpoint, { ca: caA.cert }))?.kind, 'clientCertificateRefused');
  });
  test('a server certificate from a CA the operator does not trust', async () => {
    assert.equal((await probeTLS(endpoint, { ca: caB.cert, cert: clientA.cert, key: clientA.key }))?.kind, 'serverCertificateUntrusted');
  });
  test('a bundle holding both CAs trusts the member (a rotation\'s operator)', async () => {
    assert.equal(await probeTLS(endpoint, { ca: joinBundle([caB.cert, caA.cert]), cert: clientA.cert, key: clientA.key }), undefined);
  });
  test('a member that is down is not a TLS problem', async () => {
    assert.equal(await probeTLS(`https://127.0.0.1:${closedPort}`, { ca: caA.cert, cert: clientA.cert, key: clientA.key }), undefined);
  });
  test('ClusterClient.diagnoseTLS uses its own credentials; a plain-HTTP client has nothing to diagnose', async () => {
    const refused = new ClusterClient({ endpoints: [endpoint], tls: { ca: caA.cert, cert: clientB.cert, key: clientB.key } });
    assert.equal((await refused.diagnoseTLS())?.kind, 'clientCertificateRefused');
    refused.close();
    const plain = new ClusterClient({ endpoints: [endpoint] });
    assert.equal(await plain.diagnoseTLS(), undefined);
    plain.close();
  });
});

describe('observeCluster and the status report', () => {
  const failing = (message: string, diagnosis?: Awaited<ReturnType<NonNullable<ObserveAPI['diagnoseTLS']>>>): ObserveAPI => ({
    memberList: async () => {
      throw new Error(message);
    },
    status: async () => {
      throw new Error(message);
    },
    diagnoseTLS: async () => diagnosis,
  });

  test('finding 9: a member list refused for TLS reasons is TLSUntrusted, not NoLeader or QuorumLost', async () => {
    const obs = await observeCluster(failing('MemberList: no endpoint answered: No connection established. Last error: Failed to connect'), () => undefined);
    assert.equal(obs.tlsProblem, undefined, 'without a diagnosis nothing is claimed');
    const refused = { kind: 'clientCertificateRefused' as const, message: "TLS: members do not trust the operator's client certificate (closed)" };
    const seen = await observeCluster(failing('MemberList: no endpoint answered: No connection established. Last error: Failed to connect', refused), () => undefined);
    assert.deepEqual(seen.tlsProblem, refused);
    const r = statusReport({
      desiredReplicas: 3,
      statefulSetReplicas: 3,
      bootstrapped: true,
      justBootstrapped: false,
      rollingUpdate: false,
      members: [],
      observeError: seen.error!,
      tlsProblem: seen.tlsProblem!,
      alarms: [],
      quotaBytes: 1,
      stuckPods: [],
    });
    const available = r.conditions.find((c) => c.type === 'Available')!;
    const degraded = r.conditions.find((c) => c.type === 'Degraded')!;
    assert.equal(available.reason, 'TLSUntrusted');
    assert.equal(available.status, 'Unknown');
    assert.equal(degraded.reason, 'TLSUntrusted');
    assert.match(degraded.message, /members do not trust the operator's client certificate/);
    assert.doesNotMatch(degraded.message, /quorum/i);
  });

  test('a member whose Status fails with a certificate error names it; the list still counts', async () => {
    const api: ObserveAPI = {
      memberList: async () => [{ id: '1', name: 'kv-0', peerURLs: ['https://kv-0:2380'], clientURLs: ['https://kv-0:2379'], isLearner: false }],
      status: async () => {
        throw new Error('Status: cannot reach https://kv-0:2379: self-signed certificate in certificate chain');
      },
    };
    const obs = await observeCluster(api, (m) => m.clientURLs[0]);
    assert.equal(obs.members?.length, 1);
    assert.equal(obs.tlsProblem?.kind, 'serverCertificateUntrusted');
  });

  test('without a TLS problem a lost quorum is still QuorumLost', () => {
    const r = statusReport({ desiredReplicas: 3, statefulSetReplicas: 3, bootstrapped: true, justBootstrapped: false, rollingUpdate: false, members: [], observeError: 'down', alarms: [], quotaBytes: 1, stuckPods: [] });
    assert.equal(r.conditions.find((c) => c.type === 'Degraded')?.reason, 'QuorumLost');
  });
});
