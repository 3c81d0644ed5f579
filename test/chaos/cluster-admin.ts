// The cluster-administration calls the chaos nemesis makes (member list,
// add, remove, promote; status; MoveLeader), over raw gRPC to one member's
// client URL, with member IDs as lower-case hex (as the peer transport and
// the proxy name them).
import { credentials, Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadEtcdProtos } from '../../contract/etcd-proto.js';
import { hostPort } from '../integration/process-cluster.js';

type Pb = Record<string, unknown>;
type Unary = Client & Record<string, (req: Pb, md: Metadata, opts: { deadline: number }, cb: (err: ServiceError | null, res: Pb) => void) => void>;
type Ctor = new (addr: string, creds: ReturnType<typeof credentials.createInsecure>) => Unary;

export interface MemberInfo {
  /** Lower-case hex. */
  id: string;
  name: string;
  peerUrls: string[];
  isLearner: boolean;
}

const hexId = (decimal: unknown): string => BigInt(String(decimal)).toString(16);
const decimalId = (hex: string): string => BigInt(`0x${hex}`).toString();

/** Admin calls to one member. */
export class AdminClient {
  private readonly cluster: Unary;
  private readonly maintenance: Unary;

  constructor(clientUrl: string) {
    const pb = loadEtcdProtos().grpcObject.etcdserverpb as unknown as Record<string, Ctor>;
    this.cluster = new pb.Cluster!(hostPort(clientUrl), credentials.createInsecure());
    this.maintenance = new pb.Maintenance!(hostPort(clientUrl), credentials.createInsecure());
  }

  close(): void {
    this.cluster.close();
    this.maintenance.close();
  }

  async members(timeoutMs = 2000): Promise<MemberInfo[]> {
    const res = await call(this.cluster, 'MemberList', { linearizable: true }, timeoutMs);
    return (res.members as Pb[]).map((m) => ({ id: hexId(m.ID), name: String(m.name ?? ''), peerUrls: (m.peerURLs as string[]) ?? [], isLearner: m.isLearner === true }));
  }

  /** Adds a member (as a learner by default); returns its new ID. */
  async add(peerUrl: string, isLearner = true, timeoutMs = 5000): Promise<string> {
    const res = await call(this.cluster, 'MemberAdd', { peerURLs: [peerUrl], isLearner }, timeoutMs);
    return hexId((res.member as Pb).ID);
  }

  async remove(id: string, timeoutMs = 5000): Promise<void> {
    await call(this.cluster, 'MemberRemove', { ID: decimalId(id) }, timeoutMs);
  }

  async promote(id: string, timeoutMs = 5000): Promise<void> {
    await call(this.cluster, 'MemberPromote', { ID: decimalId(id) }, timeoutMs);
  }

  /** This member's ID and the leader it knows (undefined when none). */
  async status(timeoutMs = 1000): Promise<{ id: string; leader: string | undefined }> {
    const res = await call(this.maintenance, 'Status', {}, timeoutMs);
    const leader = hexId(res.leader ?? '0');
    return { id: hexId((res.header as Pb).member_id), leader: leader === '0' ? undefined : leader };
  }

  /** Asks this member (it must lead) to hand leadership to `target`. */
  async moveLeader(target: string, timeoutMs = 5000): Promise<void> {
    await call(this.maintenance, 'MoveLeader', { targetID: decimalId(target) }, timeoutMs);
  }
}

function call(client: Unary, method: string, req: Pb, timeoutMs: number): Promise<Pb> {
  return new Promise((resolve, reject) => {
    client[method]!(req, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}
