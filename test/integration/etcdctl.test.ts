// A 3-member Kvorum cluster of real processes on loopback, driven by Debian's
// etcdctl (3.4 from Debian, or 3.5 built from Go): a client we did not write.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { backupStatus } from '../../node/backup/backup-file.js';
import { ProcessCluster, requireTools } from './process-cluster.js';

describe('etcdctl against a 3-member Kvorum cluster', () => {
  // npm test provides them (scripts/etcd-tools.sh); a run without them fails rather than skips.
  before(() => requireTools('etcdctl'));
  let c: ProcessCluster;
  before(async () => {
    c = await ProcessCluster.create('kvorum', 3);
    await c.startAll();
  });
  after(() => c?.destroy());

  test('put, get with prefix, limit, keys-only, revision; delete', () => {
    assert.equal(c.ctl(['put', 'foo', 'bar']).trim(), 'OK');
    c.ctl(['put', 'foo2', 'bar2']);
    c.ctl(['put', 'fop', 'x']);
    assert.equal(c.ctl(['get', 'foo']), 'foo\nbar\n');
    assert.equal(c.ctl(['get', 'foo', '--prefix']), 'foo\nbar\nfoo2\nbar2\n');
    assert.equal(c.ctl(['get', 'fo', '--prefix', '--limit=1']), 'foo\nbar\n');
    assert.equal(c.ctl(['get', 'fo', '--prefix', '--keys-only']), 'foo\n\nfoo2\n\nfop\n\n');
    const rev = JSON.parse(c.ctl(['get', 'foo', '-w', 'json'])) as { kvs: { mod_revision: number }[] };
    const modRev = rev.kvs[0]!.mod_revision;
    c.ctl(['put', 'foo', 'changed']);
    assert.equal(c.ctl(['get', 'foo', `--rev=${modRev}`]), 'foo\nbar\n', 'a historical read sees the old value');
    assert.equal(c.ctl(['del', 'fo', '--prefix']).trim(), '3');
    assert.equal(c.ctl(['get', 'fo', '--prefix']), '');
  });

  test('txn: compare and swap, both branches', () => {
    c.ctl(['put', 'tkey', 'v1']);
    const ok = c.ctl(['txn'], { input: 'value("tkey") = "v1"\n\nput tkey v2\n\nput tkey failed\n\n' });
    assert.equal(ok, 'SUCCESS\n\nOK\n');
    const no = c.ctl(['txn'], { input: 'value("tkey") = "v1"\n\nput tkey v3\n\nget tkey\n\n' });
    assert.equal(no, 'FAILURE\n\ntkey\nv2\n');
  });

  test('watch from history replays past events', () => {
    const first = JSON.parse(c.ctl(['put', 'wkey', 'a', '-w', 'json'])) as { header: { revision: number } };
    c.ctl(['put', 'wkey', 'b']);
    c.ctl(['del', 'wkey']);
    const r = c.etcdctl(['watch', 'wkey', `--rev=${first.header.revision}`], { timeoutMs: 3000 });
    assert.match(r.stdout, /^PUT\nwkey\na\nPUT\nwkey\nb\nDELETE\nwkey\n/);
  });

  test('leases: grant, attach, keep-alive once, time-to-live with keys, revoke', () => {
    const grant = c.ctl(['lease', 'grant', '60']);
    const id = /lease ([0-9a-f]+) granted with TTL\(60s\)/.exec(grant)?.[1];
    assert.ok(id, grant);
    c.ctl(['put', 'lkey', 'v', `--lease=${id}`]);
    assert.match(c.ctl(['lease', 'keep-alive', '--once', id]), new RegExp(`lease ${id} keepalived with TTL\\(60\\)`));
    assert.match(c.ctl(['lease', 'timetolive', id, '--keys']), new RegExp(`lease ${id} granted with TTL\\(60s\\), remaining\\(\\d+s\\), attached keys\\(\\[lkey\\]\\)`));
    assert.match(c.ctl(['lease', 'list']), new RegExp(id));
    assert.match(c.ctl(['lease', 'revoke', id]), new RegExp(`lease ${id} revoked`));
    assert.equal(c.ctl(['get', 'lkey']), '');
  });

  test('compaction makes old revisions unreadable with etcd’s error', () => {
    const put = JSON.parse(c.ctl(['put', 'ckey', '1', '-w', 'json'])) as { header: { revision: number } };
    c.ctl(['put', 'ckey', '2']);
    assert.match(c.ctl(['compaction', String(put.header.revision + 1)]), /compacted revision/);
    const r = c.etcdctl(['get', 'ckey', `--rev=${put.header.revision}`]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /required revision has been compacted/);
  });

  test('endpoint status and health, member list', () => {
    // etcdctl 3.4 prints health results on stderr; both streams are read.
    const h = c.etcdctl(['endpoint', 'health']);
    assert.equal(h.status, 0, h.stderr);
    const health = h.stdout + h.stderr;
    assert.equal((health.match(/is healthy/g) ?? []).length, 3, health);
    const status = JSON.parse(c.ctl(['endpoint', 'status', '-w', 'json'])) as { Status: { leader: number; raftTerm: number } }[];
    assert.equal(status.length, 3);
    assert.equal(new Set(status.map((s) => s.Status.leader)).size, 1, 'all agree on the leader');
    const members = c.ctl(['member', 'list']).trim().split('\n');
    assert.equal(members.length, 3);
    for (const m of c.members) assert.ok(members.some((line) => line.includes(m.name) && line.includes(m.peerUrl) && line.includes(m.clientUrl)), members.join('\n'));
  });

  test('move-leader hands leadership to a named member', async () => {
    const leader = await c.leader();
    const target = c.members.find((m) => m !== leader)!;
    const status = JSON.parse(c.ctl(['endpoint', 'status', '-w', 'json'], { endpoints: target.clientUrl })) as { Status: { header: { member_id: number } } }[];
    const targetId = BigInt(status[0]!.Status.header.member_id).toString(16);
    assert.match(c.ctl(['move-leader', targetId], { endpoints: leader.clientUrl }), /Leadership transferred/);
    assert.equal((await c.leader()).name, target.name);
  });

  test('snapshot save writes the state to a file', async () => {
    const file = join(c.root, 'snap.db');
    assert.match(c.ctl(['snapshot', 'save', file], { endpoints: c.members[0]!.clientUrl }), /Snapshot saved at/);
    assert.ok(statSync(file).size > 0);
    assert.ok(readFileSync(file).subarray(0, 10).toString() === 'KVORUMSNAP', 'the file is in Kvorum’s snapshot format');
    const status = await backupStatus(file);
    assert.ok(status.revision > 1 && status.totalKeys > 0, 'the streamed file checks out (length, SHA-256) and decodes');
  });

  test('defrag snapshots each member', () => {
    assert.match(c.ctl(['defrag'], { endpoints: c.members[0]!.clientUrl }), /Finished defragmenting etcd member/);
  });

  test('member add as learner, promote refused while it is absent, remove', () => {
    const add = c.ctl(['member', 'add', 'm4', '--peer-urls=http://127.0.0.1:1', '--learner']);
    const id = /Member\s+([0-9a-f]+) added to cluster/.exec(add)?.[1];
    assert.ok(id, add);
    assert.match(c.ctl(['member', 'list']), new RegExp(`${id}, unstarted, , http://127.0.0.1:1, , true`));
    const promote = c.etcdctl(['member', 'promote', id]);
    assert.notEqual(promote.status, 0);
    assert.match(promote.stderr, /can only promote a learner member which is in sync with leader/);
    assert.match(c.ctl(['member', 'remove', id]), new RegExp(`Member\\s+${id} removed from cluster`));
    assert.equal(c.ctl(['member', 'list']).trim().split('\n').length, 3);
  });

  test('bad input gets clear errors and changes nothing', () => {
    const big = c.etcdctl(['put', 'big', 'x'.repeat(1024)], {});
    assert.equal(big.status, 0);
    const bad = c.etcdctl(['get', 'k', '--rev=99999999']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /required revision is a future revision/);
    const lease = c.etcdctl(['put', 'k', 'v', '--lease=abc123']);
    assert.notEqual(lease.status, 0);
    assert.match(lease.stderr, /requested lease not found/);
    assert.equal(c.ctl(['get', 'k']), '');
  });
});
