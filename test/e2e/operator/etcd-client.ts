// A direct gRPC client for the members of a KVCluster, from the test process:
// pod IPs are routable from the host, so each member is addressed by its pod
// IP on the client port, with the client certificate from `<c>-client-tls`
// when TLS is on. Calls go to one named member (no hidden retries), so the
// caller knows exactly which writes were acknowledged.
import { credentials, Metadata, type ChannelCredentials, type Client, type ServiceClientConstructor } from '@grpc/grpc-js';
import { MEMBER_PORTS, clientServiceName, loadEtcdProtos } from '../../../contract/index.js';
import type { KubeClient, KubeList, KubeObject } from '../kube/client.js';

export interface ClientTLS {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export interface Endpoint {
  /** Pod (= member) name. */
  name: string;
  address: string;
}

export interface Member {
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export interface MemberStatus {
  memberId: string;
  leader: string;
  raftIndex: string;
  /** The Raft term this member is in (every new leader starts a new term). */
  raftTerm: number;
  isLearner: boolean;
  /** Hex, from the response header: which cluster this member belongs to. */
  clusterId: string;
  /** The member's current MVCC revision. */
  revision: string;
}

/** Reads `<c>-client-tls` (tls.crt, tls.key, ca.crt). */
export async function readClientTLS(kube: KubeClient, ns: string, secretName: string): Promise<ClientTLS> {
  const s = await kube.get(`/api/v1/namespaces/${ns}/secrets/${secretName}`);
  const b = (k: string): Buffer => {
    const v = (s.data as Record<string, string> | undefined)?.[k];
    if (!v) throw new Error(`Secret ${ns}/${secretName} has no ${k}`);
    return Buffer.from(v, 'base64');
  };
  return { ca: b('ca.crt'), cert: b('tls.crt'), key: b('tls.key') };
}

/** Running pods of the cluster (label app.kubernetes.io/instance=<c>) with an IP, as endpoints on the client port. */
export async function memberEndpoints(kube: KubeClient, ns: string, cluster: string): Promise<Endpoint[]> {
  const sel = encodeURIComponent(`app.kubernetes.io/instance=${cluster},app.kubernetes.io/name=kvorum`);
  const pods = await kube.get<KubeList>(`/api/v1/namespaces/${ns}/pods?labelSelector=${sel}`);
  return pods.items
    .filter((p: KubeObject) => p.status?.podIP && p.status?.phase === 'Running' && !p.metadata.deletionTimestamp)
    .map((p: KubeObject) => ({ name: p.metadata.name, address: `${p.status.podIP}:${MEMBER_PORTS.client.port}` }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The ready backends of the cluster's client Service (`<c>-client`), as its
 * EndpointSlices list them: what a client of the Service reaches (the
 * environment resolves Service names to these; ClusterIPs are not routed).
 */
export async function serviceEndpoints(kube: KubeClient, ns: string, cluster: string): Promise<Endpoint[]> {
  const sel = encodeURIComponent(`kubernetes.io/service-name=${clientServiceName(cluster)}`);
  const slices = await kube.get<KubeList>(`/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices?labelSelector=${sel}`);
  const out = new Map<string, Endpoint>();
  for (const slice of slices.items) {
    for (const e of (slice.endpoints ?? []) as { addresses: string[]; conditions?: { ready?: boolean }; targetRef?: { name?: string } }[]) {
      // Kubernetes: a missing ready condition means ready.
      if (e.conditions?.ready === false || !e.targetRef?.name || !e.addresses[0]) continue;
      out.set(e.targetRef.name, { name: e.targetRef.name, address: `${e.addresses[0]}:${MEMBER_PORTS.client.port}` });
    }
  }
  return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
}

type Callback<T> = (err: Error | null, res: T) => void;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Unary = (req: any, md: Metadata, opts: { deadline: number }, cb: Callback<any>) => void;

/** KV, Cluster and Maintenance clients for one member. */
export class MemberClient {
  private readonly kv: Client;
  private readonly cluster: Client;
  private readonly maintenance: Client;

  constructor(readonly endpoint: Endpoint, tls: ClientTLS | undefined) {
    const pkg = loadEtcdProtos().grpcObject.etcdserverpb as unknown as Record<string, ServiceClientConstructor>;
    // The chain is verified against the cluster CA; the host name is not, because we dial pod IPs.
    const creds: ChannelCredentials = tls ? credentials.createSsl(tls.ca, tls.key, tls.cert, { checkServerIdentity: () => undefined }) : credentials.createInsecure();
    const options: Record<string, string | number> = { 'grpc.initial_reconnect_backoff_ms': 200, 'grpc.max_reconnect_backoff_ms': 1000 };
    // SNI must be a name, not the IP we dial; the pod name serves (identity is not checked, see above).
    if (tls) options['grpc.ssl_target_name_override'] = endpoint.name;
    this.kv = new pkg.KV(endpoint.address, creds, options);
    this.cluster = new pkg.Cluster(endpoint.address, creds, options);
    this.maintenance = new pkg.Maintenance(endpoint.address, creds, options);
  }

  private call<T>(client: Client, method: string, req: object, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const fn = (client as unknown as Record<string, Unary>)[method].bind(client);
      fn(req, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res as T)));
    });
  }

  async put(key: string, value: string, timeoutMs = 3000): Promise<void> {
    await this.call(this.kv, 'Put', { key: Buffer.from(key), value: Buffer.from(value) }, timeoutMs);
  }

  /** One key's value (undefined when absent); linearizable unless `serializable`. */
  async get(key: string, serializable = false, timeoutMs = 3000): Promise<string | undefined> {
    const res = await this.call<{ kvs: { value: Buffer }[] }>(this.kv, 'Range', { key: Buffer.from(key), serializable }, timeoutMs);
    return res.kvs[0]?.value.toString();
  }

  /** All keys with the prefix; linearizable unless `serializable` (then this member's own state). */
  async rangePrefix(prefix: string, serializable: boolean, timeoutMs = 10_000): Promise<Map<string, string>> {
    const key = Buffer.from(prefix);
    const end = Buffer.from(key);
    end[end.length - 1] += 1;
    const res = await this.call<{ kvs: { key: Buffer; value: Buffer }[] }>(this.kv, 'Range', { key, range_end: end, serializable }, timeoutMs);
    return new Map(res.kvs.map((kv) => [kv.key.toString(), kv.value.toString()]));
  }

  async memberList(timeoutMs = 5000): Promise<Member[]> {
    const res = await this.call<{ members: { ID: string; name: string; peerURLs: string[]; clientURLs: string[]; isLearner: boolean }[] }>(
      this.cluster,
      'MemberList',
      { linearizable: true },
      timeoutMs,
    );
    return res.members.map((m) => ({ id: BigInt(m.ID).toString(16), name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs, isLearner: m.isLearner }));
  }

  async status(timeoutMs = 3000): Promise<MemberStatus> {
    const r = await this.call<{ header: { member_id: string; cluster_id: string; revision: string }; leader: string; raftIndex: string; raftTerm: string; isLearner: boolean }>(this.maintenance, 'Status', {}, timeoutMs);
    return {
      memberId: BigInt(r.header.member_id).toString(16),
      leader: BigInt(r.leader).toString(16),
      raftIndex: r.raftIndex,
      isLearner: r.isLearner,
      clusterId: BigInt(r.header.cluster_id).toString(16),
      raftTerm: Number(r.raftTerm),
      revision: r.header.revision,
    };
  }

  /** Maintenance.HashKV of this member's keyspace up to `revision`. */
  async hashKv(revision: number, timeoutMs = 30_000): Promise<{ hash: number; compactRevision: number }> {
    const r = await this.call<{ hash: number; compact_revision: string }>(this.maintenance, 'HashKV', { revision: String(revision) }, timeoutMs);
    return { hash: Number(r.hash), compactRevision: Number(r.compact_revision) };
  }

  /** How many keys start with `prefix` (count only; linearizable unless `serializable`). */
  async countPrefix(prefix: string, serializable: boolean, timeoutMs = 30_000): Promise<number> {
    const key = Buffer.from(prefix);
    const end = Buffer.from(key);
    end[end.length - 1] += 1;
    const res = await this.call<{ count: string }>(this.kv, 'Range', { key, range_end: end, serializable, count_only: true }, timeoutMs);
    return Number(res.count);
  }

  /** Puts every pair in one transaction (one revision); at most the member's max-txn-ops pairs. */
  async putMany(pairs: [string, string][], timeoutMs = 10_000): Promise<void> {
    const success = pairs.map(([k, v]) => ({ request_put: { key: Buffer.from(k), value: Buffer.from(v) } }));
    await this.call(this.kv, 'Txn', { compare: [], success, failure: [] }, timeoutMs);
  }

  /** Asks this member (which must be the leader) to hand leadership to `targetIdHex`. */
  async moveLeader(targetIdHex: string, timeoutMs = 10_000): Promise<void> {
    await this.call(this.maintenance, 'MoveLeader', { targetID: BigInt(`0x${targetIdHex}`).toString() }, timeoutMs);
  }

  close(): void {
    this.kv.close();
    this.cluster.close();
    this.maintenance.close();
  }
}

/** Keeps one MemberClient per endpoint, re-created when a pod's address changes. */
export class MemberClients {
  private readonly clients = new Map<string, MemberClient>();

  constructor(private readonly tls: ClientTLS | undefined) {}

  get(ep: Endpoint): MemberClient {
    const existing = this.clients.get(ep.name);
    if (existing && existing.endpoint.address === ep.address) return existing;
    existing?.close();
    const c = new MemberClient(ep, this.tls);
    this.clients.set(ep.name, c);
    return c;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
