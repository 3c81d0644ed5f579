// v3lock.Lock, v3election.Election and grpc.health.v1.Health over real gRPC
// (@grpc/grpc-js with Kvorum's .proto files), on a 3-member Kvorum cluster
// and, as the reference, a 1-member etcd 3.4. The same script runs against
// both (its calls spread over Kvorum's members, so followers serve waits
// too); the transcripts, with cluster/member IDs, terms and lease IDs
// masked, must be equal. Both stores start empty, so revisions are compared
// as they are.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Metadata, credentials, type Client, type ClientReadableStream, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { loadEtcdProtos } from '../../contract/etcd-proto.js';
import { loadExtraProtos } from '../../node/api/proto/extra-services.js';
import { ProcessCluster, hostPort, requireTools } from './process-cluster.js';

type Msg = Record<string, unknown>;

function ctor(path: string): ServiceClientConstructor {
  const root = path.startsWith('etcdserverpb.') ? loadEtcdProtos().grpcObject : loadExtraProtos().grpcObject;
  let node: unknown = root;
  for (const part of path.split('.')) node = (node as Record<string, unknown>)[part];
  return node as ServiceClientConstructor;
}

/** The four services at one member. */
class Member {
  readonly lock: Client;
  readonly election: Client;
  readonly health: Client;
  readonly lease: Client;
  readonly kv: Client;
  readonly auth: Client;

  constructor(address: string) {
    const c = credentials.createInsecure();
    this.lock = new (ctor('v3lockpb.Lock'))(address, c);
    this.election = new (ctor('v3electionpb.Election'))(address, c);
    this.health = new (ctor('grpc.health.v1.Health'))(address, c);
    this.lease = new (ctor('etcdserverpb.Lease'))(address, c);
    this.kv = new (ctor('etcdserverpb.KV'))(address, c);
    this.auth = new (ctor('etcdserverpb.Auth'))(address, c);
  }

  close(): void {
    for (const c of [this.lock, this.election, this.health, this.lease, this.kv, this.auth]) c.close();
  }
}

/** A call's answer, or its error as "code message". */
function call(client: Client, method: string, req: Msg, deadlineMs?: number, token?: string): Promise<Msg> {
  return new Promise((resolve) => {
    const done = (err: ServiceError | null, res: Msg): void => resolve(err ? { error: `${err.code} ${err.details}` } : res);
    const fn = (client as unknown as Record<string, (req: Msg, md: Metadata, opts: object, cb: typeof done) => void>)[method]!;
    const md = new Metadata();
    if (token) md.set('token', token);
    fn.call(client, req, md, deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs }, done);
  });
}

/** A unary call with request bytes as given (not encoded from a message). */
function rawCall(client: Client, path: string, bytes: Buffer): Promise<{ code: number; details: string } | Buffer> {
  return new Promise((resolve) => {
    client.makeUnaryRequest<Buffer, Buffer>(path, (b) => b, (b) => b, bytes, (err, res) => resolve(err ? { code: err.code, details: err.details } : res!));
  });
}

async function revisionAt(member: Member): Promise<number> {
  const res = await call(member.kv, 'Range', { key: Buffer.from('nothing') });
  return Number((res.header as Msg).revision);
}

/** A JSON gateway call; bytes fields (base64) read back as text so the masker sees keys. */
async function gateway(baseUrl: string, path: string, body: Msg): Promise<unknown> {
  const res = await fetch(`${baseUrl}${path}`, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  const decode = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(decode);
    if (!v || typeof v !== 'object') return v;
    const out: Msg = {};
    for (const [k, x] of Object.entries(v as Msg)) out[k] = (k === 'key' || k === 'value' || k === 'name') && typeof x === 'string' ? Buffer.from(x, 'base64') : decode(x);
    return out;
  };
  return { status: res.status, body: decode(JSON.parse(await res.text())) };
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Masks what differs between any two clusters: IDs, terms, lease IDs (by their order of grant). */
class Masker {
  private readonly leases = new Map<string, string>();

  lease(id: string): void {
    this.leases.set(id, `{L${this.leases.size + 1}}`);
  }

  mask(value: unknown): unknown {
    if (Buffer.isBuffer(value)) return this.text(value.toString('utf8'));
    if (Array.isArray(value)) return value.map((v) => this.mask(v));
    if (value && typeof value === 'object') {
      const out: Msg = {};
      for (const [k, v] of Object.entries(value as Msg)) {
        if (k === 'cluster_id' || k === 'member_id' || k === 'raft_term') continue;
        out[k] = this.mask(v);
      }
      return out;
    }
    return typeof value === 'string' ? this.text(value) : value;
  }

  private text(s: string): string {
    let out = s;
    for (const [id, name] of this.leases) {
      if (out === id) return name;
      out = out.replace(`/${BigInt(id).toString(16)}`, `/${name}`);
    }
    return out;
  }
}

interface Run {
  transcript: unknown[];
  /** Checks that hold only for Kvorum (where etcd 3.4 differs on purpose), run against the same cluster. */
  members: Member[];
}

async function runScript(cluster: ProcessCluster): Promise<Run> {
  const members = cluster.members.map((m) => new Member(hostPort(m.clientUrl)));
  const at = (i: number): Member => members[i % members.length]!;
  const m = new Masker();
  const out: unknown[] = [];
  const step = (name: string, value: unknown): void => {
    out.push([name, m.mask(value)]);
  };

  step('health ""', await call(at(0).health, 'Check', { service: '' }));
  step('health unknown', await call(at(0).health, 'Check', { service: 'no.such.Service' }));

  const leases: string[] = [];
  for (let i = 0; i < 4; i++) {
    const g = await call(at(0).lease, 'LeaseGrant', { TTL: 60 });
    leases.push(g.ID as string);
    m.lease(g.ID as string);
  }
  const [l1, l2, l3, l4] = leases as [string, string, string, string];

  // Two lockers: the second waits until the first unlocks.
  const a = await call(at(0).lock, 'Lock', { name: Buffer.from('L'), lease: l1 });
  step('lock A', a);
  let bDone = false;
  const b = call(at(1).lock, 'Lock', { name: Buffer.from('L'), lease: l2 }).then((r) => ((bDone = true), r));
  await sleep(500);
  step('B waits while A holds', !bDone);
  const unlockA = await call(at(2).lock, 'Unlock', { key: a.key });
  step('unlock A', unlockA);
  const bRes = await b;
  step('lock B', bRes);
  step('B holds from A\'s unlock on', Number((bRes.header as Msg).revision) >= Number((unlockA.header as Msg).revision));

  // Revoking the holder's lease hands the lock to the next waiter.
  let cDone = false;
  const c = call(at(2).lock, 'Lock', { name: Buffer.from('L'), lease: l3 }).then((r) => ((cDone = true), r));
  await sleep(500);
  step('C waits while B holds', !cDone);
  step('revoke B\'s lease', await call(at(0).lease, 'LeaseRevoke', { ID: l2 }));
  step('lock C', await c);

  step('lock, unknown lease', await call(at(1).lock, 'Lock', { name: Buffer.from('L'), lease: '12345' }));
  step('unlock, absent key', await call(at(1).lock, 'Unlock', { key: Buffer.from('L/absent') }));

  // Election.
  step('leader, none', await call(at(0).election, 'Leader', { name: Buffer.from('E') }));
  const observed: unknown[] = [];
  const watch = (at(1).election as unknown as { Observe(req: Msg): ClientReadableStream<Msg> }).Observe({ name: Buffer.from('E') });
  watch.on('data', (msg: Msg) => observed.push(m.mask(msg)));
  watch.on('error', () => {});
  await sleep(500);
  const alice = await call(at(0).election, 'Campaign', { name: Buffer.from('E'), lease: l1, value: Buffer.from('alice') });
  step('campaign alice', alice);
  let bobDone = false;
  const bob = call(at(2).election, 'Campaign', { name: Buffer.from('E'), lease: l4, value: Buffer.from('bob') }).then((r) => ((bobDone = true), r));
  await sleep(500);
  step('bob waits while alice leads', !bobDone);
  step('leader alice', await call(at(1).election, 'Leader', { name: Buffer.from('E') }));
  const aliceKey = alice.leader as Msg;
  step('proclaim', await call(at(2).election, 'Proclaim', { leader: aliceKey, value: Buffer.from('alice-2') }));
  step('proclaim, stale term', await call(at(0).election, 'Proclaim', { leader: { ...aliceKey, rev: '1' }, value: Buffer.from('x') }));
  step('proclaim, no leader key', await call(at(0).election, 'Proclaim', { value: Buffer.from('x') }));
  step('leader alice-2', await call(at(0).election, 'Leader', { name: Buffer.from('E') }));
  step('resign, stale term', await call(at(1).election, 'Resign', { leader: { ...aliceKey, rev: '1' } }));
  step('resign, no leader key', await call(at(1).election, 'Resign', {}));
  step('resign alice', await call(at(1).election, 'Resign', { leader: aliceKey }));
  step('campaign bob', await bob);
  step('leader bob', await call(at(2).election, 'Leader', { name: Buffer.from('E') }));
  step('campaign, unknown lease', await call(at(0).election, 'Campaign', { name: Buffer.from('E'), lease: '999', value: Buffer.from('z') }));
  // The same through the JSON gateway (etcd 3.4's /v3/lock and /v3/election paths).
  const url = cluster.members[1 % cluster.members.length]!.clientUrl;
  const hl = (await gateway(url, '/v3/lock/lock', { name: b64('H'), lease: l1 })) as { body: Msg };
  step('gateway lock', hl);
  step('gateway unlock', await gateway(url, '/v3/lock/unlock', { key: b64(String(hl.body.key)) }));
  step('gateway leader', await gateway(url, '/v3/election/leader', { name: b64('E') }));
  step('gateway proclaim, stale term', await gateway(url, '/v3/election/proclaim', { leader: { name: b64('E'), key: b64('E/x'), rev: '1', lease: l4 }, value: b64('y') }));
  // With auth on, the recipes act as their caller: its token, its permissions.
  const auth = at(0).auth;
  step('auth: add root', await call(auth, 'UserAdd', { name: 'root', password: 'rootpw' }));
  step('auth: root role', await call(auth, 'UserGrantRole', { user: 'root', role: 'root' }));
  step('auth: add alice', await call(auth, 'UserAdd', { name: 'alice', password: 'alicepw' }));
  step('auth: add locker', await call(auth, 'RoleAdd', { name: 'locker' }));
  step('auth: locker may use A/', await call(auth, 'RoleGrantPermission', { name: 'locker', perm: { permType: 'READWRITE', key: Buffer.from('A/'), range_end: Buffer.from('A0') } }));
  step('auth: alice locker', await call(auth, 'UserGrantRole', { user: 'alice', role: 'locker' }));
  step('auth: enable', await call(auth, 'AuthEnable', {}));
  const aliceToken = (await call(auth, 'Authenticate', { name: 'alice', password: 'alicepw' })).token as string;
  const rootToken = (await call(auth, 'Authenticate', { name: 'root', password: 'rootpw' })).token as string;
  const aliceLease = await call(at(1).lease, 'LeaseGrant', { TTL: 60 }, undefined, aliceToken);
  m.lease(aliceLease.ID as string);
  step('auth: lock, no token', await call(at(1).lock, 'Lock', { name: Buffer.from('A'), lease: aliceLease.ID }));
  step('auth: lock A as alice', await call(at(1).lock, 'Lock', { name: Buffer.from('A'), lease: aliceLease.ID }, undefined, aliceToken));
  step('auth: lock B as alice', await call(at(1).lock, 'Lock', { name: Buffer.from('B'), lease: aliceLease.ID }, undefined, aliceToken));
  step('auth: leader E as alice', await call(at(2).election, 'Leader', { name: Buffer.from('E') }, undefined, aliceToken));
  step('auth: campaign E as alice', await call(at(2).election, 'Campaign', { name: Buffer.from('E'), lease: aliceLease.ID, value: Buffer.from('v') }, undefined, aliceToken));
  step('auth: leader E as root', await call(at(2).election, 'Leader', { name: Buffer.from('E') }, undefined, rootToken));
  step('auth: disable', await call(auth, 'AuthDisable', {}, undefined, rootToken));
  for (let i = 0; i < 40 && observed.length < 3; i++) await sleep(100);
  watch.cancel();
  step('observed', observed);
  return { transcript: out, members };
}

describe('lock, election and health services', { timeout: 180_000 }, () => {
  before(() => requireTools('etcd'));
  let etcdRun: unknown[] = [];
  let kvorum: ProcessCluster | undefined;
  let ours: Run | undefined;

  before(async () => {
    const etcd = await ProcessCluster.create('etcd', 1);
    try {
      await etcd.startAll();
      const run = await runScript(etcd);
      etcdRun = run.transcript;
      for (const member of run.members) member.close();
    } finally {
      await etcd.destroy();
    }
    kvorum = await ProcessCluster.create('kvorum', 3);
    await kvorum.startAll();
    ours = await runScript(kvorum);
  });

  after(async () => {
    for (const member of ours?.members ?? []) member.close();
    await kvorum?.destroy();
  });

  test('finding 10: Lock, Election and Health are served: the same calls give the same answers and error strings as etcd 3.4', () => {
    const find = (name: string): unknown => (etcdRun as [string, unknown][]).find(([n]) => n === name)?.[1];
    // Anchors, so that two clusters failing the same way cannot pass.
    assert.deepEqual(find('health ""'), { status: 'SERVING' });
    assert.equal((find('lock A') as Msg).key, 'L/{L1}');
    assert.equal(find('B waits while A holds'), true);
    assert.equal(find('B holds from A\'s unlock on'), true);
    assert.equal((find('lock C') as Msg).key, 'L/{L3}');
    assert.deepEqual(find('leader, none'), { error: '2 election: no leader' });
    assert.deepEqual(find('proclaim, stale term'), { error: '2 election: not leader' });
    assert.equal((find('observed') as unknown[]).length, 3);
    assert.deepEqual((find('gateway lock') as Msg).status, 200);
    assert.equal(((find('gateway lock') as Msg).body as Msg).key, 'H/{L1}');
    assert.equal(((find('gateway leader') as Msg).body as { kv: Msg }).kv.value, 'bob');
    assert.deepEqual(find('auth: lock, no token'), { error: '2 etcdserver: user name is empty' });
    assert.equal((find('auth: lock A as alice') as Msg).key, 'A/{L5}');
    assert.deepEqual(find('auth: lock B as alice'), { error: '2 etcdserver: permission denied' });
    assert.deepEqual(ours!.transcript, etcdRun);
  });

  test('a waiter whose lease is revoked gets "mutex: session is expired" (etcd 3.4 would answer success with a deleted key)', async () => {
    const [m1, m2] = ours!.members as [Member, Member];
    const held = await call(m1.lease, 'LeaseGrant', { TTL: 60 });
    const waiter = await call(m1.lease, 'LeaseGrant', { TTL: 60 });
    const a = await call(m1.lock, 'Lock', { name: Buffer.from('R'), lease: held.ID });
    assert.ok(a.key, JSON.stringify(a));
    const waiting = call(m2.lock, 'Lock', { name: Buffer.from('R'), lease: waiter.ID });
    await sleep(300);
    await call(m1.lease, 'LeaseRevoke', { ID: waiter.ID });
    assert.deepEqual(await waiting, { error: '2 mutex: session is expired' });
    await call(m1.lock, 'Unlock', { key: a.key });
  });

  test('a waiter whose deadline passes gets DEADLINE_EXCEEDED and leaves the queue', async () => {
    const [m1, m2] = ours!.members as [Member, Member];
    const held = await call(m1.lease, 'LeaseGrant', { TTL: 60 });
    const waiter = await call(m1.lease, 'LeaseGrant', { TTL: 60 });
    const a = await call(m1.lock, 'Lock', { name: Buffer.from('D'), lease: held.ID });
    const late = await call(m2.lock, 'Lock', { name: Buffer.from('D'), lease: waiter.ID }, 500);
    assert.match(String(late.error), /^4 /);
    const waiterKey = `D/${BigInt(waiter.ID as string).toString(16)}`;
    let left: Msg = {};
    for (let i = 0; i < 50; i++) {
      left = await call(m1.kv, 'Range', { key: Buffer.from(waiterKey) });
      if ((left.kvs as unknown[]).length === 0) break;
      await sleep(100);
    }
    assert.deepEqual(left.kvs, [], 'the waiter\'s key is deleted');
    await call(m1.lock, 'Unlock', { key: a.key });
  });

  test('a gateway client that hangs up while its lock waits leaves the queue', async () => {
    const [m1] = ours!.members as [Member];
    const held = await call(m1.lease, 'LeaseGrant', { TTL: 60 });
    const waiter = await call(m1.lease, 'LeaseGrant', { TTL: 60 });
    const a = await call(m1.lock, 'Lock', { name: Buffer.from('G'), lease: held.ID });
    const waiterKey = `G/${BigInt(waiter.ID as string).toString(16)}`;
    const abort = new AbortController();
    const url = kvorum!.members[1]!.clientUrl;
    const pending = fetch(`${url}/v3/lock/lock`, { method: 'POST', body: JSON.stringify({ name: b64('G'), lease: waiter.ID }), signal: abort.signal }).catch((err: Error) => err.name);
    let queued = false;
    for (let i = 0; i < 50 && !queued; i++) {
      queued = ((await call(m1.kv, 'Range', { key: Buffer.from(waiterKey) })).kvs as unknown[]).length === 1;
      if (!queued) await sleep(50);
    }
    assert.ok(queued, 'the waiter queued');
    abort.abort();
    assert.equal(await pending, 'AbortError');
    let left: unknown[] = [waiterKey];
    for (let i = 0; i < 50 && left.length > 0; i++) {
      await sleep(100);
      left = (await call(m1.kv, 'Range', { key: Buffer.from(waiterKey) })).kvs as unknown[];
    }
    assert.deepEqual(left, [], 'its key is deleted');
    await call(m1.lock, 'Unlock', { key: a.key });
  });

  test('malformed protobuf to Lock is refused with INTERNAL and writes nothing', async () => {
    const [m1] = ours!.members as [Member];
    const before = await revisionAt(m1);
    // Field 1 (name, bytes) sent as fixed32: protobufjs alone would read it.
    const res = await rawCall(m1.lock, '/v3lockpb.Lock/Lock', Buffer.from([0x0d, 0x01, 0x02, 0x03, 0x04]));
    assert.ok(!Buffer.isBuffer(res), 'refused');
    assert.equal(res.code, 13);
    assert.match(res.details, /deserializing request|unmarshalling request/);
    assert.equal(await revisionAt(m1), before);
  });

  test('health answers for the served services and turns NOT_SERVING without a leader (Check and Watch)', async () => {
    const [m1] = ours!.members as [Member];
    assert.deepEqual(await call(m1.health, 'Check', { service: 'etcdserverpb.KV' }), { status: 'SERVING' });
    assert.deepEqual(await call(m1.health, 'Check', { service: 'v3lockpb.Lock' }), { status: 'SERVING' });
    const seen: string[] = [];
    const watch = (m1.health as unknown as { Watch(req: Msg): ClientReadableStream<Msg> }).Watch({ service: '' });
    watch.on('data', (msg: Msg) => seen.push(msg.status as string));
    watch.on('error', () => {});
    await sleep(300);
    assert.deepEqual(seen, ['SERVING']);
    // Two of three members gone: the survivor loses its leader (CheckQuorum).
    await kvorum!.kill(kvorum!.members[1]!);
    await kvorum!.kill(kvorum!.members[2]!);
    let last = '';
    for (let i = 0; i < 100 && last !== 'NOT_SERVING'; i++) {
      last = (await call(m1.health, 'Check', { service: '' })).status as string;
      if (last !== 'NOT_SERVING') await sleep(100);
    }
    assert.equal(last, 'NOT_SERVING');
    for (let i = 0; i < 20 && seen.length < 2; i++) await sleep(100);
    watch.cancel();
    assert.deepEqual(seen, ['SERVING', 'NOT_SERVING']);
  });
});
