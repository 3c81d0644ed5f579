// A member with client workers (--client-workers, node/api/workers): its
// connections are served by worker processes while the core keeps Raft,
// the WAL and apply. Every kind of client still works, the member's work
// runs on several threads at once, and a worker's death is a crash of the
// member, never a member half alive.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { loadEtcdProtos } from '../../contract/etcd-proto.js';
import { ProcessCluster, hostPort, requireTools, type ProcessMember } from './process-cluster.js';

/** The member's process and its children (the workers). */
function processTree(pid: number): number[] {
  const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return [pid, ...r.stdout.split('\n').filter(Boolean).map(Number)];
}

/** CPU ticks (user + system) of every thread of the given processes, by "pid/tid". */
function threadTicks(pids: number[]): Map<string, number> {
  const ticks = new Map<string, number>();
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        // Fields after the command name, which may hold spaces: utime and stime are the 12th and 13th.
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ticks.set(`${pid}/${tid}`, Number(f[11]) + Number(f[12]));
      } catch {
        // The thread ended meanwhile.
      }
    }
  }
  return ticks;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const putMethod = (loadEtcdProtos().packageDefinition['etcdserverpb.KV'] as unknown as Record<string, { requestSerialize(v: unknown): Buffer }>).Put!;

/** One uncompressed gRPC message: a zero flag byte, the length, the message. */
function grpcFrame(message: Buffer): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

/** Puts `total` keys over `sessions` connections, `inFlight` at a time, raw HTTP/2 (cheap for the test process); bounded in time too. */
async function putLoad(endpoint: string, total: number, sessions: number, inFlight: number, timeoutMs: number): Promise<number> {
  const conns: ClientHttp2Session[] = Array.from({ length: sessions }, () => connect(`http://${endpoint}`));
  const body = grpcFrame(putMethod.requestSerialize({ key: Buffer.from('load'), value: Buffer.alloc(256, 'v') }));
  const deadline = Date.now() + timeoutMs;
  let sent = 0;
  let ok = 0;
  const one = (session: ClientHttp2Session): Promise<void> =>
    new Promise((resolve) => {
      const req = session.request({ ':method': 'POST', ':path': '/etcdserverpb.KV/Put', 'content-type': 'application/grpc', te: 'trailers' });
      req.on('trailers', (t) => {
        if (t['grpc-status'] === '0') ok += 1;
      });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      req.resume();
      req.end(body);
    });
  const lane = async (i: number): Promise<void> => {
    while (sent < total && Date.now() < deadline) {
      sent += 1;
      await one(conns[i % sessions]!);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, (_, i) => lane(i)));
  for (const c of conns) c.close();
  return ok;
}

describe('client workers', () => {
  let c: ProcessCluster;
  let m: ProcessMember;
  before(async () => {
    requireTools('etcdctl');
    c = await ProcessCluster.create('kvorum', 1);
    m = c.members[0]!;
    m.env = { ETCD_CLIENT_WORKERS: '2' };
    await c.startAll();
  });
  after(async () => {
    await c?.destroy();
  });

  test('etcdctl, a watch, a lease and the JSON gateway all work through the workers', async () => {
    assert.equal(processTree(m.process!.pid!).length, 3, 'the member runs two worker processes');
    assert.equal(c.ctl(['put', 'k', 'v1']).trim(), 'OK');
    assert.equal(c.ctl(['put', 'k', 'v2']).trim(), 'OK');
    assert.equal(c.ctl(['get', 'k', '--print-value-only']).trim(), 'v2');
    // A watch from revision 1 replays both puts (a streaming call, proxied to the core).
    const watch = c.etcdctl(['watch', 'k', '--rev=1'], { timeoutMs: 3000 });
    assert.match(watch.stdout, /PUT\nk\nv1\nPUT\nk\nv2/);
    const lease = c.ctl(['lease', 'grant', '60']);
    const id = /lease ([0-9a-f]+) granted/.exec(lease)?.[1];
    assert.ok(id, lease);
    assert.match(c.ctl(['lease', 'keep-alive', '--once', id]), /keepalived with TTL\(/);
    const res = await fetch(`${m.clientUrl}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from('k').toString('base64') }) });
    const json = (await res.json()) as { kvs?: { value: string }[] };
    assert.equal(Buffer.from(json.kvs?.[0]?.value ?? '', 'base64').toString(), 'v2');
    assert.equal((await fetch(`${m.clientUrl}/health`)).status, 200);
  });

  test('under load, at least three threads of the member each do a real share of its work', async () => {
    const tree = processTree(m.process!.pid!);
    const before = threadTicks(tree);
    const acknowledged = await putLoad(hostPort(m.clientUrl), 6000, 8, 64, 30_000);
    const afterLoad = threadTicks(tree);
    const used = [...afterLoad].map(([thread, t]) => ({ thread, ticks: t - (before.get(thread) ?? 0) })).sort((a, b) => b.ticks - a.ticks);
    const total = used.reduce((s, u) => s + u.ticks, 0);
    const shares = used.slice(0, 6).map((u) => `${u.thread} ${((100 * u.ticks) / total).toFixed(0)}%`).join(', ');
    assert.ok(acknowledged > 1000, `only ${acknowledged} puts acknowledged`);
    // Ticks are 10 ms: enough CPU for shares to mean something.
    assert.ok(total >= 50, `the member used only ${total} ticks`);
    // The JavaScript thread of each process (its tid is its pid): the core and both workers.
    const mains = tree.map((pid) => used.find((u) => u.thread === `${pid}/${pid}`)?.ticks ?? 0);
    for (const [i, ticks] of mains.entries()) {
      assert.ok(ticks >= 0.1 * total, `the main thread of ${i === 0 ? 'the core' : `worker ${i}`} did ${ticks} of ${total} ticks (busiest threads: ${shares})`);
    }
  });

  test('a watch whose client does not read holds back no other stream through the same worker', async () => {
    // Both watches on one connection, so one worker serves them; the client
    // session's own window is opened wide, so only the member's flow control
    // is tested. One watch is never read: its events fill its own stream
    // windows (client to worker, worker to core), and the other must still
    // get every event, past the 64 KiB a stream may hold unread.
    const session = connect(`http://${hostPort(m.clientUrl)}`);
    await new Promise<void>((r) => session.once('connect', () => r()));
    session.setLocalWindowSize(2 ** 31 - 1);
    const watchDef = (loadEtcdProtos().packageDefinition['etcdserverpb.Watch'] as unknown as Record<string, { requestSerialize(v: unknown): Buffer }>).Watch!;
    // Every key under hol/ (the range end is the prefix with its last byte plus one).
    const open = (): ClientHttp2Stream => {
      const s = session.request({ ':method': 'POST', ':path': '/etcdserverpb.Watch/Watch', 'content-type': 'application/grpc', te: 'trailers' });
      s.write(grpcFrame(watchDef.requestSerialize({ create_request: { key: Buffer.from('hol/'), range_end: Buffer.from('hol0') } })));
      return s;
    };
    const slow = open();
    slow.pause();
    const fast = open();
    let received = 0;
    fast.on('data', (d: Buffer) => (received += d.length));
    try {
      await new Promise((r) => setTimeout(r, 300));
      const value = 'x'.repeat(16 * 1024);
      for (let i = 0; i < 64; i++) c.ctl(['put', `hol/${i}`, value]);
      // 64 events of 16 KiB: 1 MiB, far past any one stream's window.
      await until('the reading watch gets every event', () => received >= 64 * 16 * 1024, 20_000);
    } finally {
      slow.close();
      fast.close();
      session.close();
    }
  });

  test('a worker that dies stops the member; a member killed outright leaves no worker behind', async () => {
    const [core, worker] = processTree(m.process!.pid!);
    const exited = new Promise<number | null>((r) => m.process!.once('exit', (code) => r(code)));
    process.kill(worker!, 'SIGKILL');
    const code = await Promise.race([exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 15_000))]);
    assert.notEqual(code, 'still running', `the member (${core}) went on without worker ${worker} (alive: ${alive(worker!)}): ${m.log.slice(-6).join('\n')}`);
    assert.notEqual(code, 0);
    assert.ok(!alive(core!));
    // Started again from its data dir, it has its data and new workers.
    c.start(m);
    await c.waitHealthy();
    assert.equal(c.ctl(['get', 'k', '--print-value-only']).trim(), 'v2');
    const tree = processTree(m.process!.pid!);
    assert.equal(tree.length, 3);
    await c.kill(m, 'SIGKILL');
    await until('the workers of a killed member exit', () => tree.slice(1).every((pid) => !alive(pid)), 10_000);
  });
});
