import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createNodeMetrics } from '../../../node/api/metrics.js';
import { Role } from '../../../node/raft/raft.js';
import { MvccStore } from '../../../node/mvcc/store.js';
import type { EtcdServer } from '../../../node/server/etcd-server.js';
import { DiskStorage } from '../../../node/storage/raft-storage.js';
import { EntryType } from '../../../node/raft/types.js';
import { silentLogger, withTempDir } from '../storage/helpers.js';

async function value(metrics: ReturnType<typeof createNodeMetrics>, name: string): Promise<number> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  assert.ok(m, `${name} is registered`);
  return (m.values[0]?.value as number | undefined) ?? 0;
}

test('etcd_server_leader_changes_seen_total counts as etcd: every leader seen after another one or after none', async () => {
  const metrics = createNodeMetrics({ defaultMetrics: false });
  const seen = async (lead: number): Promise<number> => {
    metrics.hooks.onLeaderChange!({ lead, role: Role.Follower });
    return value(metrics, 'etcd_server_leader_changes_seen_total');
  };
  assert.equal(await seen(0), 0, 'no leader yet');
  assert.equal(await seen(1), 1, 'the first leader');
  assert.equal(await seen(1), 1, 'the same leader, no gap: no change');
  assert.equal(await seen(2), 2, 'another leader');
  assert.equal(await seen(0), 2, 'losing the leader is not a change by itself');
  assert.equal(await value(metrics, 'etcd_server_has_leader'), 0);
  assert.equal(await seen(2), 3, 'the same member leading again after a time without a leader');
  assert.equal(await value(metrics, 'etcd_server_has_leader'), 1);
});

test('etcd_server_proposals_failed_total and _committed_total follow the server hooks', async () => {
  const metrics = createNodeMetrics({ defaultMetrics: false });
  metrics.hooks.onProposalCommitted!();
  metrics.hooks.onProposalFailed!();
  metrics.hooks.onProposalFailed!();
  assert.equal(await value(metrics, 'etcd_server_proposals_committed_total'), 1);
  assert.equal(await value(metrics, 'etcd_server_proposals_failed_total'), 2);
});

test('kvorum_mvcc_value_bytes reports the values stored and the slabs that hold them', async () => {
  const metrics = createNodeMetrics({ defaultMetrics: false });
  const store = new MvccStore();
  metrics.bind({ store, identity: { memberId: 1n } } as unknown as EtcdServer);
  for (let i = 1; i <= 1000; i++) store.apply(i, { put: { key: Buffer.from(`k${i}`), value: new Uint8Array(100).fill(1) } });
  const series = (await metrics.registry.getSingleMetric('kvorum_mvcc_value_bytes')!.get()).values;
  const of = (state: string) => series.find((v) => v.labels.state === state)?.value;
  assert.equal(of('live'), 100_000);
  // 100-byte values take 104-byte slots (a 4-byte length first), in whole 64 KiB slabs.
  assert.equal(of('held'), Math.ceil((1000 * 104) / (64 * 1024)) * 64 * 1024);
});

test('kvorum_raft_log_entries and _bytes follow the retained log through saves and compaction', async () => {
  await withTempDir(async (dir) => {
    const metrics = createNodeMetrics({ defaultMetrics: false });
    const storage = await DiskStorage.open(dir, { memberId: 1, clusterId: 1, logger: silentLogger });
    metrics.bind({ store: new MvccStore(), identity: { memberId: 1n } } as unknown as EtcdServer, storage);
    const gauge = async (name: string): Promise<number | undefined> => (await metrics.registry.getSingleMetric(name)!.get()).values[0]?.value;
    const made = Array.from({ length: 1000 }, (_, k) => ({ term: 1, index: k + 1, type: EntryType.Normal, data: new Uint8Array(300).fill(k & 0xff) }));
    await storage.save({ term: 1, vote: 1, commit: 0 }, made);
    assert.equal(await gauge('kvorum_raft_log_entries'), 1000);
    // 300,000 bytes of payload in 256 KiB chunks: two of them.
    assert.equal(await gauge('kvorum_raft_log_bytes'), 2 * 256 * 1024);
    await storage.saveSnapshot({ meta: { index: 1000, term: 1, conf: { voters: [1], learners: [] } }, data: new Uint8Array([1]) });
    await storage.compact(1000);
    assert.equal(await gauge('kvorum_raft_log_entries'), 0);
    assert.equal(await gauge('kvorum_raft_log_bytes'), 0);
    await storage.close();
  });
});
