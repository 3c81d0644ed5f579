// Issue 13, finding 1, on real processes: an attacker on the network meets a
// 3-member cluster's peer port. A non-member, a stream forged in a live
// member's name and a forged TimeoutNow get nowhere, in plaintext and over
// TLS; with the operator's generated TLS, the generated client (and server)
// certificate, though signed by the same CA, is refused on the peer port; so
// are both client certificates in the middle of a CA rotation (leaves from
// the new CA, ca.crt trusting old and new).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessCluster, requireTools, type ClusterTls, type ProcessMember } from './process-cluster.js';
import { CA_ROTATION_ANNOTATION, desiredTLSSecrets, nextPhase, tlsPodSettings, type Secret } from '../../operator/tls/index.js';
import type { KVCluster } from '../../operator/api/index.js';
import { dialStream, fetchIdentity, postSnapshot, type OpenedStream } from '../../node/transport/client.js';
import { dialHeaders } from '../../node/transport/protocol.js';
import { encodeMessageFrames, messageFrameSize } from '../../node/transport/frames.js';
import { encodeMessage } from '../../node/transport/codec.js';
import type { PeerTlsOptions } from '../../node/transport/tls.js';
import { MessageType, type Message } from '../../node/raft/types.js';

const KVC: KVCluster = { apiVersion: 'kvorum.io/v1alpha1', kind: 'KVCluster', metadata: { name: 'it', namespace: 'default', uid: 'it-uid' }, spec: {} };

interface Certs {
  tls: ClusterTls;
  /** The peer, client and server pairs the operator generates, as a dialer presents them. */
  peer: PeerTlsOptions;
  client: PeerTlsOptions;
  server: PeerTlsOptions;
  /** Mid CA rotation: the client certificate from the old CA, still trusted by the bundle. */
  oldClient?: PeerTlsOptions;
}

/** The Secrets the operator generates for KVC; `midRotation`: as they are in a CA rotation's ReissueLeaves phase. */
async function generatedSecrets(midRotation: boolean): Promise<{ now: Map<string, Secret>; before: Map<string, Secret> }> {
  const byName = (list: Secret[]): Map<string, Secret> => new Map(list.map((s) => [s.metadata.name!, s]));
  const first = byName((await desiredTLSSecrets(KVC, new Map())).secrets);
  if (!midRotation) return { now: first, before: first };
  const asked: KVCluster = { ...KVC, metadata: { ...KVC.metadata, annotations: { [CA_ROTATION_ANNOTATION]: 'it' } } };
  const trustBoth = await desiredTLSSecrets(asked, first, new Date(), { membersExist: true });
  const reissued = await desiredTLSSecrets(asked, byName(trustBoth.secrets), new Date(), { rotation: nextPhase(trustBoth.rotation!, new Date()), membersExist: true });
  return { now: byName(reissued.secrets), before: first };
}

/** Files from the Secrets the operator generates for KVC. */
async function operatorCertificates(dir: string, midRotation: boolean): Promise<Certs> {
  mkdirSync(dir, { recursive: true });
  const { now: secrets, before } = await generatedSecrets(midRotation);
  const text = (secret: string, key: string, from = secrets): string => Buffer.from(from.get(secret)!.data![key]!, 'base64').toString('utf8');
  const file = (secret: string, key: string, name: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text(secret, key), { mode: 0o600 });
    return path;
  };
  const ca = text('it-server-tls', 'ca.crt');
  const pair = (secret: string): PeerTlsOptions => ({ cert: text(secret, 'tls.crt'), key: text(secret, 'tls.key'), ca });
  return {
    tls: {
      caFile: file('it-server-tls', 'ca.crt', 'ca.crt'),
      serverCertFile: file('it-server-tls', 'tls.crt', 'server.crt'),
      serverKeyFile: file('it-server-tls', 'tls.key', 'server.key'),
      peerCertFile: file('it-peer-tls', 'tls.crt', 'peer.crt'),
      peerKeyFile: file('it-peer-tls', 'tls.key', 'peer.key'),
      clientCertFile: file('it-client-tls', 'tls.crt', 'client.crt'),
      clientKeyFile: file('it-client-tls', 'tls.key', 'client.key'),
      clientCertAuth: true,
      peerClientCertAuth: true,
    },
    peer: pair('it-peer-tls'),
    client: pair('it-client-tls'),
    server: pair('it-server-tls'),
    ...(midRotation && { oldClient: { cert: text('it-client-tls', 'tls.crt', before), key: text('it-client-tls', 'tls.key', before), ca } }),
  };
}

/** The peer-port settings the operator passes as ETCD_* variables, as the equivalent flags. */
function operatorPeerFlags(): string[] {
  return tlsPodSettings(KVC).env.map((e) => `--${e.name.slice('ETCD_'.length).toLowerCase().replace(/_/g, '-')}=${e.value}`);
}

type Refusal = Error & { status?: number };

/** Dials a stream; resolves with the refusal, or with the open stream. */
async function tryStream(url: string, from: number, clusterId: number, to: number, tls?: PeerTlsOptions): Promise<{ refused?: Refusal; stream?: OpenedStream }> {
  try {
    return { stream: await dialStream(url, dialHeaders({ memberId: from, clusterId }, to), { timeoutMs: 3000, ...(tls && { tls }) }) };
  } catch (err) {
    return { refused: err as Refusal };
  }
}

function message(fields: Partial<Message> & Pick<Message, 'type' | 'from' | 'to' | 'term'>): Message {
  return { index: 0, logTerm: 0, entries: [], commit: 0, reject: false, rejectHint: 0, hintTerm: 0, context: new Uint8Array(0), ...fields };
}

interface Status {
  term: number;
  leader: string;
}

function statusOf(c: ProcessCluster, m: ProcessMember): Status {
  const [s] = JSON.parse(c.ctl(['endpoint', 'status', '-w', 'json'], { endpoints: m.clientUrl })) as { Status: { raftTerm: number; leader: number | string } }[];
  return { term: Number(s!.Status.raftTerm), leader: String(s!.Status.leader) };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The scenario for one flavour of the peer port. */
function peerPortRefusesImpostors(mode: 'plaintext' | 'TLS' | 'TLS mid CA rotation'): void {
  describe(`finding 1: the peer port refuses impostors (${mode}, 3 member processes)`, () => {
    before(() => requireTools('etcdctl'));
    let c: ProcessCluster;
    let certs: Certs | undefined;
    let certDir = '';
    let clusterId = 0;
    const ids = new Map<string, number>();
    // What a dialer that holds the generated peer certificate presents (nothing in plaintext).
    const peerTls = (): PeerTlsOptions | undefined => certs?.peer;

    before(async () => {
      if (mode !== 'plaintext') {
        certDir = mkdtempSync(join(tmpdir(), 'kvorum-peer-auth-'));
        certs = await operatorCertificates(certDir, mode === 'TLS mid CA rotation');
      }
      c = await ProcessCluster.create('kvorum', 3, { ...(certs && { tls: certs.tls, extraArgs: operatorPeerFlags() }) });
      await c.startAll();
      for (const m of c.members) {
        const identity = await fetchIdentity(m.peerUrl, { timeoutMs: 3000, ...(certs && { tls: certs.peer }) });
        ids.set(m.name, identity.memberId);
        clusterId = identity.clusterId;
      }
      assert.equal(c.ctl(['put', 'before', '1']).trim(), 'OK');
    });
    after(async () => {
      await c?.destroy();
      if (certDir) rmSync(certDir, { recursive: true, force: true });
    });

    test('a non-member with the right cluster ID is refused with 404 "error sender not found", streams and snapshots alike', async () => {
      const target = c.members[0]!;
      const { refused, stream } = await tryStream(target.peerUrl, 0x123, clusterId, ids.get(target.name)!, peerTls());
      stream?.socket.destroy();
      assert.equal(refused?.status, 404, `a stream from a non-member was not refused: ${refused?.message ?? 'accepted'}`);
      assert.match(refused.message, /error sender not found/);
      const snap = message({ type: MessageType.Snap, from: 0x123, to: ids.get(target.name)!, term: 1 });
      const posted = await postSnapshot(target.peerUrl, dialHeaders({ memberId: 0x123, clusterId }, ids.get(target.name)!), [Buffer.from(encodeMessage(snap))], {
        timeoutMs: 3000,
        ...(certs && { tls: certs.peer }),
      }).then(
        () => undefined,
        (err: Refusal) => err,
      );
      assert.equal(posted?.status, 404);
    });

    test('a stream forged in the name of a live member is refused with 409 and leaves the real one (and the leader) in place', async () => {
      const leader = await c.leader();
      const before = statusOf(c, leader);
      const follower = c.members.find((m) => m !== leader)!;
      // The leader's own stream to the follower carries heartbeats every 100 ms.
      const { refused, stream } = await tryStream(follower.peerUrl, ids.get(leader.name)!, clusterId, ids.get(follower.name)!, peerTls());
      stream?.socket.destroy();
      assert.equal(refused?.status, 409, `a forged stream was not refused: ${refused?.message ?? 'accepted'}`);
      assert.match(refused.message, /live stream from member/);
      for (let i = 0; i < 10; i++) assert.equal(c.ctl(['put', `forged/${i}`, 'v']).trim(), 'OK');
      const now = statusOf(c, follower);
      assert.equal(now.leader, before.leader, 'the leader did not change');
      assert.equal(now.term, before.term, 'no election happened');
    });

    test('a forged TimeoutNow (sent in the name of a stopped follower) does not start an election', async () => {
      const leader = await c.leader();
      const [victim, stopped] = c.members.filter((m) => m !== leader) as [ProcessMember, ProcessMember];
      await c.kill(stopped);
      try {
        const before = statusOf(c, victim);
        // The stopped member's stream closed with it, so a stream in its name is taken (in plaintext
        // anyone may do this; over TLS only a holder of a peer certificate); Raft must still ignore
        // a TimeoutNow from a member that is not its leader.
        let opened: OpenedStream | undefined;
        for (let i = 0; i < 50 && !opened; i++) {
          const r = await tryStream(victim.peerUrl, ids.get(stopped.name)!, clusterId, ids.get(victim.name)!, peerTls());
          if (r.stream) opened = r.stream;
          else if (r.refused?.status === 409) await sleep(200);
          else assert.fail(`unexpected refusal: ${r.refused?.message}`);
        }
        assert.ok(opened, 'a stream in the stopped member\'s name was taken');
        const forged = message({ type: MessageType.TimeoutNow, from: ids.get(stopped.name)!, to: ids.get(victim.name)!, term: before.term });
        opened.socket.write(encodeMessageFrames([forged], [messageFrameSize(forged)], 1));
        await sleep(2500); // more than two election timeouts
        opened.socket.destroy();
        const after = statusOf(c, victim);
        assert.equal(after.term, before.term, 'the forged TimeoutNow started no election');
        assert.equal(after.leader, before.leader);
      } finally {
        c.start(stopped);
        await c.waitHealthy();
      }
    });

    if (mode !== 'plaintext') {
      test('the generated client certificate (and the server certificate) is refused on the peer port, also in a live member\'s name', async () => {
        const target = c.members[0]!;
        const from = c.members[2]!;
        for (const [name, tls] of [
          ['client', certs!.client],
          ['server', certs!.server],
          ...(certs!.oldClient ? [['old-CA client', certs!.oldClient] as const] : []),
        ] as const) {
          // Streams in a member's name, whether its own stream is live or not.
          const { refused, stream } = await tryStream(target.peerUrl, ids.get(from.name)!, clusterId, ids.get(target.name)!, tls);
          stream?.socket.destroy();
          assert.equal(refused?.status, 403, `the ${name} certificate opened a stream: ${refused?.message ?? 'accepted'}`);
          assert.match(refused.message, /not an allowed peer CN/);
          // Snapshots and the member list too.
          const snap = message({ type: MessageType.Snap, from: ids.get(from.name)!, to: ids.get(target.name)!, term: 1 });
          const posted = await postSnapshot(target.peerUrl, dialHeaders({ memberId: ids.get(from.name)!, clusterId }, ids.get(target.name)!), [Buffer.from(encodeMessage(snap))], {
            timeoutMs: 3000,
            tls,
          }).then(
            () => undefined,
            (err: Refusal) => err,
          );
          assert.equal(posted?.status, 403, `the ${name} certificate posted a snapshot`);
          await assert.rejects(fetchIdentity(target.peerUrl, { timeoutMs: 3000, tls }), /403/);
        }
        // The cluster is untouched.
        assert.equal(c.ctl(['put', 'after-client-cert', '1']).trim(), 'OK');
      });
    }

    test('what was written is all there and every member agrees on one leader', async () => {
      await c.waitHealthy();
      const leaders = new Set(c.members.map((m) => statusOf(c, m).leader));
      assert.equal(leaders.size, 1);
      const keys = c.ctl(['get', 'forged/', '--prefix', '--keys-only']).split('\n').filter((l) => l.length > 0);
      assert.equal(keys.length, 10);
    });
  });
}

peerPortRefusesImpostors('plaintext');
peerPortRefusesImpostors('TLS');
peerPortRefusesImpostors('TLS mid CA rotation');
