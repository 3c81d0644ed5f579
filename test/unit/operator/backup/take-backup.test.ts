import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import pino from 'pino';
import { backupKeys } from '../../../../operator/backup/layout.js';
import { parseManifest } from '../../../../operator/backup/manifest.js';
import { ObjectStoreError, type ObjectStore } from '../../../../operator/backup/object-store.js';
import { BackupError, chooseMember, takeBackup, type SnapshotSource } from '../../../../operator/backup/take-backup.js';
import type { EndpointStatus } from '../../../../operator/membership/client.js';
import { decodeBackup } from '../../../../node/backup/backup-file.js';
import { decodeStateSnapshot } from '../../../../node/server/state-snapshot.js';
import { InProcessCluster, bytes } from '../../server/in-process-cluster.js';

const log = pino({ level: 'silent' });

function status(memberId: string, over: Partial<EndpointStatus> = {}): EndpointStatus {
  return { endpoint: `ep-${memberId}`, memberId, clusterId: '77', leaderId: '1', raftIndex: 5000, raftAppliedIndex: 5000, raftTerm: 3, isLearner: false, version: '3.5.0', errors: [], dbSize: 1, ...over };
}

test('member choice: a caught-up follower first, the leader when no follower is caught up, nobody without a leader', () => {
  assert.equal(chooseMember([status('1'), status('2', { raftAppliedIndex: 4990 }), status('3', { raftAppliedIndex: 4999 })])?.status.memberId, '3', 'the most caught-up follower');
  assert.equal(chooseMember([status('1'), status('2', { raftAppliedIndex: 100 }), status('3', { isLearner: true })])?.status.memberId, '1', 'lagging followers and learners are passed over');
  assert.equal(chooseMember([status('1'), status('2', { errors: ['memberID:2 alarm:CORRUPT'] })])?.status.memberId, '1', 'a member with an alarm is passed over');
  assert.equal(chooseMember([status('2', { leaderId: '0' })]), undefined);
  assert.equal(chooseMember([]), undefined);
});

/** An in-memory bucket that consumes uploads chunk by chunk, as S3 would. */
function memoryStore(opts: { failUploadAfterBytes?: number } = {}): ObjectStore & { objects: Map<string, Buffer> } {
  const objects = new Map<string, Buffer>();
  return {
    bucket: 'b',
    objects,
    async upload(key, body) {
      const parts: Buffer[] = [];
      let n = 0;
      for await (const chunk of body) {
        parts.push(chunk as Buffer);
        n += (chunk as Buffer).length;
        if (opts.failUploadAfterBytes !== undefined && n > opts.failUploadAfterBytes) throw new ObjectStoreError('Unreachable', `upload s3://b/${key}: cannot reach the object store (ECONNRESET)`, true);
      }
      objects.set(key, Buffer.concat(parts));
    },
    async putText(key, text) {
      objects.set(key, Buffer.from(text));
    },
    async getStream(key) {
      return Readable.from([objects.get(key)!]);
    },
    async getText(key) {
      return objects.get(key)!.toString();
    },
    async list(prefix) {
      return [...objects.keys()].filter((k) => k.startsWith(prefix));
    },
    async deleteKeys(keys) {
      for (const k of keys) objects.delete(k);
    },
    async abortIncompleteUploads() {
      return 0;
    },
  };
}

test('a backup of a real member: streamed into the bucket, manifest beside it with the exact point, sha256 and HashKV', async (t) => {
  const cluster = new InProcessCluster(1);
  t.after(() => cluster.close());
  await cluster.startAll();
  const member = await cluster.waitForLeader();
  for (let i = 0; i < 300; i++) await member.server.put({ key: bytes(`k${i}`), value: bytes(`v${i}`) });
  let during: Promise<unknown> = Promise.resolve();
  const source: SnapshotSource = {
    async memberList() {
      return [{ id: String(member.server.header().memberId), name: 'm1', peerURLs: [], clientURLs: [], isLearner: false }];
    },
    async status() {
      const h = member.server.header();
      return status(String(h.memberId), { endpoint: 'm1', leaderId: String(h.memberId), clusterId: String(h.clusterId) });
    },
    snapshot() {
      // Writes keep coming while the stream is read: the manifest must name the captured point, not a later one.
      const stream = new Readable({ read() {} });
      void member.server.backup().then(async (b) => {
        during = member.server.put({ key: bytes('after'), value: bytes('capture') });
        for await (const c of b.chunks) stream.push(Buffer.from(c));
        stream.push(null);
      });
      return stream;
    },
    async hashKv(_ep, revision) {
      const h = await member.server.hashKv(revision);
      return { hash: h.hash, compactRevision: h.compactRevision, revision: h.hashRevision };
    },
  };
  const store = memoryStore();
  const keys = backupKeys('pre', 'ns', 'c', 'c-1');
  const revisionBefore = member.server.store.revision;
  const m = await takeBackup({ source, endpoints: ['m1'], store, keys, cluster: { name: 'c', namespace: 'ns' }, backupName: 'c-1', startedAt: new Date(), log });
  await during;

  const object = store.objects.get(keys.snapshot)!;
  assert.equal(m.size, object.length);
  assert.equal(m.sha256, createHash('sha256').update(object).digest('hex'), 'the manifest holds the object\'s sha256');
  assert.equal(m.revision, revisionBefore, 'the revision captured, not the write made during the stream');
  assert.ok(m.raftIndex > 0 && m.raftTerm > 0);
  assert.equal(m.member.name, 'm1');
  assert.deepEqual(parseManifest(store.objects.get(keys.manifest)!.toString()), m, 'the manifest in the bucket is the one returned');
  const state = decodeStateSnapshot(decodeBackup(object));
  assert.equal(state.point?.revision, m.revision, 'the object is a complete, checksummed backup');
  assert.equal(m.hashKv, (await member.server.hashKv(m.revision)).hash);
});

/** The head of a backup stream (envelope and state head with its point), as a member sends it first. */
const streamHead = ((): Buffer => {
  const json = Buffer.from(JSON.stringify({ membership: { members: [], removed: [] }, alarms: [], point: { revision: 9, compactRevision: 0, raftIndex: 12, raftTerm: 2 } }));
  const envelope = Buffer.alloc(20);
  envelope.write('KVORUMSNAP', 0, 'latin1');
  envelope.writeUInt16BE(1, 10);
  envelope.writeBigUInt64BE(1n << 20n, 12);
  const state = Buffer.alloc(8);
  state.write('KVSS', 0, 'latin1');
  state.writeUInt32BE(json.length, 4);
  return Buffer.concat([envelope, state, json]);
})();

test('a stream that breaks or an upload that fails leaves no manifest and says why', async () => {
  const source = (fail: 'stream' | 'none'): SnapshotSource => ({
    async memberList() {
      return [];
    },
    async status() {
      return status('1', { endpoint: 'm1' });
    },
    snapshot() {
      return new Readable({
        read() {
          if (fail === 'stream') this.destroy(new Error('member went away'));
          else this.push(Buffer.concat([streamHead, Buffer.alloc(64 * 1024)]));
        },
      });
    },
    async hashKv() {
      return { hash: 1, compactRevision: 0, revision: 1 };
    },
  });
  const keys = backupKeys('', 'ns', 'c', 'c-2');
  const broken = memoryStore();
  await assert.rejects(
    takeBackup({ source: source('stream'), endpoints: ['m1'], store: broken, keys, cluster: { name: 'c', namespace: 'ns' }, backupName: 'c-2', startedAt: new Date(), log }),
    (e: unknown) => e instanceof BackupError && e.reason === 'SnapshotFailed' && e.transient && /member went away/.test(e.message),
  );
  assert.equal(broken.objects.has(keys.manifest), false);
  const failing = memoryStore({ failUploadAfterBytes: 1024 });
  await assert.rejects(
    takeBackup({ source: source('none'), endpoints: ['m1'], store: failing, keys, cluster: { name: 'c', namespace: 'ns' }, backupName: 'c-2', startedAt: new Date(), log }),
    (e: unknown) => e instanceof ObjectStoreError && e.reason === 'Unreachable',
  );
  assert.equal(failing.objects.size, 0, 'nothing written');
  await assert.rejects(
    takeBackup({ source: { ...source('none'), status: async () => status('2', { leaderId: '0', endpoint: 'm1' }) }, endpoints: ['m1'], store: failing, keys, cluster: { name: 'c', namespace: 'ns' }, backupName: 'c-2', startedAt: new Date(), log }),
    (e: unknown) => e instanceof BackupError && e.reason === 'NoHealthyMember',
  );
});
