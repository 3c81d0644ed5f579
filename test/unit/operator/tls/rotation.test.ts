// CA rotation through a trust bundle (operator/tls/rotation.ts, trust.ts and
// the rotation half of secrets.ts): what starts one, the Secrets of each
// phase, recovery of the old CA from the members' Secrets, refusal when it
// cannot be recovered, and, with real TLS handshakes, that a member restarted
// into a phase and one still on the previous phase trust each other.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { KVCluster } from '../../../../operator/api/index.js';
import {
  CA_ROTATION_ANNOTATION,
  caCertificates,
  caFingerprint,
  desiredTLSSecrets,
  generateCA,
  isSignedBy,
  issueCertificate,
  nextPhase,
  phaseRolledOut,
  rotationTrigger,
  type Secret,
  type TLSRotationStatus,
  type TLSSecretsResult,
} from '../../../../operator/tls/index.js';

const DAY = 86_400_000;
// Real time: the handshakes check validity against the clock.
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);
const LEAVES = ['demo-server-tls', 'demo-peer-tls', 'demo-client-tls'];

function cluster(annotations?: Record<string, string>): KVCluster {
  return {
    apiVersion: 'kvorum.io/v1alpha1',
    kind: 'KVCluster',
    metadata: { name: 'demo', namespace: 'prod', uid: 'uid-1', ...(annotations && { annotations }) },
    spec: { replicas: 3 },
  };
}

const text = (s: Secret | undefined, key: string): string => Buffer.from(s?.data?.[key] ?? '', 'base64').toString('utf8');
const byName = (secrets: Secret[]): Map<string, Secret> => new Map(secrets.map((s) => [s.metadata.name!, s]));
const fps = (bundle: string): string[] => [...caCertificates([bundle]).keys()];
const MEMBERS = { membersExist: true };

/** A running cluster's Secrets, as the operator made them. */
async function running(): Promise<Map<string, Secret>> {
  const first = await desiredTLSSecrets(cluster(), new Map(), NOW);
  return byName(first.secrets);
}

/** One reconcile of the TLS Secrets, then the phase's roll done (the reconciler's advance). */
async function phase(kvc: KVCluster, secrets: Map<string, Secret>, rotation: TLSRotationStatus | undefined, now = NOW): Promise<TLSSecretsResult> {
  return desiredTLSSecrets(kvc, secrets, now, { ...(rotation && { rotation }), ...MEMBERS });
}

/** Whether a member holding `server` accepts a dial from one holding `client` (both ways verified, as members dial each other). */
async function handshake(server: Secret, client: Secret): Promise<boolean> {
  const srv = createServer({ cert: text(server, 'tls.crt'), key: text(server, 'tls.key'), ca: text(server, 'ca.crt'), requestCert: true, rejectUnauthorized: true }, (s) => {
    s.on('error', () => undefined);
    s.end('ok');
  });
  srv.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    return await new Promise<boolean>((resolve) => {
      const sock: TLSSocket = connect({ host: '127.0.0.1', port: (srv.address() as AddressInfo).port, servername: 'localhost', cert: text(client, 'tls.crt'), key: text(client, 'tls.key'), ca: text(client, 'ca.crt') });
      let got = '';
      sock.on('data', (d: Buffer) => (got += d.toString()));
      sock.on('end', () => resolve(got === 'ok'));
      sock.on('error', () => resolve(false));
    });
  } finally {
    srv.close();
  }
}

/** Every pair of a member on the previous phase and one on the next trusts each other (peer port both ways). */
async function assertMixedMembersTalk(before: Map<string, Secret>, after: Map<string, Secret>, label: string): Promise<void> {
  const a = before.get('demo-peer-tls')!;
  const b = after.get('demo-peer-tls')!;
  assert.ok(await handshake(a, b), `${label}: an old member accepts a restarted one`);
  assert.ok(await handshake(b, a), `${label}: a restarted member accepts an old one`);
  // The operator's client (the client Secret with the bundle it trusts) reaches members of both kinds.
  assert.ok(await handshake(before.get('demo-server-tls')!, after.get('demo-client-tls')!), `${label}: the operator reaches an old member`);
  assert.ok(await handshake(after.get('demo-server-tls')!, after.get('demo-client-tls')!), `${label}: the operator reaches a restarted member`);
}

describe('rotationTrigger', () => {
  const far = new Date(NOW.getTime() + 1000 * DAY);
  test('a new annotation value asks; the value already served does not', () => {
    assert.equal(rotationTrigger({ requested: 't1', caNotAfter: far, now: NOW })?.reason, 'Requested');
    const served = { requestedAt: 't1' } as TLSRotationStatus;
    assert.equal(rotationTrigger({ requested: 't1', last: served, caNotAfter: far, now: NOW }), undefined);
    assert.equal(rotationTrigger({ requested: 't2', last: served, caNotAfter: far, now: NOW })?.reason, 'Requested');
    assert.equal(rotationTrigger({ caNotAfter: far, now: NOW }), undefined);
  });
  test('a CA that ends within 30 days asks', () => {
    const t = rotationTrigger({ caNotAfter: new Date(NOW.getTime() + 29 * DAY), now: NOW });
    assert.equal(t?.reason, 'CAExpiring');
    assert.match(t!.message, /within 30 days/);
    assert.equal(rotationTrigger({ caNotAfter: new Date(NOW.getTime() + 31 * DAY), now: NOW }), undefined);
  });
});

describe('phaseRolledOut and nextPhase', () => {
  const pod = (name: string, tlsHash: string, ready = true, terminating = false): { name: string; tlsHash: string; ready: boolean; terminating: boolean } => ({ name, tlsHash, ready, terminating });
  const facts = { tlsHash: 'h2', desiredReplicas: 3, healthyMembers: 3, hasLeader: true };
  test('only when every member pod runs this phase\'s Secrets, Ready, and every member is healthy under a leader', () => {
    assert.ok(phaseRolledOut({ ...facts, pods: [pod('a', 'h2'), pod('b', 'h2'), pod('c', 'h2')] }));
    assert.ok(!phaseRolledOut({ ...facts, pods: [pod('a', 'h2'), pod('b', 'h1'), pod('c', 'h2')] }), 'one member still on the old Secrets');
    assert.ok(!phaseRolledOut({ ...facts, pods: [pod('a', 'h2'), pod('b', 'h2', false), pod('c', 'h2')] }), 'one not Ready');
    assert.ok(!phaseRolledOut({ ...facts, pods: [pod('a', 'h2'), pod('b', 'h2')] }), 'one pod missing');
    assert.ok(!phaseRolledOut({ ...facts, pods: [pod('a', 'h2'), pod('b', 'h2'), pod('c', 'h2', true, true)] }), 'one terminating');
    assert.ok(!phaseRolledOut({ ...facts, healthyMembers: 2, pods: [pod('a', 'h2'), pod('b', 'h2'), pod('c', 'h2')] }), 'one unhealthy');
    assert.ok(!phaseRolledOut({ ...facts, hasLeader: false, pods: [pod('a', 'h2'), pod('b', 'h2'), pod('c', 'h2')] }), 'no leader');
  });
  test('phases go TrustBoth, ReissueLeaves, DropOld, Completed (with completedAt) and stay there', () => {
    let r = { phase: 'TrustBoth', startedAt: 'x', phaseStartedAt: 'x' } as TLSRotationStatus;
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      r = nextPhase(r, NOW);
      seen.push(r.phase);
    }
    assert.deepEqual(seen, ['ReissueLeaves', 'DropOld', 'Completed', 'Completed']);
    assert.equal(r.completedAt, NOW.toISOString().replace(/\.\d+Z$/, 'Z'));
    assert.equal(r.startedAt, 'x');
  });
});

describe('CA rotation requested by annotation', () => {
  test('walks the three phases; at each step old and restarted members trust each other, and the end is the new CA alone', async () => {
    const s0 = await running();
    const oldCA = text(s0.get('demo-ca'), 'ca.crt');
    const kvc = cluster({ [CA_ROTATION_ANNOTATION]: '2030-06-01T00:00:00Z' });

    // Phase 1: trust both; leaves untouched; the CA Secret holds the new CA.
    const p1 = await phase(kvc, s0, undefined);
    assert.equal(p1.error, undefined);
    assert.equal(p1.rotationStarted, true);
    const r1 = p1.rotation!;
    assert.equal(r1.phase, 'TrustBoth');
    assert.equal(r1.reason, 'Requested');
    assert.equal(r1.requestedAt, '2030-06-01T00:00:00Z');
    assert.deepEqual(r1.oldCAFingerprints, [caFingerprint(oldCA)]);
    const s1 = byName(p1.secrets);
    const newCA = text(s1.get('demo-ca'), 'ca.crt');
    assert.notEqual(caFingerprint(newCA), caFingerprint(oldCA));
    assert.equal(r1.newCAFingerprint, caFingerprint(newCA));
    for (const n of LEAVES) {
      assert.equal(text(s1.get(n), 'tls.crt'), text(s0.get(n), 'tls.crt'), `${n}: certificate kept in TrustBoth`);
      assert.equal(text(s1.get(n), 'tls.key'), text(s0.get(n), 'tls.key'));
      assert.deepEqual(fps(text(s1.get(n), 'ca.crt')), [caFingerprint(oldCA), caFingerprint(newCA)], `${n}: ca.crt is old + new`);
    }
    assert.deepEqual(fps(p1.clientCA!), [caFingerprint(oldCA), caFingerprint(newCA)], 'the operator trusts both');
    await assertMixedMembersTalk(s0, s1, 'TrustBoth');

    // The same pass again (a restarted operator, status recorded): nothing new is issued.
    const again = await phase(kvc, s1, r1);
    assert.deepEqual(again.issued, []);
    assert.equal(again.rotationStarted, false);
    assert.deepEqual(byName(again.secrets), s1);

    // Phase 2: leaves from the new CA, bundle kept.
    const r2 = nextPhase(r1, NOW);
    const p2 = await phase(kvc, s1, r2);
    const s2 = byName(p2.secrets);
    assert.equal(text(s2.get('demo-ca'), 'ca.crt'), newCA, 'the CA Secret is not regenerated');
    for (const n of LEAVES) {
      assert.ok(isSignedBy(text(s2.get(n), 'tls.crt'), newCA), `${n}: re-issued from the new CA`);
      assert.deepEqual(fps(text(s2.get(n), 'ca.crt')), [caFingerprint(oldCA), caFingerprint(newCA)]);
    }
    assert.deepEqual(p2.issued.map((i) => i.secret), LEAVES);
    await assertMixedMembersTalk(s1, s2, 'ReissueLeaves');

    // Phase 3: the old CA leaves the bundle.
    const r3 = nextPhase(r2, NOW);
    const p3 = await phase(kvc, s2, r3);
    const s3 = byName(p3.secrets);
    for (const n of LEAVES) {
      assert.equal(text(s3.get(n), 'tls.crt'), text(s2.get(n), 'tls.crt'), `${n}: certificate kept in DropOld`);
      assert.deepEqual(fps(text(s3.get(n), 'ca.crt')), [caFingerprint(newCA)], `${n}: ca.crt is the new CA alone`);
    }
    await assertMixedMembersTalk(s2, s3, 'DropOld');
    // A member on the old chain is now shut out, as it should be once no member presents it.
    assert.equal(await handshake(s3.get('demo-peer-tls')!, s0.get('demo-peer-tls')!), false);

    // Completed: steady on the new CA; the same annotation value asks nothing more.
    const done = nextPhase(r3, NOW);
    assert.equal(done.phase, 'Completed');
    const p4 = await phase(kvc, s3, done);
    assert.equal(p4.rotation, undefined);
    assert.deepEqual(p4.issued, []);
    assert.deepEqual(byName(p4.secrets), s3);
    // A new value asks again.
    const p5 = await phase(cluster({ [CA_ROTATION_ANNOTATION]: 'again' }), s3, done);
    assert.equal(p5.rotation?.phase, 'TrustBoth');
    assert.deepEqual(p5.rotation?.oldCAFingerprints, [caFingerprint(newCA)]);
  });

  test('a rotation recorded whose new CA never reached the CA Secret (operator stopped in between) starts again, not left half-recorded', async () => {
    const s0 = await running();
    const oldCA = text(s0.get('demo-ca'), 'ca.crt');
    const kvc = cluster({ [CA_ROTATION_ANNOTATION]: 'x' });
    const recorded = (await phase(kvc, s0, undefined)).rotation!;
    // The status says TrustBoth, but the Secrets are still those of before.
    const r = await phase(kvc, s0, recorded);
    assert.equal(r.rotationStarted, true);
    assert.equal(r.rotation?.phase, 'TrustBoth');
    assert.equal(r.rotation?.reason, 'Requested');
    assert.deepEqual(r.rotation?.oldCAFingerprints, [caFingerprint(oldCA)]);
    assert.equal(r.rotation?.newCAFingerprint, caFingerprint(text(byName(r.secrets).get('demo-ca'), 'ca.crt')));
  });

  test('a CA that ends within 30 days starts the same rotation, keeping every leaf in the first phase', async () => {
    const s0 = await running();
    const p1 = await phase(cluster(), s0, undefined, new Date(NOW.getTime() + 3640 * DAY));
    assert.equal(p1.rotation?.reason, 'CAExpiring');
    assert.equal(p1.rotation?.phase, 'TrustBoth');
    for (const n of LEAVES) assert.equal(text(byName(p1.secrets).get(n), 'tls.crt'), text(s0.get(n), 'tls.crt'));
  });
});

describe('a lost or replaced CA Secret', () => {
  test('deleted: the old CA is recovered from the members\' Secrets and the cluster moves to a new CA through the bundle', async () => {
    const s0 = await running();
    const oldCA = text(s0.get('demo-ca'), 'ca.crt');
    const lost = new Map(s0);
    lost.delete('demo-ca');
    const p1 = await phase(cluster(), lost, undefined);
    assert.equal(p1.error, undefined);
    assert.equal(p1.rotation?.reason, 'CASecretMissing');
    assert.match(p1.rotation!.message, /old CA recovered from the members' Secrets/);
    assert.deepEqual(p1.rotation?.oldCAFingerprints, [caFingerprint(oldCA)]);
    const s1 = byName(p1.secrets);
    const newCA = text(s1.get('demo-ca'), 'ca.crt');
    assert.ok(text(s1.get('demo-ca'), 'ca.key').includes('PRIVATE KEY'), 'a new CA with its key');
    for (const n of LEAVES) {
      assert.equal(text(s1.get(n), 'tls.crt'), text(s0.get(n), 'tls.crt'), `${n}: nothing re-issued at once`);
      assert.deepEqual(fps(text(s1.get(n), 'ca.crt')), [caFingerprint(oldCA), caFingerprint(newCA)]);
    }
    await assertMixedMembersTalk(s0, s1, 'recovery TrustBoth');
    // The operator keeps its old client certificate and trusts both: it still reaches the members that did not restart.
    assert.ok(await handshake(s0.get('demo-server-tls')!, s1.get('demo-client-tls')!));
  });

  test('replaced by another valid CA: that CA becomes the target, unchanged', async () => {
    const s0 = await running();
    const corp = await generateCA('corp', 3650, NOW);
    const replaced = new Map(s0);
    replaced.set('demo-ca', { metadata: { name: 'demo-ca' }, data: { 'ca.crt': Buffer.from(corp.cert).toString('base64'), 'ca.key': Buffer.from(corp.key).toString('base64') } });
    const p1 = await phase(cluster(), replaced, undefined);
    assert.equal(p1.rotation?.reason, 'CASecretReplaced');
    assert.equal(p1.rotation?.newCAFingerprint, caFingerprint(corp.cert));
    assert.equal(text(byName(p1.secrets).get('demo-ca'), 'ca.crt'), corp.cert);
    assert.ok(!p1.issued.some((i) => i.secret === 'demo-ca'), 'the user\'s CA is not overwritten');
  });

  test('lost again in the middle of a rotation: a new rotation keeps every CA a member may present', async () => {
    const s0 = await running();
    const kvc = cluster({ [CA_ROTATION_ANNOTATION]: 'one' });
    const p1 = await phase(kvc, s0, undefined);
    const r2 = nextPhase(p1.rotation!, NOW);
    const s2 = byName((await phase(kvc, byName(p1.secrets), r2)).secrets);
    const [caA, caB] = fps(text(s2.get('demo-peer-tls'), 'ca.crt'));
    const lost = new Map(s2);
    lost.delete('demo-ca');
    const p = await phase(kvc, lost, r2);
    assert.equal(p.error, undefined);
    assert.equal(p.rotation?.phase, 'TrustBoth');
    assert.deepEqual(p.rotation?.oldCAFingerprints, [caA, caB]);
    assert.equal(fps(text(byName(p.secrets).get('demo-peer-tls'), 'ca.crt')).length, 3);
    await assertMixedMembersTalk(s2, byName(p.secrets), 'second recovery');
  });

  test('refused, touching nothing, when no member Secret carries the old CA', async () => {
    const s0 = await running();
    const bare = new Map<string, Secret>();
    for (const n of ['demo-server-tls', 'demo-peer-tls']) {
      const s = s0.get(n)!;
      bare.set(n, { ...s, data: { 'tls.crt': s.data!['tls.crt']!, 'tls.key': s.data!['tls.key']! } });
    }
    const r = await phase(cluster(), bare, undefined);
    assert.equal(r.error?.reason, 'TLSTrustNotFound');
    assert.match(r.error!.message, /no member's Secret carries the CA the members trust/);
    assert.deepEqual(r.secrets, [], 'no Secret written');
    assert.deepEqual(r.issued, []);
    // A cluster that never ran has no trust to keep: it simply gets a CA.
    const fresh = await desiredTLSSecrets(cluster(), bare, NOW, { membersExist: false });
    assert.equal(fresh.error, undefined);
    assert.equal(fresh.issued[0]?.secret, 'demo-ca');
  });

  test('refused when a member\'s certificate is signed by no CA it trusts (inconsistent Secrets)', async () => {
    const s0 = await running();
    const stranger = await generateCA('stranger', 30, NOW);
    const foreign = await issueCertificate(stranger, { commonName: 'demo-peer', dnsNames: ['localhost'], usage: 'peer', validityDays: 20 }, NOW);
    const broken = new Map(s0);
    broken.delete('demo-ca');
    const peer = s0.get('demo-peer-tls')!;
    broken.set('demo-peer-tls', { ...peer, data: { ...peer.data, 'tls.crt': Buffer.from(foreign.cert).toString('base64'), 'tls.key': Buffer.from(foreign.key).toString('base64') } });
    const r = await phase(cluster(), broken, undefined);
    assert.equal(r.error?.reason, 'TLSTrustNotFound');
    assert.match(r.error!.message, /prod\/demo-peer-tls lacks a certificate and key signed by a CA the members trust/);
    assert.deepEqual(r.secrets, []);
  });
});
