import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { MvccStore } from '../../../node/mvcc/store.js';
import { decodeStateSnapshot, encodeStateSnapshot } from '../../../node/server/state-snapshot.js';
import { startMember, type MemberConfig, type RunningMember } from '../../../node/server/member.js';
import { Membership } from '../../../node/server/membership.js';
import { DiskStorage } from '../../../node/storage/raft-storage.js';
import { BackupFileError, writeBackupFile } from '../../../node/backup/backup-file.js';
import { RestoreError, restoreSnapshot, type RestoreOptions } from '../../../node/backup/restore.js';

const root = mkdtempSync(join(tmpdir(), 'kvorum-restore-'));
after(() => rmSync(root, { recursive: true, force: true }));

const enc = new TextEncoder();
const dec = new TextDecoder();
const silent = pino({ level: 'silent' });

let fileCounter = 0;

/** A snapshot of a source cluster: some keys, an old member table and an alarm, at a large Raft index. */
async function sourceSnapshot(): Promise<{ path: string; revision: number }> {
  const store = new MvccStore();
  // Raft indexes far beyond the restored cluster's: the restore must not keep them.
  store.apply(1000, { put: { key: enc.encode('/app/a'), value: enc.encode('alpha') } });
  store.apply(1001, { put: { key: enc.encode('/app/b'), value: enc.encode('beta') } });
  store.apply(1002, { put: { key: enc.encode('/app/a'), value: enc.encode('alpha-2') } });
  store.apply(1003, { put: { key: enc.encode('/gone'), value: enc.encode('x') } });
  store.apply(1004, { deleteRange: { key: enc.encode('/gone') } });
  const oldMembers = new Membership();
  oldMembers.add({ id: 77, name: 'old', peerUrls: ['http://old:2380'], clientUrls: ['http://old:2379'], isLearner: false });
  const path = join(root, `source-${++fileCounter}.snap`);
  await writeBackupFile(path, encodeStateSnapshot(store, { membership: oldMembers.toJSON(), alarms: ['77:NOSPACE'] }));
  return { path, revision: store.revision };
}

function cluster(names: string[]): { name: string; peerUrls: string[] }[] {
  return names.map((n) => ({ name: n, peerUrls: [`http://${n}:2380`] }));
}

function restoreOptions(snapshotPath: string, dataDir: string, name: string, names: string[]): RestoreOptions {
  return {
    snapshotPath,
    dataDir,
    name,
    initialCluster: cluster(names),
    initialClusterToken: 'restored',
    initialAdvertisePeerUrls: [`http://${name}:2380`],
    logger: silent,
  };
}

function memberConfig(dataDir: string, name: string, names: string[]): MemberConfig {
  return {
    name,
    dataDir,
    initialCluster: cluster(names),
    initialClusterState: 'new',
    clusterToken: 'restored',
    advertisePeerUrls: [`http://${name}:2380`],
    advertiseClientUrls: [`http://${name}:2379`],
    tickMs: 10,
    electionMs: 100,
    snapshotCount: 10000,
    limits: { quotaBytes: 64 * 1024 * 1024, requestTimeoutMs: 3000, maxTxnOps: 128 },
    logger: silent,
  };
}

async function waitForLeader(member: RunningMember, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!member.node.isLeader) {
    if (Date.now() > deadline) throw new Error('no leader within the timeout');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function rangeAll(member: RunningMember): Promise<Map<string, string>> {
  const res = await member.server.range({ key: enc.encode('\0'), rangeEnd: enc.encode('\0') });
  return new Map(res.kvs.map((kv) => [dec.decode(kv.key), dec.decode(kv.value)]));
}

describe('restoreSnapshot', () => {
  it('restores into an empty dir, and a started member serves the restored data and takes new writes', async () => {
    const { path, revision } = await sourceSnapshot();
    const dataDir = join(root, 'single');
    const result = await restoreSnapshot(restoreOptions(path, dataDir, 'r1', ['r1']));
    assert.equal(result.revision, revision);
    assert.deepEqual(readdirSync(dataDir).sort(), ['meta.json', 'snap', 'wal']);

    // The data dir holds the restored state as a snapshot at index 1, term 1.
    const storage = await DiskStorage.open(dataDir, { memberId: 1, clusterId: 1, logger: silent });
    try {
      assert.equal(storage.created, false);
      assert.deepEqual(storage.identity, { memberId: result.memberId, clusterId: result.clusterId });
      const snap = storage.snapshot();
      assert.equal(snap.meta.index, 1);
      assert.equal(snap.meta.term, 1);
      assert.deepEqual(snap.meta.conf, { voters: [result.memberId], learners: [] });
      assert.deepEqual(storage.initialState().hardState, { term: 1, vote: 0, commit: 1 });
      const payload = decodeStateSnapshot(snap.data);
      assert.deepEqual(payload.alarms, []);
      assert.deepEqual(
        payload.membership.members.map((m) => [m.id, m.name, m.peerUrls]),
        [[result.memberId, 'r1', ['http://r1:2380']]],
      );
      assert.deepEqual(payload.membership.removed, []);
      assert.equal(MvccStore.restore(payload.mvcc).appliedIndex, 1);
    } finally {
      await storage.close();
    }

    const member = await startMember(memberConfig(dataDir, 'r1', ['r1']), () => ({ send() {}, addPeer() {}, removePeer() {} }));
    try {
      assert.equal(member.storage.created, false);
      assert.equal(member.memberId, result.memberId);
      assert.equal(member.clusterId, result.clusterId);
      await waitForLeader(member);
      const kvs = await rangeAll(member);
      assert.deepEqual(
        [...kvs.entries()],
        [
          ['/app/a', 'alpha-2'],
          ['/app/b', 'beta'],
        ],
      );
      // Revisions carry over, and new writes continue from them.
      const a = await member.server.range({ key: enc.encode('/app/a') });
      assert.equal(a.kvs[0]!.modRevision, 4);
      assert.equal(a.kvs[0]!.version, 2);
      const put = await member.server.put({ key: enc.encode('/app/c'), value: enc.encode('gamma') });
      assert.equal(put.header.revision, revision + 1);
      assert.equal((await rangeAll(member)).get('/app/c'), 'gamma');
      assert.deepEqual(
        member.server.membership.list().map((m) => m.id),
        [result.memberId],
      );
      assert.deepEqual(member.server.alarmList(), []);
    } finally {
      await member.stop();
    }

    // After a restart the member still has everything, including the new write.
    const again = await startMember(memberConfig(dataDir, 'r1', ['r1']), () => ({ send() {}, addPeer() {}, removePeer() {} }));
    try {
      await waitForLeader(again);
      const kvs = await rangeAll(again);
      assert.equal(kvs.get('/app/a'), 'alpha-2');
      assert.equal(kvs.get('/app/c'), 'gamma');
    } finally {
      await again.stop();
    }
  });

  it('refuses a non-empty data dir and leaves it untouched', async () => {
    const { path } = await sourceSnapshot();
    const dataDir = join(root, 'busy');
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, 'precious.txt'), 'keep me');
    await assert.rejects(restoreSnapshot(restoreOptions(path, dataDir, 'r1', ['r1'])), (err: unknown) => {
      assert.ok(err instanceof RestoreError);
      assert.match(err.message, /data dir .*busy is not empty \(it has precious.txt\)/);
      return true;
    });
    assert.deepEqual(readdirSync(dataDir), ['precious.txt']);
    assert.equal(readFileSync(join(dataDir, 'precious.txt'), 'utf8'), 'keep me');
  });

  it('refuses to restore over an existing member data dir', async () => {
    const { path } = await sourceSnapshot();
    const dataDir = join(root, 'twice');
    await restoreSnapshot(restoreOptions(path, dataDir, 'r1', ['r1']));
    await assert.rejects(restoreSnapshot(restoreOptions(path, dataDir, 'r1', ['r1'])), /is not empty/);
  });

  it('accepts an empty existing dir and a fresh volume with lost+found', async () => {
    const { path } = await sourceSnapshot();
    const dataDir = join(root, 'volume');
    mkdirSync(join(dataDir, 'lost+found'), { recursive: true });
    await restoreSnapshot(restoreOptions(path, dataDir, 'r1', ['r1']));
    assert.deepEqual(readdirSync(dataDir).sort(), ['lost+found', 'meta.json', 'snap', 'wal']);
  });

  it('refuses a corrupt snapshot file without creating the data dir contents', async () => {
    const { path } = await sourceSnapshot();
    const bytes = readFileSync(path);
    bytes[30] ^= 0xff;
    writeFileSync(path, bytes);
    const dataDir = join(root, 'corrupt');
    await assert.rejects(restoreSnapshot(restoreOptions(path, dataDir, 'r1', ['r1'])), (err: unknown) => {
      assert.ok(err instanceof BackupFileError);
      assert.match(err.message, /is corrupt: checksum mismatch/);
      return true;
    });
    assert.equal(existsSync(join(dataDir, 'wal')), false);
  });

  it('restores a file whose checksum is wrong when told to skip the check', async () => {
    const { path } = await sourceSnapshot();
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] ^= 0xff; // only the checksum is damaged
    writeFileSync(path, bytes);
    const dataDir = join(root, 'skip-hash');
    const result = await restoreSnapshot({ ...restoreOptions(path, dataDir, 'r1', ['r1']), skipHashCheck: true });
    assert.equal(result.revision, 6);
  });

  it('checks that this member is in the initial cluster with its own peer URLs', async () => {
    const { path } = await sourceSnapshot();
    await assert.rejects(restoreSnapshot(restoreOptions(path, join(root, 'who'), 'r9', ['r1', 'r2'])), /no member named "r9"/);
    await assert.rejects(
      restoreSnapshot({ ...restoreOptions(path, join(root, 'urls'), 'r1', ['r1']), initialAdvertisePeerUrls: ['http://elsewhere:2380'] }),
      /gives "r1" the peer URLs http:\/\/r1:2380, but its advertised peer URLs are http:\/\/elsewhere:2380/,
    );
  });

  it('gives every member of a 3-member restore the same cluster ID and state, and distinct member IDs', async () => {
    const { path, revision } = await sourceSnapshot();
    const names = ['n1', 'n2', 'n3'];
    const results = [];
    for (const name of names) results.push(await restoreSnapshot(restoreOptions(path, join(root, `three-${name}`), name, names)));
    assert.equal(new Set(results.map((r) => r.clusterId)).size, 1);
    assert.equal(new Set(results.map((r) => r.memberId)).size, 3);
    for (const r of results) assert.equal(r.revision, revision);

    const snapshots = [];
    for (const [i, name] of names.entries()) {
      const storage = await DiskStorage.open(join(root, `three-${name}`), { memberId: 1, clusterId: 1, logger: silent });
      try {
        assert.deepEqual(storage.identity, { memberId: results[i]!.memberId, clusterId: results[i]!.clusterId });
        snapshots.push(storage.snapshot());
        assert.deepEqual(storage.initialState().hardState, { term: 1, vote: 0, commit: 3 });
      } finally {
        await storage.close();
      }
    }
    const voters = results.map((r) => r.memberId).sort((a, b) => a - b);
    for (const s of snapshots) {
      assert.equal(s.meta.index, 3);
      assert.equal(s.meta.term, 1);
      assert.deepEqual(s.meta.conf, { voters, learners: [] });
      assert.deepEqual(s.data, snapshots[0]!.data);
    }
    const members = decodeStateSnapshot(snapshots[0]!.data).membership.members;
    assert.deepEqual(members.map((m) => m.id), voters);
    assert.deepEqual(members.map((m) => m.name).sort(), names);
  });

  it('lets a restored 3-member cluster elect a leader and serve the data on every member', async () => {
    const { path } = await sourceSnapshot();
    const names = ['k1', 'k2', 'k3'];
    for (const name of names) await restoreSnapshot(restoreOptions(path, join(root, `live-${name}`), name, names));
    const inboxes = new Map<number, (m: import('../../../node/raft/types.js').Message) => void>();
    const members: RunningMember[] = [];
    try {
      for (const name of names) {
        members.push(
          await startMember(memberConfig(join(root, `live-${name}`), name, names), ({ memberId }) => ({
            send: (messages) => {
              for (const m of messages) setImmediate(() => inboxes.get(m.to)?.(structuredClone(m)));
            },
            addPeer() {},
            removePeer() {},
            onReceive: (deliver) => inboxes.set(memberId, deliver),
          })),
        );
      }
      const deadline = Date.now() + 5000;
      let leader: RunningMember | undefined;
      while (!(leader = members.find((m) => m.node.isLeader))) {
        if (Date.now() > deadline) throw new Error('no leader within 5s');
        await new Promise((r) => setTimeout(r, 10));
      }
      await leader.server.put({ key: enc.encode('/after'), value: enc.encode('restore') });
      for (const m of members) {
        const kvs = await rangeAll(m);
        assert.equal(kvs.get('/app/a'), 'alpha-2');
        assert.equal(kvs.get('/app/b'), 'beta');
        assert.equal(kvs.get('/after'), 'restore');
      }
    } finally {
      for (const m of members) await m.stop();
    }
  });
});
