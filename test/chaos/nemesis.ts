// The chaos run's fault injector: one fault at a time, chosen by the seed
// among the kinds switched on (faults.ts), each undone before the next.
// Process faults act on the member processes (signals, restarts with disk
// failpoints in their environment, a torn WAL tail between kill and
// restart); network faults act on the peer proxies (proxy.ts) that every
// member's peer traffic passes through; membership changes and leadership
// transfers go through the cluster's own API, sometimes while a network
// fault is running.
import { rm } from 'node:fs/promises';
import type { ServiceError } from '@grpc/grpc-js';
import { advertisedPeerUrl, type ProcessCluster, type ProcessMember } from '../integration/process-cluster.js';
import type { Rng } from '../sim/rng.js';
import { AdminClient, type MemberInfo } from './cluster-admin.js';
import { pickFault, type FaultKind } from './faults.js';
import { ANY_SENDER, type PeerProxy } from './proxy.js';
import { tearWalTail } from './wal-tear.js';

/** What the nemesis needs from the harness. */
export interface NemesisHost {
  cluster: ProcessCluster;
  /** The proxy in front of each member's peer port, by member name (empty without network faults). */
  proxies: Map<string, PeerProxy>;
  rng: Rng;
  kinds: readonly FaultKind[];
  /** Adds to the fault timeline: an injected fault when `kind` is given, else a restart, repair or observation. */
  record(what: string, opts?: { kind?: FaultKind; member?: ProcessMember; detail?: string }): void;
  violation(what: string): void;
  /** SIGKILL, an expected exit. */
  kill(m: ProcessMember): Promise<void>;
  /** Starts the member's process (with m.env), logging to its results file. */
  start(m: ProcessMember, state?: 'new' | 'existing'): void;
  /** Marks the member's running process as allowed to exit by itself; resolves with its exit status. */
  expectOwnExit(m: ProcessMember): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Members down or frozen now (restored by the harness if a fault ends early). */
  dead: Set<ProcessMember>;
  stopped: Set<ProcessMember>;
  /** False once the run is ending. */
  active(): boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const FAILPOINT_ENV = (action: string): Record<string, string> => ({ KVORUM_TEST_FAILPOINTS: '1', KVORUM_FAILPOINTS: `wal-fsync=${action}` });
const NO_FAILPOINTS = { KVORUM_TEST_FAILPOINTS: undefined, KVORUM_FAILPOINTS: undefined };
const message = (err: unknown): string => ((err as ServiceError).details ?? (err as Error).message ?? String(err)).split('\n')[0]!;

export class Nemesis {
  private readonly admins = new Map<string, AdminClient>();

  constructor(private readonly h: NemesisHost) {}

  close(): void {
    for (const a of this.admins.values()) a.close();
  }

  /** Runs one fault (or a quiet spell) to its end. */
  async step(): Promise<void> {
    const { rng } = this.h;
    const kind = pickFault(this.h.kinds, rng.next());
    const victim = rng.pick(this.h.cluster.members);
    switch (kind) {
      case undefined:
        await sleep(rng.int(500, 1500));
        return;
      case 'kill':
        return this.killOne(victim);
      case 'kill-all':
        return this.killAll();
      case 'stop':
        return this.stop(victim);
      case 'partition':
      case 'loss':
      case 'delay':
        return this.network(kind, rng.int(1000, 4000));
      case 'disk-stall':
        return this.diskStall(victim);
      case 'disk-fail':
        return this.diskFail(victim);
      case 'torn-tail':
        return this.tornTail(victim);
      case 'membership':
        return this.withBackgroundNetworkFault(() => this.replaceMember(victim));
      case 'move-leader':
        return this.withBackgroundNetworkFault(() => this.moveLeader());
    }
  }

  private async killOne(m: ProcessMember): Promise<void> {
    this.h.record('kill -9', { kind: 'kill', member: m });
    await this.down(m);
    await sleep(this.h.rng.int(300, 2000));
    this.up(m, 'restart');
  }

  private async killAll(): Promise<void> {
    this.h.record('kill -9 all', { kind: 'kill-all' });
    for (const m of this.h.cluster.members) await this.down(m);
    await sleep(this.h.rng.int(200, 1000));
    this.h.record('restart all');
    for (const m of this.h.cluster.members) this.up(m);
  }

  private async stop(m: ProcessMember): Promise<void> {
    this.h.record('SIGSTOP', { kind: 'stop', member: m });
    m.process?.kill('SIGSTOP');
    this.h.stopped.add(m);
    await sleep(this.h.rng.int(500, 3000));
    this.h.record('SIGCONT', { member: m });
    m.process?.kill('SIGCONT');
    this.h.stopped.delete(m);
  }

  private async down(m: ProcessMember): Promise<void> {
    await this.h.kill(m);
    this.h.dead.add(m);
  }

  private up(m: ProcessMember, what?: string, state: 'new' | 'existing' = 'new'): void {
    if (what !== undefined) this.h.record(what, { member: m });
    this.h.start(m, state);
    this.h.dead.delete(m);
  }

  // --- network faults (through the peer proxies) -------------------------

  /** Sets a network fault of `kind`, keeps it `ms`, then clears every link. */
  private async network(kind: 'partition' | 'loss' | 'delay', ms: number): Promise<void> {
    if (this.h.proxies.size === 0) return;
    const undo = await this.setNetworkFault(kind);
    try {
      await sleep(ms);
    } finally {
      undo();
    }
  }

  private async setNetworkFault(kind: 'partition' | 'loss' | 'delay'): Promise<() => void> {
    const { rng } = this.h;
    const members = this.h.cluster.members;
    const ids = await this.ids();
    const proxy = (m: ProcessMember): PeerProxy => this.h.proxies.get(m.name)!;
    const id = (m: ProcessMember): string => ids.get(m.name) ?? '?';
    const clear = (): void => {
      for (const p of this.h.proxies.values()) p.clearFaults();
      this.h.record(`${kind} healed`);
    };
    if (kind === 'partition') {
      const roll = rng.next();
      if (roll < 0.7) {
        // Two sides, cut both ways: one member (the leader half of the time) or a minority.
        const leader = roll < 0.35 ? await this.leader() : undefined;
        const side = leader ? [leader] : rng.shuffle(members).slice(0, rng.int(1, Math.floor((members.length - 1) / 2)));
        const other = members.filter((m) => !side.includes(m));
        for (const a of side) {
          for (const b of other) {
            proxy(a).setFault(id(b), { drop: true });
            proxy(b).setFault(id(a), { drop: true });
          }
        }
        this.h.record(`partition ${side.map((m) => m.name).join(',')} | ${other.map((m) => m.name).join(',')}${leader ? ' (the leader alone)' : ''}`, { kind });
      } else {
        // One way: the member hears nobody, while its own messages still arrive.
        const deaf = rng.pick(members);
        proxy(deaf).setFault(ANY_SENDER, { drop: true });
        this.h.record('partition one-way: hears nobody', { kind, member: deaf });
      }
      return clear;
    }
    if (kind === 'loss') {
      const links: string[] = [];
      for (let i = rng.int(1, members.length - 1); i > 0; i--) {
        const to = rng.pick(members);
        const from = rng.pick(members.filter((m) => m !== to));
        const lossRate = rng.int(20, 80) / 100;
        proxy(to).setFault(id(from), { lossRate });
        links.push(`${from.name}->${to.name} ${Math.round(lossRate * 100)}%`);
      }
      this.h.record(`one-way loss ${links.join(', ')}`, { kind });
      return clear;
    }
    const delayMs = rng.int(20, 150);
    const jitterMs = rng.int(0, 100);
    const towards = rng.chance(0.5) ? [rng.pick(members)] : members;
    for (const m of towards) proxy(m).setFault(ANY_SENDER, { delayMs, jitterMs });
    this.h.record(`delay ${delayMs} ms + jitter ${jitterMs} ms towards ${towards.length === 1 ? towards[0]!.name : 'every member'}`, { kind });
    return clear;
  }

  /**
   * Membership changes and leadership transfers happen during faults:
   * sometimes a delay or loss starts with them and heals 1 to 4 s later
   * (a learner behind a lossy link would otherwise never catch up).
   */
  private async withBackgroundNetworkFault(action: () => Promise<void>): Promise<void> {
    const background = this.h.kinds.filter((k): k is 'loss' | 'delay' => k === 'loss' || k === 'delay');
    if (this.h.proxies.size === 0 || background.length === 0 || !this.h.rng.chance(0.4)) return action();
    const undo = await this.setNetworkFault(this.h.rng.pick(background));
    let healed = false;
    const heal = (): void => {
      if (healed) return;
      healed = true;
      clearTimeout(timer);
      undo();
    };
    const timer = setTimeout(heal, this.h.rng.int(1000, 4000));
    try {
      await action();
    } finally {
      heal();
    }
  }

  // --- disk faults (failpoints in the member's environment) --------------

  private async diskStall(m: ProcessMember): Promise<void> {
    const ms = this.h.rng.int(100, 600);
    this.h.record(`disk stall: restarted with every fsync ${ms} ms slower`, { kind: 'disk-stall', member: m });
    await this.down(m);
    m.env = { ...m.env, ...FAILPOINT_ENV(`delay:${ms}`) };
    this.up(m);
    try {
      await sleep(this.h.rng.int(2000, 5000));
    } finally {
      await this.down(m);
      m.env = { ...m.env, ...NO_FAILPOINTS };
      this.up(m, 'restart with a healthy disk');
    }
  }

  private async diskFail(m: ProcessMember): Promise<void> {
    const after = this.h.rng.int(0, 30);
    this.h.record(`disk failure: restarted with fsync failing after ${after} calls`, { kind: 'disk-fail', member: m });
    await this.down(m);
    m.env = { ...m.env, ...FAILPOINT_ENV(`fail-after:${after}`) };
    this.up(m);
    const exited = this.h.expectOwnExit(m);
    try {
      const outcome = await Promise.race([exited, sleep(this.h.rng.int(3000, 8000)).then(() => undefined)]);
      if (outcome === undefined) {
        this.h.record('still running on the failing disk (no failing fsync yet); killed', { member: m });
      } else if (outcome.code === 0 || outcome.code === 65) {
        // Exit 0 says all was well, 65 that its data is corrupt: neither is the truth.
        this.h.violation(`${m.name} exited with code ${outcome.code} when its fsync failed (expected a failure status other than 0 and 65)`);
      } else {
        this.h.record(`exited on the failed fsync (code ${outcome.code}, signal ${outcome.signal}), as it must`, { member: m });
      }
    } finally {
      await this.down(m);
      m.env = { ...m.env, ...NO_FAILPOINTS };
      this.up(m, 'restart with a healthy disk');
    }
  }

  private async tornTail(m: ProcessMember): Promise<void> {
    await this.down(m);
    const torn = await tearWalTail(m.dataDir, this.h.rng.next());
    this.h.record(
      torn ? `kill -9, then a torn WAL tail: ${torn.bytes} bytes of a partial record at ${torn.segment}:${torn.offset}` : 'kill -9 (no WAL segment to tear)',
      { kind: 'torn-tail', member: m },
    );
    await sleep(this.h.rng.int(100, 500));
    this.up(m, 'restart');
  }

  // --- membership and leadership ----------------------------------------

  /**
   * Removes `m`, wipes its data dir, adds it back as a learner (a new
   * member ID), starts it to join, and promotes it once caught up. Each
   * call is retried until it takes effect, checked against the member
   * list (a retried add or remove may have taken effect the first time).
   */
  private async replaceMember(m: ProcessMember): Promise<void> {
    const peerUrl = advertisedPeerUrl(m);
    const others = this.h.cluster.members.filter((x) => x !== m);
    const find = (list: MemberInfo[]): MemberInfo | undefined => list.find((x) => x.peerUrls.includes(peerUrl));
    const before = await this.retry('member list', others, (a) => a.members(), 10_000);
    const old = before && find(before);
    if (!old) return;
    const removed = await this.retry('member remove', others, async (a) => {
      await a.remove(old.id).catch(async (err: unknown) => {
        if (find(await a.members())?.id === old.id) throw err;
      });
      return true;
    });
    if (removed === undefined) return;
    this.h.record(`member remove ${old.id}`, { kind: 'membership', member: m });
    await this.down(m);
    await rm(m.dataDir, { recursive: true, force: true });
    this.h.record('data dir wiped', { member: m });
    await sleep(this.h.rng.int(0, 1000));
    const added = await this.retry(
      'member add --learner',
      others,
      async (a) => {
        const id = await a.add(peerUrl, true).catch(async (err: unknown) => {
          const entry = find(await a.members());
          if (!entry) throw err;
          return entry.id;
        });
        return id;
      },
      60_000,
    );
    if (added === undefined) {
      this.h.violation(`${m.name} was removed and could not be added back within 60 s`);
      return;
    }
    this.h.record(`member add --learner ${added}`, { member: m });
    m.env = { ...m.env, ...NO_FAILPOINTS };
    this.up(m, 'start to join', 'existing');
    const promoted = await this.retry(
      'member promote',
      this.h.cluster.members,
      async (a) => {
        await a.promote(added).catch(async (err: unknown) => {
          if (find(await a.members())?.isLearner !== false) throw err;
        });
        return true;
      },
      60_000,
      500,
    );
    if (promoted === undefined) this.h.violation(`learner ${m.name} (${added}) was not promoted within 60 s`);
    else this.h.record(`member promote ${added}`, { member: m });
  }

  private async moveLeader(): Promise<void> {
    const leader = await this.leader();
    const ids = await this.ids();
    const voters = await this.retry('member list', this.h.cluster.members, (a) => a.members(), 5000);
    if (!leader || !voters) return;
    const targets = this.h.cluster.members.filter((m) => m !== leader && voters.some((v) => v.id === ids.get(m.name) && !v.isLearner));
    if (targets.length === 0) return;
    const target = this.h.rng.pick(targets);
    this.h.record(`MoveLeader ${leader.name} -> ${target.name}`, { kind: 'move-leader', member: leader });
    await this.admin(leader)
      .moveLeader(ids.get(target.name)!, 5000)
      .then(
        () => this.h.record(`${target.name} leads`),
        (err: unknown) => this.h.record(`MoveLeader refused: ${message(err)}`),
      );
  }

  // --- helpers ------------------------------------------------------------

  private admin(m: ProcessMember): AdminClient {
    let a = this.admins.get(m.name);
    if (!a) {
      a = new AdminClient(m.clientUrl);
      this.admins.set(m.name, a);
    }
    return a;
  }

  /** Member name -> ID (hex), from the member list. */
  private async ids(): Promise<Map<string, string>> {
    const list = (await this.retry('member list', this.h.cluster.members, (a) => a.members(), 5000)) ?? [];
    const out = new Map<string, string>();
    for (const m of this.h.cluster.members) {
      const entry = list.find((x) => x.peerUrls.includes(advertisedPeerUrl(m)));
      if (entry) out.set(m.name, entry.id);
    }
    return out;
  }

  /** The member that leads, as the members running now report it; undefined when none is known. */
  async leader(): Promise<ProcessMember | undefined> {
    const ids = await this.ids();
    for (const m of this.h.rng.shuffle(this.h.cluster.members)) {
      if (!m.process) continue;
      const s = await this.admin(m)
        .status()
        .catch(() => undefined);
      if (s?.leader === undefined) continue;
      return this.h.cluster.members.find((x) => ids.get(x.name) === s.leader);
    }
    return undefined;
  }

  /** Tries `action` on running members in turn until it succeeds or `timeoutMs` passes; undefined on giving up (so `action` must not resolve to undefined). */
  private async retry<T extends NonNullable<unknown>>(what: string, via: ProcessMember[], action: (a: AdminClient) => Promise<T>, timeoutMs = 15_000, pauseMs = 200): Promise<T | undefined> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (let i = 0; Date.now() < deadline; i++) {
      const running = via.filter((m) => m.process);
      const m = running[i % Math.max(1, running.length)];
      if (m) {
        try {
          return await action(this.admin(m));
        } catch (err) {
          last = message(err);
        }
      }
      await sleep(pauseMs);
    }
    this.h.record(`${what} gave up after ${timeoutMs} ms: ${last}`);
    return undefined;
  }
}
