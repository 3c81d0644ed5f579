// What the rollout tests watch while the operator replaces member pods: the
// KVCluster's Events, the members' image tags, the end of a rollout in
// status.upgrade, and two timelines sampled while it runs: the member pods
// (which uid each member had, how many were down at once) and the Raft
// leader (who led, in which term).
import type { KubeClient, KubeList, KubeObject } from '../kube/client.js';
import { memberEndpoints, MemberClients, type ClientTLS } from './etcd-client.js';
import { kvcPath, summary, waitAvailable } from './kvcluster.js';
import { eventually, isPodReady, sleep } from './util.js';

export interface ClusterEvent {
  reason: string;
  message: string;
  type: string;
  at: number;
}

/** The KVCluster's Events, oldest first. */
export async function clusterEvents(kube: KubeClient, ns: string, name: string): Promise<ClusterEvent[]> {
  const sel = encodeURIComponent(`involvedObject.kind=KVCluster,involvedObject.name=${name}`);
  const list = await kube.get<KubeList>(`/api/v1/namespaces/${ns}/events?fieldSelector=${sel}`);
  return list.items
    .map((e: KubeObject) => ({
      reason: e.reason as string,
      message: e.message as string,
      type: e.type as string,
      at: Date.parse((e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp) as string),
    }))
    .sort((a, b) => a.at - b.at);
}

/** The member each MemberReplaced event names, in order. */
export const replacedInEvents = (events: ClusterEvent[]): string[] =>
  events.filter((e) => e.reason === 'MemberReplaced').map((e) => /replacing (\S+)/.exec(e.message)?.[1] ?? '?');

/** `<pod>=<image tag>` for each member pod, sorted. */
export async function podImages(kube: KubeClient, ns: string, name: string): Promise<string[]> {
  const sel = encodeURIComponent(`app.kubernetes.io/instance=${name}`);
  const pods = await kube.get<KubeList>(`/api/v1/namespaces/${ns}/pods?labelSelector=${sel}`);
  return pods.items.map((p: KubeObject) => `${p.metadata.name}=${(p.spec.containers[0].image as string).split(':').pop()}`).sort();
}

export const imagesAll = (name: string, replicas: number, tag: string): string[] => Array.from({ length: replicas }, (_, o) => `${name}-${o}=${tag}`);

/**
 * Waits until a rollout other than the one that started at `since` has
 * completed (status.upgrade.completedAt), then until the cluster is Available
 * with `replicas` members.
 */
export async function waitRolledOut(
  kube: KubeClient,
  ns: string,
  name: string,
  replicas: number,
  what: string,
  since: string | undefined,
  timeoutMs: number,
  logs: () => Promise<string>,
): Promise<KubeObject> {
  let last: KubeObject | undefined;
  await eventually(
    what,
    timeoutMs,
    async () => {
      const kvc = await kube.get(kvcPath(ns, name));
      last = kvc;
      const u = kvc.status?.upgrade as { completedAt?: string; startedAt?: string } | undefined;
      return u?.completedAt !== undefined && u.startedAt !== since;
    },
    async () => `last status: ${summary(last)} upgrade ${JSON.stringify(last?.status?.upgrade)}\n${await logs()}`,
    2000,
  );
  return waitAvailable(kube, ns, name, replicas, 120_000, logs);
}

/** status.upgrade.startedAt now (to tell the next rollout from this one). */
export async function upgradeStartedAt(kube: KubeClient, ns: string, name: string): Promise<string | undefined> {
  return ((await kube.get(kvcPath(ns, name))).status?.upgrade as { startedAt?: string } | undefined)?.startedAt;
}

/** A sampler that runs until stopped; `sample` must not throw for long (errors are counted). */
abstract class Timeline {
  private stopped = false;
  private running: Promise<void> | undefined;
  errors = 0;

  constructor(private readonly intervalMs: number) {}

  start(): this {
    this.running = (async () => {
      while (!this.stopped) {
        try {
          await this.sample();
        } catch {
          this.errors++;
        }
        await sleep(this.intervalMs);
      }
    })();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  protected abstract sample(): Promise<void>;
}

export interface PodIncarnation {
  uid: string;
  created: string;
  firstSeen: number;
}

/**
 * The member pods sampled every `intervalMs`: each member's incarnations
 * (pod uids, with creation time) in the order seen, and the most members that
 * were down at once (no pod, not Ready, or terminating).
 */
export class PodTimeline extends Timeline {
  readonly incarnations = new Map<string, PodIncarnation[]>();
  maxDown = 0;
  /** When the most members were down, which they were. */
  worst: string[] = [];
  samples = 0;

  constructor(
    private readonly kube: KubeClient,
    private readonly ns: string,
    private readonly cluster: string,
    private readonly replicas: number,
    intervalMs = 250,
  ) {
    super(intervalMs);
  }

  protected async sample(): Promise<void> {
    const sel = encodeURIComponent(`app.kubernetes.io/instance=${this.cluster},app.kubernetes.io/name=kvorum`);
    const pods = (await this.kube.get<KubeList>(`/api/v1/namespaces/${this.ns}/pods?labelSelector=${sel}`)).items;
    this.samples++;
    const down: string[] = [];
    for (let o = 0; o < this.replicas; o++) {
      const name = `${this.cluster}-${o}`;
      const pod = pods.find((p) => p.metadata.name === name);
      if (!pod || pod.metadata.deletionTimestamp || !isPodReady(pod)) down.push(name);
      if (!pod) continue;
      const seen = this.incarnations.get(name) ?? [];
      if (!seen.some((i) => i.uid === pod.metadata.uid)) seen.push({ uid: pod.metadata.uid as string, created: pod.metadata.creationTimestamp as string, firstSeen: Date.now() });
      this.incarnations.set(name, seen);
    }
    if (down.length > this.maxDown) {
      this.maxDown = down.length;
      this.worst = down;
    }
  }

  /** Members with other than `n` incarnations, as `name: uid@created, ...`. */
  notReplacedExactly(n: number): string[] {
    const out: string[] = [];
    for (let o = 0; o < this.replicas; o++) {
      const name = `${this.cluster}-${o}`;
      const inc = this.incarnations.get(name) ?? [];
      if (inc.length !== n) out.push(`${name}: ${inc.map((i) => `${i.uid.slice(0, 8)}@${i.created}`).join(', ') || 'never seen'}`);
    }
    return out;
  }

  describe(): string {
    return [...this.incarnations].map(([name, inc]) => `${name}: ${inc.map((i) => `${i.uid.slice(0, 8)}@${i.created}`).join(' -> ')}`).join('; ');
  }
}

export interface LeaderSample {
  leader: string;
  term: number;
  at: number;
}

/**
 * The Raft leader sampled every `intervalMs` (Status of any member, names from
 * MemberList): the distinct leaderships seen (a new leader or a new term), and
 * the highest term seen. Terms count elections the sampling may miss: with
 * PreVote a term only grows when a candidate won a real vote or a leader was
 * moved, so the term's growth bounds the number of leader changes.
 */
export class LeaderTimeline extends Timeline {
  readonly changes: LeaderSample[] = [];
  private readonly clients: MemberClients;
  private names = new Map<string, string>();

  constructor(
    private readonly kube: KubeClient,
    private readonly ns: string,
    private readonly cluster: string,
    tls: ClientTLS | undefined,
    intervalMs = 200,
  ) {
    super(intervalMs);
    this.clients = new MemberClients(tls);
  }

  protected async sample(): Promise<void> {
    const eps = await memberEndpoints(this.kube, this.ns, this.cluster);
    // Ask every member: the highest term any of them reports, with its leader.
    const answers = await Promise.all(eps.map((ep) => this.clients.get(ep).status(1000).catch(() => undefined)));
    const best = answers.filter((a) => a !== undefined && a.leader !== '0').sort((a, b) => b!.raftTerm - a!.raftTerm)[0];
    if (!best) return;
    if (!this.names.has(best.leader)) {
      const any = eps[answers.indexOf(best)];
      for (const m of await this.clients.get(any).memberList(2000)) this.names.set(m.id, m.name);
    }
    const leader = this.names.get(best.leader) ?? best.leader;
    const prev = this.changes.at(-1);
    if (!prev || prev.term !== best.raftTerm || prev.leader !== leader) this.changes.push({ leader, term: best.raftTerm, at: Date.now() });
  }

  override async stop(): Promise<void> {
    await super.stop();
    this.clients.close();
  }

  /** Leader changes seen after the first sample, and the term's growth over the run. */
  summary(): { changes: number; termGrowth: number; sequence: string } {
    const first = this.changes[0];
    const last = this.changes.at(-1);
    return {
      changes: Math.max(0, this.changes.length - 1),
      termGrowth: first && last ? last.term - first.term : 0,
      sequence: this.changes.map((c) => `${c.leader}@t${c.term}`).join(' -> '),
    };
  }
}
