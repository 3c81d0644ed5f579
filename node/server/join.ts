// A member started with --initial-cluster-state=existing was added to a
// running cluster with MemberAdd, which chose its ID. Before its first start
// it asks the other members (at the peer URLs of --initial-cluster) for the
// cluster ID and the member list, and finds its own entry by its peer URLs.
// On later starts its data dir already records the identity.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { InitialMember } from './member.js';

export interface MembersDocument {
  memberId: string;
  clusterId: string;
  members?: { id: string; name: string; peerUrls: string[]; isLearner: boolean }[];
}

export async function discoverJoinIdentity(
  dataDir: string,
  initialCluster: InitialMember[],
  ownPeerUrls: string[],
  _tls: unknown,
  logger: Logger,
  timeoutMs = 60_000,
): Promise<{ memberId: number; clusterId: number; peers: { id: number; peerUrls: string[] }[] } | undefined> {
  if (existsSync(join(dataDir, 'meta.json'))) return undefined;
  const own = new Set(ownPeerUrls.map(normalise));
  const candidates = initialCluster.flatMap((m) => m.peerUrls).filter((u) => !own.has(normalise(u)));
  if (candidates.length === 0) throw new Error('--initial-cluster-state=existing needs at least one other member in --initial-cluster');
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    for (const url of candidates) {
      try {
        const res = await fetch(`${url.replace(/\/+$/, '')}/members`, { signal: AbortSignal.timeout(2000) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const doc = (await res.json()) as MembersDocument;
        const self = doc.members?.find((m) => m.peerUrls.some((u) => own.has(normalise(u))));
        if (!self) {
          lastError = `${url} does not list a member with peer URLs ${ownPeerUrls.join(',')}: add it first (etcdctl member add)`;
          continue;
        }
        // The other members are our peers from the start: the leader's first
        // appends must be answerable before our log tells us who is who.
        const peers = (doc.members ?? []).filter((m) => m !== self).map((m) => ({ id: parseInt(m.id, 16), peerUrls: m.peerUrls }));
        const identity = { memberId: parseInt(self.id, 16), clusterId: parseInt(doc.clusterId, 16), peers };
        logger.info({ member: self.id, cluster: doc.clusterId, via: url }, 'joining an existing cluster');
        return identity;
      } catch (err) {
        lastError = `${url}: ${(err as Error).message}`;
      }
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`cannot join the existing cluster: ${lastError}`);
}

function normalise(url: string): string {
  return url.replace(/\/+$/, '').toLowerCase();
}
