// Membership changes are decided by the leader: only it knows how far each
// member's log has come (is the learner in sync? would quorum survive?). A
// follower that receives MemberAdd/Remove/Promote forwards the call to the
// leader's client URL, as etcd forwards them over its peer API. A leader
// with an https client URL is dialled with this member's own client TLS
// material: its server certificate doubles as the client certificate that
// --client-cert-auth asks for, as with etcd's members.
import { credentials, Metadata, type ChannelCredentials, type Client, type ServiceClientConstructor } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import type { TlsConfig } from '../../config.js';
import { loadEtcdProtos } from '../proto/load.js';
import type { EtcdServer } from '../../server/etcd-server.js';
import { ServerError } from '../../server/errors.js';
import type { Pb } from './convert.js';

/** PEM material for dialling https leaders; without `ca` the system roots are trusted. */
export interface ForwardTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/**
 * This member's client TLS files as forwarding material. The CA that checks
 * the leader's server certificate is the client CA (--trusted-ca-file), else
 * the peer CA: one cluster CA usually signs both.
 */
export function forwardTlsFromFiles(client: TlsConfig | undefined, peer: TlsConfig | undefined): ForwardTls | undefined {
  const caFile = client?.trustedCaFile ?? peer?.trustedCaFile;
  if (!client && !caFile) return undefined;
  return {
    ...(caFile !== undefined && { ca: readFileSync(caFile) }),
    ...(client && { cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) }),
  };
}

type UnaryMethod = (request: Pb, metadata: Metadata, options: { deadline: number }, callback: (err: Error | null, res?: Pb) => void) => void;

export class LeaderForwarder {
  private readonly clients = new Map<string, Client>();

  constructor(
    private readonly server: EtcdServer,
    private readonly timeoutMs: number,
    private readonly tls?: ForwardTls,
  ) {}

  /** Whether this member must forward (it is not the leader, and one is known). */
  shouldForward(): boolean {
    return !this.server.node.isLeader;
  }

  /**
   * `from`: the client's metadata; its auth token goes along (simple tokens
   * are held by every member). `token`, when given, is sent instead.
   */
  async cluster(method: 'MemberAdd' | 'MemberRemove' | 'MemberPromote' | 'MemberUpdate', request: Pb, from?: Metadata, token?: string): Promise<Pb> {
    const leaderId = this.server.node.leaderId;
    if (leaderId === 0) throw new ServerError('UNAVAILABLE', 'etcdserver: no leader');
    const leader = this.server.membership.get(leaderId);
    const url = leader?.clientUrls[0];
    if (!url) throw new ServerError('UNAVAILABLE', 'etcdserver: the leader has not published its client URL yet');
    const client = this.client(url) as unknown as Record<string, UnaryMethod>;
    return new Promise((resolve, reject) => {
      const metadata = new Metadata();
      const sent = token ?? from?.get('token')[0] ?? from?.get('authorization')[0];
      if (typeof sent === 'string') metadata.set('token', sent);
      client[method]!.call(client, request, metadata, { deadline: Date.now() + this.timeoutMs }, (err, res) => {
        if (err) {
          const e = err as Error & { code?: number; details?: string };
          // Keep the leader's status and message as they are.
          reject(Object.assign(new Error(e.details ?? e.message), { grpcCode: e.code }));
        } else {
          resolve(res ?? {});
        }
      });
    });
  }

  private client(url: string): Client {
    let c = this.clients.get(url);
    if (!c) {
      const Cluster = (loadEtcdProtos().grpcObject.etcdserverpb as Record<string, ServiceClientConstructor>).Cluster!;
      c = new Cluster(url.replace(/^https?:\/\//, ''), this.credentialsFor(url));
      this.clients.set(url, c);
    }
    return c;
  }

  private credentialsFor(url: string): ChannelCredentials {
    if (!url.startsWith('https://')) return credentials.createInsecure();
    const tls = this.tls ?? {};
    const pair = tls.cert && tls.key ? { key: tls.key, cert: tls.cert } : undefined;
    return credentials.createSsl(tls.ca ?? null, pair?.key ?? null, pair?.cert ?? null);
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
