// Issue 14, the operator's part: the chaos harness's checked client history
// (test/chaos/workload.ts: linearizable gets, puts, deletes and
// compare-and-swap txns on eight keys, resuming watchers with prev_kv and
// progress requests, compaction) sent through a 3-member KVCluster's client
// Service (its ready backends, re-read twice a second, as kube-proxy would
// follow them) while the operator, in sequence, scales 3 -> 5, back to 3,
// replaces a member whose data dir was wiped, rolls every member (a restart
// by annotation) and takes an on-demand backup to the environment's MinIO.
// Then the clients stop and the whole history is checked: linearizable
// (the simulator's checker and model), every watch session keeps etcd's
// watch guarantees (test/chaos/watch-checker.ts), every member's local view
// equals a linearizable read, and every step saw acknowledged operations.
//
// Run: KVORUM_E2E_SUBNET=247 npm run test:e2e -- operator-chaos
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { credentials, type ChannelCredentials, type ServiceClientConstructor } from '@grpc/grpc-js';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { dump as toYaml } from 'js-yaml';
import type { KubeClient } from './kube/client.js';
import { readS3 } from './env/cluster.js';
import { describeMembers, membershipMismatch, membershipView, type ClusterRef } from './operator/checker.js';
import { memberEndpoints, readClientTLS, serviceEndpoints, type ClientTLS, type Endpoint } from './operator/etcd-client.js';
import { killPodProcesses } from './operator/failover.js';
import { installOperator, operatorLogs, uninstallOperator, type OperatorInstall } from './operator/install.js';
import { kvcPath, waitAvailable } from './operator/kvcluster.js';
import { clusterEvents, upgradeStartedAt, waitRolledOut } from './operator/rollout.js';
import { createNamespace, deleteNamespace, eventually, kubeClient, kubectl, note, sleep } from './operator/util.js';
import { loadEtcdProtos } from '../../contract/index.js';
import { call, runClient, runCompactor, runWatcher, type KvClient, type Pb, type WatchClient, type WorkloadOptions } from '../chaos/workload.js';
import { checkWatches, type WatchSessionRecord } from '../chaos/watch-checker.js';
import { checkLinearizable } from '../sim/linearizability.js';
import { kvModel, type KvOperation } from '../sim/models.js';

const NAME = 'chaos';
const SEED = 1414;
const CLIENTS = 4;
const WATCHERS = 2;
const KEYS = 8;
const BUCKET = `kvorum-chaos-${Date.now().toString(36)}`;
const backupPath = (ns: string, name = ''): string => `/apis/kvorum.io/v1alpha1/namespaces/${ns}/kvbackups${name ? `/${name}` : ''}`;

/**
 * gRPC clients for whatever the client Service's EndpointSlices list as
 * ready, re-read every 500 ms; a call goes to a backend picked by the
 * caller's generator. Channels to backends that left are kept (a call in
 * flight on one finishes or fails by itself) and closed at the end.
 */
class ServiceBackends {
  private endpoints: Endpoint[] = [];
  private readonly pool = new Map<string, { kv: KvClient; watch: WatchClient }>();
  private readonly creds: ChannelCredentials;
  private stopped = false;
  private loop: Promise<void> | undefined;
  /** Distinct backend sets seen (for the report). */
  readonly seen = new Set<string>();

  constructor(
    private readonly kube: KubeClient,
    private readonly ns: string,
    private readonly cluster: string,
    tls: ClientTLS,
  ) {
    // The chain is verified against the cluster's CA; the name is not (pod IPs are dialled).
    this.creds = credentials.createSsl(tls.ca, tls.key, tls.cert, { checkServerIdentity: () => undefined });
  }

  async start(): Promise<void> {
    await eventually('the client Service lists ready backends', 60_000, async () => {
      this.endpoints = await serviceEndpoints(this.kube, this.ns, this.cluster);
      return this.endpoints.length > 0;
    });
    this.loop = (async () => {
      while (!this.stopped) {
        await sleep(500);
        try {
          this.endpoints = await serviceEndpoints(this.kube, this.ns, this.cluster);
          this.seen.add(this.endpoints.map((e) => e.name).join(','));
        } catch {
          // keep the last known backends
        }
      }
    })();
  }

  private clients(ep: Endpoint): { kv: KvClient; watch: WatchClient } {
    let c = this.pool.get(`${ep.name}@${ep.address}`);
    if (c === undefined) {
      const pkg = loadEtcdProtos().grpcObject.etcdserverpb as unknown as Record<string, ServiceClientConstructor>;
      const options = { 'grpc.initial_reconnect_backoff_ms': 200, 'grpc.max_reconnect_backoff_ms': 1000, 'grpc.ssl_target_name_override': ep.name };
      c = { kv: new pkg.KV!(ep.address, this.creds, options) as unknown as KvClient, watch: new pkg.Watch!(ep.address, this.creds, options) as unknown as WatchClient };
      this.pool.set(`${ep.name}@${ep.address}`, c);
    }
    return c;
  }

  kv(pick: (eps: readonly Endpoint[]) => Endpoint): KvClient | undefined {
    return this.endpoints.length === 0 ? undefined : this.clients(pick(this.endpoints)).kv;
  }

  watch(pick: (eps: readonly Endpoint[]) => Endpoint): WatchClient | undefined {
    return this.endpoints.length === 0 ? undefined : this.clients(pick(this.endpoints)).watch;
  }

  /** A client for one named member (any running pod, listed or not), for the final checks. */
  member(ep: Endpoint): KvClient {
    return this.clients(ep).kv;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    for (const c of this.pool.values()) {
      c.kv.close();
      c.watch.close();
    }
  }
}

const dump = (res: Pb): string => (res.kvs as { key: Buffer; value: Buffer }[]).map((kv) => `${kv.key.toString()}=${kv.value.toString()}`).join(',');

describe('the operator scales, replaces, rolls and backs up under a checked client history', () => {
  let kube: KubeClient;
  let opNs: string;
  let ns: string;
  let op: OperatorInstall | undefined;
  let ref: ClusterRef;
  let s3: S3Client | undefined;
  let backends: ServiceBackends | undefined;
  let resultsDir: string;
  const history: KvOperation[] = [];
  const sessions: WatchSessionRecord[] = [];
  let running = false;
  let traffic: Promise<unknown> | undefined;
  const t0 = performance.now();
  const now = (): number => Math.round((performance.now() - t0) * 1000) / 1000;
  /** Each step's window in history time, to show the traffic went on through it. */
  const steps: { what: string; from: number; to: number }[] = [];
  const logs = (): Promise<string> => (op ? operatorLogs(kube, op) : Promise.resolve(''));
  const podPath = (name: string): string => `/api/v1/namespaces/${ns}/pods/${name}`;
  const apply = async (obj: unknown): Promise<void> => {
    const r = await kubectl(['apply', '-n', ns, '-f', '-'], toYaml(obj));
    assert.equal(r.code, 0, r.err);
  };
  const acknowledgedBetween = (from: number, to: number): number => history.filter((o) => o.output !== undefined && o.ret >= from && o.ret <= to).length;
  /** Runs one step of the operator's and records its window. */
  const step = async (what: string, fn: () => Promise<void>): Promise<void> => {
    assert.ok(running, 'the clients are running');
    const from = now();
    const started = Date.now();
    await fn();
    const to = now();
    steps.push({ what, from, to });
    const acked = acknowledgedBetween(from, to);
    note(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s, ${acked} operations acknowledged meanwhile, ${sessions.length} watch sessions so far`);
    assert.ok(acked >= 20, `${what}: only ${acked} operations were acknowledged while it ran`);
  };
  const waitMembers = async (replicas: number, what: string): Promise<void> => {
    await waitAvailable(kube, ns, NAME, replicas, 300_000, logs);
    const view = await eventually(
      `${what}: member list == StatefulSet (${replicas})`,
      90_000,
      async () => {
        const v = await membershipView(ref);
        return membershipMismatch(v, replicas) === undefined && v;
      },
      async () => {
        const v = await membershipView(ref).catch((e: Error) => e.message);
        return typeof v === 'string' ? v : `${membershipMismatch(v, replicas)}; members ${describeMembers(v)}`;
      },
    );
    note(`${what}: members ${describeMembers(view)}`);
  };

  before(async () => {
    kube = kubeClient();
    resultsDir = mkdtempSync(join(tmpdir(), 'kvorum-opchaos-'));
    const info = readS3();
    s3 = new S3Client({ endpoint: info.endpoint, region: info.region, forcePathStyle: true, credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey } });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    opNs = await createNamespace(kube, 'kvop-chaos');
    ns = await createNamespace(kube, 'kvc-chaos');
    // One operator replica (HA has its own tests) saves CPU on a small machine.
    op = await installOperator(kube, opNs, { sets: ['replicaCount=1'] });
    await apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's3' }, stringData: { AWS_ACCESS_KEY_ID: info.accessKeyId, AWS_SECRET_ACCESS_KEY: info.secretAccessKey } });
    await apply({
      apiVersion: 'kvorum.io/v1alpha1',
      kind: 'KVCluster',
      metadata: { name: NAME },
      spec: { replicas: 3, backup: { destination: { bucket: BUCKET, prefix: 'chaos', endpoint: info.endpoint, forcePathStyle: true }, credentialsSecret: { name: 's3' } } },
    });
    await waitAvailable(kube, ns, NAME, 3, 240_000, logs);
    const tls = await readClientTLS(kube, ns, `${NAME}-client-tls`);
    ref = { kube, namespace: ns, cluster: NAME, tls };
    backends = new ServiceBackends(kube, ns, NAME, tls);
    await backends.start();
    const b = backends;
    running = true;
    const workload: WorkloadOptions = {
      seed: SEED,
      clients: CLIENTS,
      keys: KEYS,
      active: () => running,
      now,
      kv: (r) => b.kv((eps) => r.pick(eps)),
      watch: (r) => b.watch((eps) => r.pick(eps)),
      // Paced a little: the control plane, the operator and up to five members share two cores.
      pauseMs: 20,
      compactEveryMs: [1000, 3000],
    };
    traffic = Promise.all([
      runCompactor(workload),
      ...Array.from({ length: CLIENTS }, (_, i) => runClient(workload, i, history)),
      ...Array.from({ length: WATCHERS }, (_, i) => runWatcher(workload, i, sessions)),
    ]);
    await eventually('the clients are being answered', 60_000, async () => acknowledgedBetween(0, now()) >= 100);
  });

  after(async () => {
    running = false;
    await traffic?.catch(() => undefined);
    await backends?.stop();
    await kube.delete(backupPath(ns)).catch(() => false);
    await kube.delete(kvcPath(ns, NAME)).catch(() => false);
    await eventually('KVCluster gone', 60_000, async () => (await kube.find(kvcPath(ns, NAME))) === undefined).catch(() => undefined);
    if (op) await uninstallOperator(op);
    await deleteNamespace(kube, ns);
    await deleteNamespace(kube, opNs);
    kube.close();
    s3?.destroy();
  });

  test('scale 3 -> 5', async () => {
    await step('scale 3 -> 5', async () => {
      const r = await kubectl(['scale', 'kvc', NAME, '-n', ns, '--replicas=5']);
      assert.equal(r.code, 0, r.err);
      await waitMembers(5, 'scale to 5');
    });
  });

  test('scale 5 -> 3', async () => {
    await step('scale 5 -> 3', async () => {
      const r = await kubectl(['patch', 'kvc', NAME, '-n', ns, '--type=merge', '-p', '{"spec":{"replicas":3}}']);
      assert.equal(r.code, 0, r.err);
      await waitMembers(3, 'scale to 3');
    });
  });

  test('a member whose data dir is wiped is replaced under a new member ID', async () => {
    await step('lost data', async () => {
      const before = await membershipView(ref);
      const victim = `${NAME}-1`;
      const since = Date.now();
      const oldId = before.members.find((m) => m.name === victim)?.id;
      assert.ok(oldId, `${victim} in the member list: ${describeMembers(before)}`);
      const pod = await kube.get(podPath(victim));
      const claim = await kube.get(`/api/v1/namespaces/${ns}/persistentvolumeclaims/data-${victim}`);
      const pv = await kube.get(`/api/v1/persistentvolumes/${claim.spec.volumeName as string}`);
      const volume = pv.spec.hostPath?.path as string | undefined;
      assert.ok(volume, `PV ${pv.metadata.name} is a hostPath volume`);
      assert.ok(readdirSync(volume).length > 0, `${volume} holds the member's data`);
      // The disk is gone: the member dies at once (no graceful shutdown that
      // could write into the directory), its data dir is emptied, and its pod
      // is deleted; the StatefulSet brings it back on the same, empty claim.
      killPodProcesses(pod);
      for (const entry of readdirSync(volume)) rmSync(join(volume, entry), { recursive: true, force: true });
      await kube.delete(podPath(victim), { gracePeriodSeconds: 0 });
      note(`${victim} (member ${oldId}) killed, ${volume} wiped, pod deleted`);
      await eventually(`${victim} re-added under a new member ID`, 300_000, async () => {
        const v = await membershipView(ref);
        const m = v.members.find((x) => x.name === victim);
        return m !== undefined && m.id !== oldId && !m.isLearner && membershipMismatch(v, 3) === undefined;
      }, async () => `${describeMembers(await membershipView(ref))}\n${(await logs()).slice(-3000)}`, 2000);
      await waitMembers(3, 'lost data');
      // The operator said why: the member removed as one that lost its data, then added back.
      const events = (await clusterEvents(kube, ns, NAME)).filter((e) => e.at >= since - 1000 && e.message.includes(victim));
      note(`operator Events about ${victim}: ${events.map((e) => `${e.reason}: ${e.message}`).join(' | ')}`);
      assert.ok(
        events.some((e) => e.reason === 'MemberRemoved' && e.message.includes('lost its data')),
        `a MemberRemoved Event says ${victim} lost its data: ${events.map((e) => `${e.reason}: ${e.message}`).join(' | ')}`,
      );
      assert.ok(events.some((e) => e.reason === 'MemberReplaced'), `a MemberReplaced Event names ${victim}`);
    });
  });

  test('a rolling restart replaces every member once', async () => {
    await step('rolling restart', async () => {
      const startedBefore = await upgradeStartedAt(kube, ns, NAME);
      const since = Date.now();
      const r = await kubectl(['patch', 'kvc', NAME, '-n', ns, '--type=merge', '-p', JSON.stringify({ metadata: { annotations: { 'kvorum.io/restartedAt': new Date().toISOString() } } })]);
      assert.equal(r.code, 0, r.err);
      await waitRolledOut(kube, ns, NAME, 3, 'the rolling restart completed', startedBefore, 10 * 60_000, logs);
      const replaced = (await clusterEvents(kube, ns, NAME)).filter((e) => e.at >= since - 1000 && e.reason === 'MemberReplaced');
      assert.equal(replaced.length, 3, replaced.map((e) => e.message).join(' | '));
      await waitMembers(3, 'rolling restart');
    });
  });

  test('an on-demand backup completes', async () => {
    await step('backup', async () => {
      await apply({ apiVersion: 'kvorum.io/v1alpha1', kind: 'KVBackup', metadata: { name: 'under-chaos' }, spec: { cluster: NAME } });
      const done = await eventually('KVBackup under-chaos Completed or Failed', 180_000, async () => {
        const b = await kube.find(backupPath(ns, 'under-chaos'));
        return ['Completed', 'Failed'].includes(b?.status?.phase as string) ? b : undefined;
      }, async () => `${JSON.stringify((await kube.find(backupPath(ns, 'under-chaos')))?.status)}\n${(await logs()).slice(-3000)}`, 1000);
      const st = done.status as Record<string, unknown>;
      assert.equal(st.phase, 'Completed', JSON.stringify(st));
      note(`backup: revision ${st.revision}, ${st.size} bytes from ${st.member}`);
      assert.ok(Number(st.revision) > 100, `the backup holds the history's writes (revision ${st.revision})`);
      // The clients go on for a few seconds after the backup, so it is not the last thing they saw.
      await sleep(5000);
    });
  });

  test('the whole history is linearizable, every watch keeps its guarantees, and the members agree', async () => {
    // Checked even when a step failed: the history up to there still counts.
    running = false;
    await traffic;
    traffic = undefined;
    assert.ok(backends);
    // The revision no watch event may pass, and the view every member must reach.
    const eps = await memberEndpoints(kube, ns, NAME);
    assert.equal(eps.length, 3);
    const final = await eventually('a linearizable read of the key space', 60_000, async () => {
      for (const ep of eps) {
        const res = await call(backends!.member(ep), 'Range', { key: Buffer.from('k'), range_end: Buffer.from('l') }, 5000).catch(() => undefined);
        if (res) return res;
      }
      return undefined;
    });
    const lastRevision = Number((final.header as { revision: string }).revision);
    const disagree: string[] = [];
    for (const ep of eps) {
      const local = await eventually(`${ep.name} caught up to revision ${lastRevision}`, 60_000, async () => {
        const res = await call(backends!.member(ep), 'Range', { key: Buffer.from('k'), range_end: Buffer.from('l'), serializable: true }, 2000);
        return Number((res.header as { revision: string }).revision) >= lastRevision && res;
      });
      if (dump(local) !== dump(final)) disagree.push(`${ep.name} holds ${dump(local)}, the cluster ${dump(final)}`);
    }

    writeFileSync(join(resultsDir, 'history.json'), JSON.stringify(history.map((o) => ({ ...o, ret: Number.isFinite(o.ret) ? o.ret : null }))));
    writeFileSync(join(resultsDir, 'watches.json'), JSON.stringify(sessions));
    writeFileSync(join(resultsDir, 'steps.json'), JSON.stringify(steps, null, 1));
    const checkStarted = performance.now();
    const lin = checkLinearizable(kvModel, history, { maxSteps: 5_000_000 });
    const checkMs = Math.round(performance.now() - checkStarted);
    const watches = checkWatches(sessions, { lastRevision });
    const acknowledged = history.filter((o) => o.output !== undefined).length;
    const byOp = new Map<string, number>();
    for (const o of history) byOp.set(o.input.op, (byOp.get(o.input.op) ?? 0) + 1);
    note(
      `history: ${history.length} operations (${acknowledged} acknowledged, ${history.length - acknowledged} unknown outcome; ${[...byOp].map(([k, v]) => `${k} ${v}`).join(', ')}), ` +
        `linearizability ${lin.result} in ${checkMs} ms; ${watches.sessions} watch sessions, ${watches.events} events, ${watches.progressNotifications} progress notifications, ` +
        `${watches.violations.length} watch violations; final revision ${lastRevision}; ${backends.seen.size} distinct backend sets; results in ${resultsDir}`,
    );
    assert.equal(lin.result, 'ok', `linearizability: ${lin.result === 'ok' ? '' : lin.explanation}; history in ${resultsDir}`);
    assert.deepEqual(watches.violations, [], `watch violations; sessions in ${resultsDir}`);
    assert.deepEqual(disagree, []);
    assert.ok(acknowledged >= 1000, `only ${acknowledged} operations acknowledged`);
    assert.ok(watches.events >= 500, `the watchers saw only ${watches.events} events`);
    assert.ok(watches.sessions >= 2, `${watches.sessions} watch sessions`);
    assert.deepEqual(steps.map((x) => x.what), ['scale 3 -> 5', 'scale 5 -> 3', 'lost data', 'rolling restart', 'backup'], 'every step ran under the clients');
    rmSync(resultsDir, { recursive: true, force: true });
  });
});
