// Prometheus metrics under etcd's names, so existing etcd dashboards and
// alert rules work unchanged. One registry per member (tests run several
// members in one process).
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { EtcdServer } from '../server/etcd-server.js';
import type { ServerHooks } from '../server/etcd-server.js';
import { Role } from '../raft/raft.js';
import { createBackendMetrics } from './backend-metrics.js';
import type { DiskStorage } from '../storage/raft-storage.js';
import { MAX_ENTRY_FORMAT } from '../server/entry-format.js';
import { ETCD_API_VERSION, KVORUM_VERSION } from '../../contract/version.js';

export interface NodeMetrics {
  registry: Registry;
  hooks: ServerHooks;
  /** Starts reading gauges from the server (and the retained Raft log, when given) at scrape time. */
  bind(server: EtcdServer, log?: RetainedLogSource): void;
}

/** Where the retained Raft log's gauges read from. */
export type RetainedLogSource = Pick<DiskStorage, 'retainedLog'>;

export function createNodeMetrics(options: { defaultMetrics?: boolean } = {}): NodeMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  let server: EtcdServer | undefined;

  const hasLeader = new Gauge({ name: 'etcd_server_has_leader', help: 'Whether or not a leader exists. 1 is existence, 0 is not.', registers: [registry] });
  const isLeader = new Gauge({ name: 'etcd_server_is_leader', help: 'Whether or not this member is a leader. 1 if is, 0 otherwise.', registers: [registry] });
  const isLearner = new Gauge({ name: 'etcd_server_is_learner', help: 'Whether or not this member is a learner. 1 if is, 0 otherwise.', registers: [registry] });
  const leaderChanges = new Counter({ name: 'etcd_server_leader_changes_seen_total', help: 'The number of leader changes seen.', registers: [registry] });
  const committed = new Counter({ name: 'etcd_server_proposals_committed_total', help: 'The total number of consensus proposals committed.', registers: [registry] });
  const failed = new Counter({ name: 'etcd_server_proposals_failed_total', help: 'The total number of failed proposals seen.', registers: [registry] });
  new Gauge({
    name: 'etcd_server_proposals_applied_total',
    help: 'The total number of consensus proposals applied.',
    registers: [registry],
    collect() {
      if (server?.node) this.set(server.node.applied);
    },
  });
  new Gauge({
    name: 'etcd_mvcc_db_total_size_in_bytes',
    help: 'Total size of the underlying database physically allocated in bytes.',
    registers: [registry],
    collect() {
      if (server) this.set(server.store.sizeBytes);
    },
  });
  new Gauge({
    name: 'etcd_mvcc_db_total_size_in_use_in_bytes',
    help: 'Total size of the underlying database logically in use in bytes.',
    registers: [registry],
    collect() {
      if (server) this.set(server.store.sizeBytes);
    },
  });
  new Gauge({
    name: 'kvorum_mvcc_value_bytes',
    help: 'Bytes of the stored values (state="live") and of the slabs and buffers holding them outside the V8 heap (state="held").',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      if (!server) return;
      const { live, held } = server.store.valueBytes;
      this.set({ state: 'live' }, live);
      this.set({ state: 'held' }, held);
    },
  });
  let log: RetainedLogSource | undefined;
  new Gauge({
    name: 'kvorum_raft_log_entries',
    help: 'Raft entries this member holds in memory: those since its last snapshot and the ones kept for slow followers.',
    registers: [registry],
    collect() {
      if (log) this.set(log.retainedLog().entries);
    },
  });
  new Gauge({
    name: 'kvorum_raft_log_bytes',
    help: 'Bytes of the buffers that hold those entries\' payloads, outside the V8 heap.',
    registers: [registry],
    collect() {
      if (log) this.set(log.retainedLog().bytes);
    },
  });
  new Gauge({
    name: 'etcd_debugging_mvcc_keys_total',
    help: 'Total number of keys.',
    registers: [registry],
    collect() {
      if (server) this.set(server.store.keyCount);
    },
  });
  new Gauge({
    name: 'etcd_debugging_mvcc_watcher_total',
    help: 'Total number of watchers.',
    registers: [registry],
    collect() {
      if (server) this.set(server.watchHub.size);
    },
  });
  new Gauge({
    name: 'kvorum_cluster_entry_format',
    help: 'The Raft entry format the cluster writes (raised once every member reads the newer one; like etcd_cluster_version).',
    registers: [registry],
    collect() {
      if (server) this.set(server.membership.entryFormat);
    },
  });
  new Gauge({
    name: 'kvorum_member_max_entry_format',
    help: 'The highest Raft entry format this member reads (what it publishes to the cluster).',
    registers: [registry],
  }).set(MAX_ENTRY_FORMAT);
  const serverId = new Gauge({ name: 'etcd_server_id', help: 'Server or member ID in hexadecimal format. 1 for current member.', labelNames: ['server_id'], registers: [registry] });

  const backend = createBackendMetrics(registry, () => server?.limits.quotaBytes);
  // Which release this member runs (1 for the running one), as Prometheus' *_build_info convention.
  new Gauge({
    name: 'kvorum_build_info',
    help: 'Which Kvorum release the member runs: version and the etcd API version. Always 1.',
    labelNames: ['version', 'etcd_api_version'],
    registers: [registry],
  }).set({ version: KVORUM_VERSION, etcd_api_version: ETCD_API_VERSION }, 1);

  // The leader as of the last change this member saw, none (0) included: as
  // etcd counts, a leader seen after a time without one is a change, even
  // when it is the same member again (an election it won once more).
  let lastLeader = 0;
  const hooks: ServerHooks = {
    onLeaderChange(soft) {
      hasLeader.set(soft.lead !== 0 ? 1 : 0);
      isLeader.set(soft.role === Role.Leader ? 1 : 0);
      if (soft.lead !== 0 && soft.lead !== lastLeader) leaderChanges.inc();
      lastLeader = soft.lead;
    },
    onProposalCommitted: () => committed.inc(),
    onProposalFailed: () => failed.inc(),
    onApplied: (seconds) => backend.observeCommit(seconds),
    onMembershipChange(members) {
      if (!server) return;
      isLearner.set(members.find((m) => m.id === server!.identity.memberId)?.isLearner ? 1 : 0);
    },
  };
  hasLeader.set(0);
  isLeader.set(0);
  isLearner.set(0);
  return {
    registry,
    hooks,
    bind(s, retained) {
      server = s;
      log = retained;
      serverId.set({ server_id: s.identity.memberId.toString(16) }, 1);
    },
  };
}
