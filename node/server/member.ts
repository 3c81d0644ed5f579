// Starting one member: open (or create) the data dir, bootstrap a brand-new
// cluster's log, restore the state machine from the newest snapshot, and
// start the Raft loop with the given peer transport.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { bootstrapEntries } from '../raft/confchange.js';
import type { Message } from '../raft/types.js';
import { DiskStorage } from '../storage/raft-storage.js';
import { encodeConfContext } from './entry.js';
import { EtcdServer, type ServerHooks, type ServerLimits } from './etcd-server.js';
import { clusterIdFor, memberIdFor } from './ids.js';
import { RaftNode } from './raft-node.js';
import { walWriteHold, withFsyncFailpoint } from '../failpoints.js';
import { syncFileData, syncFileDataHere, type SyncFile } from '../storage/durable-fs.js';
import { adaptiveSync } from '../storage/adaptive-sync.js';

export interface InitialMember {
  name: string;
  peerUrls: string[];
}

export interface MemberConfig {
  name: string;
  dataDir: string;
  /** The founding members (etcd's --initial-cluster). */
  initialCluster: InitialMember[];
  /** 'new' bootstraps a cluster; 'existing' joins one this member was added to. */
  initialClusterState: 'new' | 'existing';
  clusterToken: string;
  advertisePeerUrls: string[];
  advertiseClientUrls: string[];
  tickMs: number;
  electionMs: number;
  snapshotCount: number;
  /** Entries kept after a snapshot for slow followers (etcd's --experimental-snapshot-catchup-entries). */
  snapshotCatchUpEntries?: number;
  /** Snapshot files kept in the data dir. */
  maxSnapshots?: number;
  /** WAL segment size before a new one is cut (64 MiB by default). */
  walSegmentBytes?: number;
  /** Payload bytes of the retained Raft log held in memory before committed ones are left to the WAL (16 MiB by default). */
  logMemoryBytes?: number;
  /**
   * Where WAL fsyncs run: 'adaptive' (the default) on the event loop while
   * they are fast, else in the thread pool (storage/adaptive-sync.ts);
   * 'pool' always in the thread pool.
   */
  walSync?: 'adaptive' | 'pool';
  limits: Omit<ServerLimits, 'electionTimeoutMs'>;
  logger: Logger;
  registry?: Registry;
  hooks?: ServerHooks;
  /** The member stopped for good (see RaftNodeOptions.onFatal). */
  onFatal?: (err: Error) => void;
  /** For a joining member: the cluster and member IDs learned from the cluster. */
  joinIdentity?: { memberId: number; clusterId: number; peers?: { id: number; peerUrls: string[] }[] };
}

export interface PeerLink {
  send(messages: Message[]): void;
  flush?(): void;
  addPeer(id: number, urls: string[]): void;
  removePeer(id: number): void;
  updatePeer?(id: number, urls: string[]): void;
}

export interface RunningMember {
  server: EtcdServer;
  node: RaftNode;
  storage: DiskStorage;
  memberId: number;
  clusterId: number;
  stop(): Promise<void>;
}

/** Member and cluster IDs of a founding member, from --initial-cluster. */
export function foundingIdentity(cfg: Pick<MemberConfig, 'name' | 'initialCluster' | 'clusterToken'>): { memberId: number; clusterId: number; ids: Map<string, number> } {
  const ids = new Map(cfg.initialCluster.map((m) => [m.name, memberIdFor(m.peerUrls, cfg.clusterToken)]));
  const memberId = ids.get(cfg.name);
  if (memberId === undefined) throw new Error(`--initial-cluster has no entry for this member's name "${cfg.name}"`);
  return { memberId, clusterId: clusterIdFor([...ids.values()]), ids };
}

function walSync(cfg: MemberConfig): SyncFile {
  if (cfg.walSync === 'pool') return syncFileData;
  return adaptiveSync({ here: syncFileDataHere, pool: syncFileData }).sync;
}

export async function startMember(cfg: MemberConfig, link: (member: { memberId: number; clusterId: number }) => PeerLink & { onReceive?: (deliver: (m: Message) => void) => void }): Promise<RunningMember> {
  const identity = cfg.initialClusterState === 'new' || !cfg.joinIdentity ? foundingIdentity(cfg) : { ...cfg.joinIdentity, ids: new Map<string, number>() };
  const { memberId, clusterId } = identity;
  const storage = await DiskStorage.open(cfg.dataDir, {
    memberId,
    clusterId,
    logger: cfg.logger,
    ...(cfg.registry && { registry: cfg.registry }),
    ...(cfg.maxSnapshots !== undefined && { snapshotsToKeep: cfg.maxSnapshots }),
    ...(cfg.walSegmentBytes !== undefined && { segmentBytes: cfg.walSegmentBytes }),
    ...(cfg.logMemoryBytes !== undefined && { logMemoryBytes: cfg.logMemoryBytes }),
    // Test builds only (node/failpoints.ts): a disk that stalls or fails.
    syncFile: withFsyncFailpoint(syncFileData),
    walSyncFile: withFsyncFailpoint(walSync(cfg)),
    ...walWriteHold(),
  });
  if (storage.identity.clusterId !== clusterId || storage.identity.memberId !== memberId) {
    // The data dir belongs to a member of some cluster: trust it over the flags.
    cfg.logger.info({ dataDir: cfg.dataDir, member: storage.identity.memberId.toString(16) }, 'using the identity recorded in the data dir');
  }
  const ids = { memberId: storage.identity.memberId, clusterId: storage.identity.clusterId };

  if (storage.created && cfg.initialClusterState === 'new') {
    const founders = cfg.initialCluster.map((m) => ({
      id: identity.ids.get(m.name)!,
      context: encodeConfContext({ id: identity.ids.get(m.name)!, name: m.name, peerUrls: m.peerUrls, isLearner: false }),
    }));
    const entries = bootstrapEntries(founders);
    await storage.save({ term: 1, vote: 0, commit: entries.length }, entries);
    cfg.logger.info({ members: founders.length, cluster: ids.clusterId.toString(16) }, 'bootstrapped a new cluster');
  }

  const peers = link(ids);
  const server = new EtcdServer(
    { memberId: ids.memberId, clusterId: ids.clusterId, name: cfg.name, clientUrls: cfg.advertiseClientUrls, clusterToken: cfg.clusterToken },
    { ...cfg.limits, electionTimeoutMs: cfg.electionMs },
    cfg.logger,
    cfg.hooks,
    peers,
  );
  const snapshot = storage.snapshot();
  server.restoreFrom(snapshot);
  const node = new RaftNode({
    id: ids.memberId,
    storage,
    transport: peers,
    app: server,
    logger: cfg.logger,
    tickMs: cfg.tickMs,
    electionTicks: Math.max(2, Math.round(cfg.electionMs / cfg.tickMs)),
    heartbeatTicks: 1,
    applied: snapshot.meta.index,
    snapshotCount: cfg.snapshotCount,
    ...(cfg.snapshotCatchUpEntries !== undefined && { snapshotCatchUpEntries: cfg.snapshotCatchUpEntries }),
    // Requests waiting on a log that will never move again fail now.
    onFatal: (err) => {
      server.stop();
      cfg.onFatal?.(err);
    },
  });
  server.attach(node);
  // Peers known from the snapshot; those added later by the log are added on apply.
  for (const m of server.membership.list()) if (m.id !== ids.memberId) peers.addPeer(m.id, m.peerUrls);
  // A member joining an existing cluster knows its peers from the join, not yet from its log.
  if (server.membership.list().length === 0) for (const p of cfg.joinIdentity?.peers ?? []) peers.addPeer(p.id, p.peerUrls);
  peers.onReceive?.((m) => node.receive(m));
  node.start();
  return {
    server,
    node,
    storage,
    ...ids,
    async stop() {
      node.stop();
      server.stop();
      await storage.close();
    },
  };
}
