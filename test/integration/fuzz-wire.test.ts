// Seeded fuzzing of a live member's client port (issue 13, "Fuzzing"):
// valid etcd requests, then broken (bit flips, truncations, wrong wire
// types, huge varints, length-prefix lies, the compressed flag, deep nested
// txns, JSON that is truncated or mistyped) and sent to one real
// `kvorum node` as raw HTTP/2 gRPC calls to KV/Put, KV/Range, KV/Txn,
// KV/DeleteRange, Lease/LeaseGrant and Watch (some with odd headers, an
// unknown path, or reset half-way by the client), and as JSON bodies to the
// gateway's /v3/kv/put, range, txn, deleterange, /v3/watch and /v3/lease/grant.
//
// Properties, checked after every case:
// - the member never crashes (process alive, /health ok at the end);
// - every request is answered before a deadline (a gateway watch whose
//   objects ask for nothing may stay silent, as etcd's does);
// - nothing is written on refused input: a request answered with an error
//   leaves the revision (and, for LeaseGrant, the set of leases) as it was,
//   and Range and Watch never change them. A mutation that happens to be a
//   valid request may write;
// - input is refused for a reason, never by surprise: the member logs
//   nothing at error level (a handler that throws unexpectedly does).
//
// Budget and replay, by environment:
//   KVORUM_FUZZ_CASES  number of cases (default 2500, about 15 s on 2 cores)
//   KVORUM_FUZZ_SEED   seed (default 13); each case has its own generator
//   KVORUM_FUZZ_CASE   run only this case number (replays a failure)
// A failure names the seed and case number and the command that replays it:
//   KVORUM_FUZZ_SEED=13 KVORUM_FUZZ_CASE=812 node scripts/run-tests.mjs fuzz-wire
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isReadOnly, makeCase, etcdMethod, type FuzzCase } from './fuzz-cases.js';
import { RawGrpc, gatewayPost } from './fuzz-client.js';
import { ProcessCluster, requireTools } from './process-cluster.js';

const envInt = (name: string, fallback: number): number => {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`${name}=${v} is not an integer`);
  return n;
};

const SEED = envInt('KVORUM_FUZZ_SEED', 13);
const CASES = envInt('KVORUM_FUZZ_CASES', 2500);
const ONLY = process.env.KVORUM_FUZZ_CASE ? envInt('KVORUM_FUZZ_CASE', 0) : undefined;
/** Share of cases sent to the JSON gateway. */
const GATEWAY_SHARE = 0.35;
/** Longer than any answer a healthy member needs on loopback, even on a loaded machine. */
const DEADLINE_MS = 10_000;
/** How long a gateway watch that asks for nothing is watched before its silence is accepted. */
const SILENT_WATCH_MS = 200;

/**
 * Whether a gateway watch body is zero or more JSON objects none of which
 * asks for anything: etcd 3.4's gateway answers those with silence (no
 * status line either) until the client goes away, and so does Kvorum's.
 */
function asksNothing(body: Buffer): boolean {
  let text = body.toString('utf8').trim();
  // Objects follow one another; read them one by one.
  try {
    while (text !== '') {
      let end = 0;
      let parsed: unknown;
      for (end = text.indexOf('}') + 1; end > 0; end = text.indexOf('}', end) + 1) {
        try {
          parsed = JSON.parse(text.slice(0, end));
          break;
        } catch {
          // not a whole object yet
        }
      }
      if (end <= 0 || !parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return false;
      const o = parsed as Record<string, unknown>;
      if (['create_request', 'createRequest', 'cancel_request', 'cancelRequest', 'progress_request', 'progressRequest'].some((k) => o[k] !== undefined && o[k] !== null)) return false;
      text = text.slice(end).trim();
    }
  } catch {
    return false;
  }
  return true;
}

interface StoreState {
  revision: string;
  leases: string[];
}

describe('wire fuzzing of a live member (issue 13)', () => {
  before(() => requireTools('etcdctl'));
  let c: ProcessCluster;
  let grpc: RawGrpc;
  let base: string;

  /** Error-level lines the member logged (pino level 50 and up). */
  const errorLines: string[] = [];
  before(async () => {
    c = await ProcessCluster.create('kvorum', 1);
    await c.startAll();
    for (const s of [c.members[0]!.process!.stdout!, c.members[0]!.process!.stderr!]) {
      s.on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) if (/"level":(5\d|60)\b/.test(line)) errorLines.push(line.slice(0, 1500));
      });
    }
    base = c.members[0]!.clientUrl;
    grpc = new RawGrpc(base);
  });
  after(async () => {
    grpc?.close();
    await c?.destroy();
  });

  /** The revision and the lease IDs, read with well-formed calls on a connection of their own. */
  let probe: RawGrpc | undefined;
  async function storeState(): Promise<StoreState> {
    const client = (probe ??= new RawGrpc(base));
    const frame = (msg: Buffer): Buffer => {
      const head = Buffer.alloc(5);
      head.writeUInt32BE(msg.length, 1);
      return Buffer.concat([head, msg]);
    };
    const range = etcdMethod('KV/Range');
    const r = await client.call('/etcdserverpb.KV/Range', frame(range.requestSerialize({ key: Buffer.from('fz-probe') })), { deadlineMs: DEADLINE_MS });
    const leases = etcdMethod('Lease/LeaseLeases');
    const l = await client.call('/etcdserverpb.Lease/LeaseLeases', frame(leases.requestSerialize({})), { deadlineMs: DEADLINE_MS });
    assert.equal(r?.status, 0, `the probe Range was answered: ${JSON.stringify(r)}`);
    assert.equal(l?.status, 0, `the probe LeaseLeases was answered: ${JSON.stringify(l)}`);
    const header = (range.responseDeserialize(r.messages[0]!) as { header: { revision: string } }).header;
    const list = (leases.responseDeserialize(l.messages[0]!) as { leases: { ID: string }[] }).leases.map((x) => x.ID).sort();
    return { revision: header.revision, leases: list };
  }
  after(() => probe?.close());

  /**
   * Sends one case; returns whether it was refused (or, for an outcome no
   * answer decides, `unknown`), or throws when it was not answered in time.
   */
  async function send(fc: FuzzCase): Promise<{ refused: boolean; unknown?: boolean; answer: string }> {
    if (fc.target === 'grpc') {
      const path = fc.path ?? `/etcdserverpb.${fc.method}`;
      const a = await grpc.call(path, fc.body, { headers: fc.headers, chunks: fc.chunks, deadlineMs: DEADLINE_MS, cancelHalfway: fc.cancelHalfway ?? false });
      if (!a) throw new Error(`no answer within ${DEADLINE_MS} ms`);
      if (a.cancelled) return { refused: false, unknown: true, answer: 'reset by the client' };
      if (a.reset !== undefined) throw new Error(`no gRPC status: ${a.reset}`);
      // Not a gRPC call (say, another content-type): answered as HTTP.
      if (a.status === undefined) return { refused: a.httpStatus !== 200, answer: `HTTP ${a.httpStatus} without grpc-status` };
      // A deadline or a cancellation says nothing of whether a write happened (for etcd too).
      const unknown = a.status === 1 || a.status === 4;
      return { refused: a.status !== 0 && !unknown, unknown, answer: `grpc-status ${a.status} ${a.message}` };
    }
    const stream = fc.path === '/v3/watch';
    const silentOk = stream && asksNothing(fc.body);
    const a = await gatewayPost(base, fc.path, fc.body, { deadlineMs: silentOk ? SILENT_WATCH_MS : DEADLINE_MS, stream });
    if (!a) {
      if (silentOk) return { refused: false, answer: 'silent (asks for nothing)' };
      throw new Error(`no answer within ${DEADLINE_MS} ms`);
    }
    if (a.status === 0) throw new Error(a.text);
    const refused = a.status !== 200 || /^\s*\{"error"/.test(a.text);
    return { refused, answer: `HTTP ${a.status} ${a.text.slice(0, 200)}` };
  }

  test(`seed ${SEED}: ${ONLY === undefined ? CASES : 1} cases — no crash, no hang, no write on refused input`, async () => {
    const counts = new Map<string, { refused: number; accepted: number }>();
    let state = await storeState();
    const first = ONLY ?? 0;
    const last = ONLY ?? CASES - 1;
    for (let n = first; n <= last; n++) {
      const fc = makeCase(SEED, n, GATEWAY_SHARE);
      const name = fc.target === 'grpc' ? fc.method : fc.path;
      const where = `seed ${SEED} case ${n} (${name}: ${fc.how.join(', ') || 'valid'}; body ${fc.body.length > 300 ? `${fc.body.length} bytes` : fc.body.toString(fc.target === 'grpc' ? 'hex' : 'utf8')})`;
      const replay = `replay: KVORUM_FUZZ_SEED=${SEED} KVORUM_FUZZ_CASE=${n} node scripts/run-tests.mjs fuzz-wire`;
      let result: { refused: boolean; unknown?: boolean; answer: string };
      try {
        result = await send(fc);
      } catch (err) {
        assert.fail(`${where}: ${(err as Error).message}; member alive: ${c.members[0]!.process?.exitCode === null}\n${replay}\n${c.members[0]!.log.join('').slice(-2000)}`);
      }
      const m = c.members[0]!.process;
      assert.ok(m && m.exitCode === null && m.signalCode === null, `${where}: the member exited\n${replay}\n${c.members[0]!.log.join('').slice(-3000)}`);
      const next = await storeState();
      // A lease that expired meanwhile (a case may have granted a short one and
      // attached a key to it) deletes its keys: that change is no case's doing.
      const expired = state.leases.some((id) => !next.leases.includes(id));
      if ((result.refused || isReadOnly(fc)) && !expired) {
        assert.equal(next.revision, state.revision, `${where}: answered ${result.answer}, yet the revision moved\n${replay}`);
      }
      const grant = fc.target === 'grpc' ? fc.method === 'Lease/LeaseGrant' : fc.path === '/v3/lease/grant';
      if (result.refused && grant) {
        const added = next.leases.filter((id) => !state.leases.includes(id));
        assert.deepEqual(added, [], `${where}: answered ${result.answer}, yet leases were granted\n${replay}`);
      }
      assert.deepEqual(errorLines, [], `${where}: answered ${result.answer}; the member logged an error\n${replay}`);
      state = next;
      const count = counts.get(name) ?? { refused: 0, accepted: 0 };
      if (!result.unknown) count[result.refused ? 'refused' : 'accepted']++;
      counts.set(name, count);
    }
    const health = await c.httpGet(`${base}/health`, 5000);
    assert.equal(health.status, 200, `/health after the run: ${health.body}`);
    assert.equal((JSON.parse(health.body) as { health: string }).health, 'true');
    const summary = [...counts].map(([k, v]) => `${k} ${v.refused}/${v.refused + v.accepted} refused`).join(', ');
    process.stdout.write(`# fuzz seed ${SEED}: ${summary}; final revision ${state.revision}, ${state.leases.length} leases\n`);
    // The cases must reach both sides of each method, or the fuzzer tests nothing.
    if (ONLY === undefined && CASES >= 500) {
      for (const [k, v] of counts) assert.ok(v.refused > 0, `${k}: some cases were refused`);
    }
  });
});
