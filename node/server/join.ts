// A member started with --initial-cluster-state=existing was added to a
// running cluster with MemberAdd, which chose its ID. Before its first start
// it asks the other members (at the peer URLs of --initial-cluster) for the
// cluster ID and the member list, and finds its own entry by its peer URLs.
// On later starts its data dir already records the identity.
//
// Safety: an entry that already has a name belongs to a member that has run
// before (founding members carry their name from the start). Taking over its
// ID with an empty data dir would make a voter forget entries and votes it
// acknowledged, which breaks Raft's guarantees; such a start is refused. The
// way out is to remove the member and add it again (the operator does this).
import { existsSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { TlsConfig } from '../config.js';
import { clientTlsOptions, peerTlsFromFiles, type PeerTlsOptions } from '../transport/tls.js';
import type { InitialMember } from './member.js';
import { JOIN_REFUSAL_TEXT, JOIN_REFUSED_EXIT_CODE, type MembersDocument } from '../../contract/join.js';

export { JOIN_REFUSAL_TEXT, JOIN_REFUSED_EXIT_CODE, type MembersDocument } from '../../contract/join.js';

export class JoinRefusedError extends Error {
  readonly exitCode = JOIN_REFUSED_EXIT_CODE;
  constructor(readonly memberId: string) {
    super(`member ${memberId} ${JOIN_REFUSAL_TEXT}; remove and re-add it (etcdctl member remove ${memberId}, then member add)`);
    this.name = 'JoinRefusedError';
  }
}

export async function discoverJoinIdentity(
  dataDir: string,
  initialCluster: InitialMember[],
  ownPeerUrls: string[],
  peerTls: TlsConfig | undefined,
  logger: Logger,
  timeoutMs = 60_000,
): Promise<{ memberId: number; clusterId: number; peers: { id: number; peerUrls: string[] }[] } | undefined> {
  if (existsSync(join(dataDir, 'meta.json'))) return undefined;
  const own = new Set(ownPeerUrls.map(normalise));
  const candidates = initialCluster.flatMap((m) => m.peerUrls).filter((u) => !own.has(normalise(u)));
  if (candidates.length === 0) throw new Error('--initial-cluster-state=existing needs at least one other member in --initial-cluster');
  const tls = peerTls ? peerTlsFromFiles(peerTls) : undefined;
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    for (const url of candidates) {
      try {
        const doc = (await getJson(`${url.replace(/\/+$/, '')}/members`, tls, 2000)) as MembersDocument;
        const self = doc.members?.find((m) => m.peerUrls.some((u) => own.has(normalise(u))));
        if (!self) {
          lastError = `${url} does not list a member with peer URLs ${ownPeerUrls.join(',')}: add it first (etcdctl member add)`;
          continue;
        }
        if (self.name !== '') {
          const refusal = new JoinRefusedError(self.id);
          logger.error({ member: self.id, name: self.name, via: url }, refusal.message);
          writeTerminationMessage(refusal.message);
          throw refusal;
        }
        // The other members are our peers from the start: the leader's first
        // appends must be answerable before our log tells us who is who.
        const peers = (doc.members ?? []).filter((m) => m !== self).map((m) => ({ id: parseInt(m.id, 16), peerUrls: m.peerUrls }));
        const identity = { memberId: parseInt(self.id, 16), clusterId: parseInt(doc.clusterId, 16), peers };
        logger.info({ member: self.id, cluster: doc.clusterId, via: url }, 'joining an existing cluster');
        return identity;
      } catch (err) {
        if (err instanceof JoinRefusedError) throw err;
        lastError = `${url}: ${(err as Error).message}`;
      }
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`cannot join the existing cluster: ${lastError}`);
}

/** GET a JSON document over http or https (with the peer certificate and CA when given). */
function getJson(url: string, tls: PeerTlsOptions | undefined, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const options = { method: 'GET', timeout: timeoutMs, headers: { accept: 'application/json' } };
    const req = target.protocol === 'https:' ? httpsRequest(target, { ...options, ...clientTlsOptions(tls) }) : httpRequest(target, options);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}`));
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (err) {
          reject(new Error(`bad /members document: ${(err as Error).message}`));
        }
      });
    });
    req.end();
  });
}

/** In a Kubernetes container, the reason of a refusal goes where `kubectl describe pod` shows it (best effort). */
export function writeTerminationMessage(message: string): void {
  const path = process.env.KVORUM_TERMINATION_LOG ?? '/dev/termination-log';
  if (!existsSync(path)) return;
  try {
    writeFileSync(path, message);
  } catch {
    // best effort: the exit status and the log say it too
  }
}

function normalise(url: string): string {
  return url.replace(/\/+$/, '').toLowerCase();
}
