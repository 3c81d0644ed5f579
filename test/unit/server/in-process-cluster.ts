// Test fixture: several members in one process, on real data dirs, with an
// in-memory peer network that can be cut per member.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Message } from '../../../node/raft/types.js';
import { startMember, type MemberConfig, type PeerLink, type RunningMember } from '../../../node/server/member.js';
import { ServerError } from '../../../node/server/errors.js';

export class InProcessCluster {
  readonly root = mkdtempSync(join(tmpdir(), 'kvorum-cluster-'));
  readonly members = new Map<string, RunningMember>();
  private readonly inboxes = new Map<number, (m: Message) => void>();
  readonly down = new Set<number>();
  /** Messages for which this returns true are lost (a one-way cut, say). */
  dropIf: ((m: Message) => boolean) | undefined;
  private readonly names: string[];

  constructor(size: number, private readonly overrides: Partial<MemberConfig> = {}) {
    this.names = Array.from({ length: size }, (_, i) => `m${i + 1}`);
  }

  config(name: string): MemberConfig {
    return {
      name,
      dataDir: join(this.root, name),
      initialCluster: this.names.map((n) => ({ name: n, peerUrls: [`http://${n}:2380`] })),
      initialClusterState: 'new',
      clusterToken: 'test',
      advertisePeerUrls: [`http://${name}:2380`],
      advertiseClientUrls: [`http://${name}:2379`],
      tickMs: 10,
      electionMs: 100,
      snapshotCount: 10000,
      limits: { quotaBytes: 64 * 1024 * 1024, requestTimeoutMs: 3000, maxTxnOps: 128 },
      logger: pino({ level: 'silent' }),
      ...this.overrides,
    };
  }

  async start(name: string): Promise<RunningMember> {
    const member = await startMember(this.config(name), ({ memberId }) => this.link(memberId));
    this.members.set(name, member);
    this.down.delete(member.memberId);
    return member;
  }

  async startAll(): Promise<void> {
    for (const n of this.names) await this.start(n);
  }

  async stop(name: string): Promise<void> {
    const m = this.members.get(name);
    if (!m) return;
    this.down.add(m.memberId);
    this.inboxes.delete(m.memberId);
    await m.stop();
    this.members.delete(name);
  }

  private link(self: number): PeerLink & { onReceive: (deliver: (m: Message) => void) => void } {
    return {
      send: (messages) => {
        for (const m of messages) {
          if (this.down.has(self) || this.down.has(m.to) || this.dropIf?.(m)) continue;
          setImmediate(() => this.inboxes.get(m.to)?.(structuredClone(m)));
        }
      },
      addPeer: () => {},
      removePeer: () => {},
      onReceive: (deliver) => this.inboxes.set(self, deliver),
    };
  }

  leader(): RunningMember | undefined {
    return [...this.members.values()].find((m) => m.node.isLeader);
  }

  async waitForLeader(timeoutMs = 5000): Promise<RunningMember> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const l = this.leader();
      // A leader is ready once it has committed an entry of its own term.
      const st = l?.node.status();
      if (l && st && l.node.termAt(st.commit) === st.term) return l;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('no leader elected');
  }

  /**
   * Writes through whoever leads, retrying when leadership moves under load
   * (a loaded test machine delays ticks enough to cause elections). A put of the
   * same key and value is safe to repeat.
   */
  async putThroughLeader(key: string, value: string, attempts = 5): Promise<void> {
    for (let i = 1; ; i++) {
      const leader = await this.waitForLeader();
      try {
        await leader.server.put({ key: bytes(key), value: bytes(value) });
        return;
      } catch (err) {
        if (i >= attempts || !(err instanceof ServerError) || err.code !== 'UNAVAILABLE') throw err;
      }
    }
  }

  async close(): Promise<void> {
    for (const n of [...this.members.keys()]) await this.stop(n);
    rmSync(this.root, { recursive: true, force: true });
  }
}

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
export const text = (b: Uint8Array): string => new TextDecoder().decode(b);
