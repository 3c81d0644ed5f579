import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageType } from '../../../node/raft/types.js';
import { fetchIdentity } from '../../../node/transport/client.js';
import { peerTlsFromFiles, type PeerTlsOptions } from '../../../node/transport/tls.js';
import { CLUSTER, entry, msg, sleep, startMember, waitFor } from './helpers.js';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A throwaway CA and one peer certificate (server and client usage, SAN 127.0.0.1) signed by it. */
function makePki(dir: string, name: string): { files: { certFile: string; keyFile: string; trustedCaFile: string }; ca: Buffer } {
  const p = (f: string): string => join(dir, `${name}-${f}`);
  const run = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore' });
  run('req', '-x509', ...EC, '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '1', '-subj', `/CN=${name}-ca`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  run('req', ...EC, '-keyout', p('peer.key'), '-out', p('peer.csr'), '-subj', `/CN=${name}-peer`);
  writeFileSync(p('ext.cnf'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  run('x509', '-req', '-in', p('peer.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('peer.crt'), '-days', '1', '-extfile', p('ext.cnf'));
  return { files: { certFile: p('peer.crt'), keyFile: p('peer.key'), trustedCaFile: p('ca.crt') }, ca: readFileSync(p('ca.crt')) };
}

/** An https GET /members with only the CA: a client that shows no certificate. */
function getWithoutCert(url: string, ca: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get(`${url}/members`, { ca, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
}

test('peer TLS: streams and snapshots over https with client-cert auth; certless and foreign-CA clients are refused', { skip: !hasOpenssl() && 'openssl CLI not found' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kvorum-transport-tls-'));
  const members: Awaited<ReturnType<typeof startMember>>[] = [];
  try {
    const pki = makePki(dir, 'cluster');
    const rogue = makePki(dir, 'rogue');
    const tls: PeerTlsOptions = peerTlsFromFiles({ ...pki.files, clientCertAuth: true });
    assert.equal(tls.requireClientCert, true);

    const a = await startMember(1, { listenUrl: 'https://127.0.0.1:0', tls });
    const b = await startMember(2, { listenUrl: 'https://127.0.0.1:0', tls });
    members.push(a, b);
    assert.match(a.transport.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    a.transport.addPeer(2, [b.transport.url]);
    b.transport.addPeer(1, [a.transport.url]);

    const batch = Array.from({ length: 1000 }, (_, i) => msg({ type: MessageType.App, from: 1, to: 2, index: i, entries: [entry(i + 1, new Uint8Array(64))] }));
    a.transport.send(batch);
    await waitFor(() => b.received.length === 1000, '1000 messages over TLS');
    assert.deepEqual(
      b.received.map((m) => m.index),
      batch.map((m) => m.index),
    );
    b.transport.send([msg({ type: MessageType.AppResp, from: 2, to: 1, index: 999 })]);
    await waitFor(() => a.received.length === 1, 'the answer over TLS');

    const data = new Uint8Array(2 * 1024 * 1024).fill(7);
    a.transport.send([msg({ type: MessageType.Snap, from: 1, to: 2, snapshot: { meta: { index: 9, term: 1, conf: { voters: [1, 2], learners: [] } }, data } })]);
    await waitFor(() => a.snapshotStatus.length === 1, 'the TLS snapshot status');
    assert.deepEqual(a.snapshotStatus, [{ id: 2, ok: true }]);
    assert.deepEqual(b.received.at(-1)?.snapshot?.data, data);

    // With its certificate the identity endpoint answers; without one the handshake fails.
    assert.deepEqual(await fetchIdentity(a.transport.url, { tls, timeoutMs: 2000 }), { memberId: 1, clusterId: CLUSTER });
    await assert.rejects(getWithoutCert(a.transport.url, pki.ca));

    // A member that trusts a but whose own certificate comes from another CA is refused by a.
    const rogueTls = peerTlsFromFiles({ ...rogue.files, clientCertAuth: true });
    const intruder = await startMember(3, { listenUrl: 'https://127.0.0.1:0', tls: { ...rogueTls, ca: pki.ca } });
    members.push(intruder);
    intruder.transport.addPeer(1, [a.transport.url]);
    for (let i = 0; i < 100 && intruder.unreachable.length === 0; i++) {
      intruder.transport.send([msg({ type: MessageType.Heartbeat, from: 3, to: 1 })]);
      await sleep(10);
    }
    assert.ok(intruder.unreachable.includes(1), 'the intruder cannot reach a');
    await waitFor(() => a.log.has(/refused a peer TLS connection/), 'a to log the refusal');
    t.diagnostic(`intruder saw: ${String(intruder.log.lines.find((l) => l.msg === 'cannot reach the peer')?.['reason'])}`);
    await sleep(50);
    assert.equal(
      a.received.filter((m) => m.from === 3).length,
      0,
    );
  } finally {
    for (const m of members) await m.transport.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
