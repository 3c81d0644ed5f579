// Membership changes are decided by the leader: only it knows how far each
// member's log has come (is the learner in sync? would quorum survive?). A
// follower that receives MemberAdd/Remove/Promote forwards the call to the
// leader's client URL, as etcd forwards them over its peer API.
import { credentials, type Client, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadEtcdProtos } from '../proto/load.js';
import type { EtcdServer } from '../../server/etcd-server.js';
import { ServerError } from '../../server/errors.js';
import type { Pb } from './convert.js';

type UnaryMethod = (request: Pb, options: { deadline: number }, callback: (err: Error | null, res?: Pb) => void) => void;

export class LeaderForwarder {
  private readonly clients = new Map<string, Client>();

  constructor(
    private readonly server: EtcdServer,
    private readonly timeoutMs: number,
  ) {}

  /** Whether this member must forward (it is not the leader, and one is known). */
  shouldForward(): boolean {
    return !this.server.node.isLeader;
  }

  async cluster(method: 'MemberAdd' | 'MemberRemove' | 'MemberPromote' | 'MemberUpdate', request: Pb): Promise<Pb> {
    const leaderId = this.server.node.leaderId;
    if (leaderId === 0) throw new ServerError('UNAVAILABLE', 'etcdserver: no leader');
    const leader = this.server.membership.get(leaderId);
    const url = leader?.clientUrls[0];
    if (!url) throw new ServerError('UNAVAILABLE', 'etcdserver: the leader has not published its client URL yet');
    if (url.startsWith('https://')) {
      throw new ServerError('UNAVAILABLE', 'etcdserver: forwarding to a TLS leader is not supported yet; send membership changes to the leader');
    }
    const client = this.client(url) as unknown as Record<string, UnaryMethod>;
    return new Promise((resolve, reject) => {
      client[method]!.call(client, request, { deadline: Date.now() + this.timeoutMs }, (err, res) => {
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
    const target = url.replace(/^http:\/\//, '');
    let c = this.clients.get(target);
    if (!c) {
      const Cluster = (loadEtcdProtos().grpcObject.etcdserverpb as Record<string, ServiceClientConstructor>).Cluster!;
      c = new Cluster(target, credentials.createInsecure());
      this.clients.set(target, c);
    }
    return c;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
