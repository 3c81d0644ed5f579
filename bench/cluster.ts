// Launches a cluster (3 members unless told otherwise) on 127.0.0.1 for either system with etcd's flag
// names, waits for it with `etcdctl endpoint health`, and offers the member
// operations the benchmarks need (kill -9, restart, status, RSS).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { portFree, runCommand, sleep, treeCpuSeconds, treeRssBytes } from './proc.js';

export interface SystemSpec {
  /** Column key: 'etcd' or 'kvorum'. */
  kind: 'etcd' | 'kvorum';
  /** What actually runs, e.g. "etcd 3.4.23" (may differ from kind when standing in). */
  label: string;
  command: string;
  /** Arguments before the etcd-style flags, e.g. ['bin/kvorum', 'node']. */
  argsPrefix: string[];
  cwd: string;
}

export interface MemberStatus {
  memberId: string;
  leaderId: string;
  revision: number;
  raftIndex: number;
  raftTerm: number;
}

interface Member {
  name: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  logFile: string;
  proc?: ChildProcess;
  exited?: Promise<void>;
}

/** Finds a base port such that base+k*1000 (client) and +1 (peer) are free for each of `members`. */
export async function pickPorts(preferredBase: number, members = 3): Promise<number> {
  for (let base = preferredBase; base < preferredBase + 900; base += 10) {
    let ok = true;
    for (let k = 0; k < members && ok; k++) {
      ok = (await portFree(base + k * 1000)) && (await portFree(base + k * 1000 + 1));
    }
    if (ok) return base;
  }
  throw new Error(`no free port set near ${preferredBase}`);
}

export class Cluster {
  private readonly members: Member[] = [];

  constructor(
    readonly spec: SystemSpec,
    readonly dir: string,
    basePort: number,
    private readonly etcdctl: string,
    members = 3,
    /** More etcd-style flags for every member (both systems take the same). */
    private readonly extraFlags: string[] = [],
  ) {
    for (let k = 0; k < members; k++) {
      const name = `m${k + 1}`;
      this.members.push({
        name,
        clientPort: basePort + k * 1000,
        peerPort: basePort + k * 1000 + 1,
        dataDir: join(dir, name, 'data'),
        logFile: join(dir, name, 'member.log'),
      });
    }
  }

  get size(): number {
    return this.members.length;
  }

  endpoint(i: number): string {
    return `127.0.0.1:${this.members[i].clientPort}`;
  }

  endpoints(): string[] {
    return this.members.map((_, i) => this.endpoint(i));
  }

  dataDir(i: number): string {
    return this.members[i].dataDir;
  }

  pid(i: number): number | undefined {
    return this.members[i].proc?.pid;
  }

  rss(i: number): number | undefined {
    const pid = this.pid(i);
    return pid === undefined ? undefined : treeRssBytes(pid);
  }

  /** CPU seconds (user + system) every running member has used so far. */
  cpuSeconds(): number {
    let total = 0;
    for (let i = 0; i < this.size; i++) {
      const pid = this.pid(i);
      if (pid !== undefined && this.running(i)) total += treeCpuSeconds(pid) ?? 0;
    }
    return total;
  }

  private flags(m: Member): string[] {
    const initialCluster = this.members.map((x) => `${x.name}=http://127.0.0.1:${x.peerPort}`).join(',');
    return [
      '--name', m.name,
      '--data-dir', m.dataDir,
      '--listen-client-urls', `http://127.0.0.1:${m.clientPort}`,
      '--advertise-client-urls', `http://127.0.0.1:${m.clientPort}`,
      '--listen-peer-urls', `http://127.0.0.1:${m.peerPort}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peerPort}`,
      '--initial-cluster', initialCluster,
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', 'bench',
      ...this.extraFlags,
    ];
  }

  /** Spawns member i (fresh or restarting on its existing data dir). */
  startMember(i: number): void {
    const m = this.members[i];
    if (m.proc && m.proc.exitCode === null && m.proc.signalCode === null) {
      throw new Error(`${m.name} is already running`);
    }
    mkdirSync(join(this.dir, m.name), { recursive: true });
    const fd = openSync(m.logFile, 'a');
    const proc = spawn(this.spec.command, [...this.spec.argsPrefix, ...this.flags(m)], {
      cwd: this.spec.cwd,
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    m.proc = proc;
    m.exited = new Promise((resolve) => {
      proc.once('exit', () => resolve());
      proc.once('error', () => resolve());
    });
  }

  running(i: number): boolean {
    const p = this.members[i].proc;
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  /** Starts all members and waits until every endpoint reports healthy. */
  async start(timeoutMs: number): Promise<number> {
    const t0 = performance.now();
    for (let i = 0; i < this.size; i++) this.startMember(i);
    await this.waitHealthy(this.endpoints(), timeoutMs);
    return performance.now() - t0;
  }

  /** Polls `etcdctl endpoint health` until it succeeds for all given endpoints. */
  async waitHealthy(endpoints: string[], timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let last = '';
    while (performance.now() < deadline) {
      for (let i = 0; i < this.size; i++) {
        if (endpoints.includes(this.endpoint(i)) && this.members[i].proc && !this.running(i)) {
          throw new Error(`${this.members[i].name} exited (code ${this.members[i].proc?.exitCode}); see ${this.members[i].logFile}`);
        }
      }
      const r = await runCommand(this.etcdctl, ['--endpoints', endpoints.join(','), '--dial-timeout', '1s', '--command-timeout', '2s', 'endpoint', 'health'], {
        timeoutMs: 5000,
      });
      if (r.code === 0) return;
      last = (r.stderr || r.stdout).trim().split('\n').slice(-1)[0] ?? '';
      await sleep(100);
    }
    throw new Error(`not healthy after ${Math.round(timeoutMs / 1000)}s: ${last}`);
  }

  /** `etcdctl endpoint status` of one member. */
  async status(i: number): Promise<MemberStatus> {
    const r = await runCommand(this.etcdctl, ['--endpoints', this.endpoint(i), '--dial-timeout', '1s', '--command-timeout', '3s', 'endpoint', 'status', '-w', 'json'], {
      timeoutMs: 6000,
    });
    if (r.code !== 0) throw new Error(`endpoint status ${this.endpoint(i)}: ${(r.stderr || r.stdout).trim()}`);
    // Member ids exceed 2^53: quote long integers before parsing so they survive as strings.
    const parsed = JSON.parse(r.stdout.replace(/:\s*(\d{15,})/g, ':"$1"')) as Array<{
      Status: { header: { member_id: string | number; revision: string | number }; leader: string | number; raftIndex: string | number; raftTerm: string | number };
    }>;
    const s = parsed[0].Status;
    return {
      memberId: String(s.header.member_id),
      leaderId: String(s.leader),
      revision: Number(s.header.revision),
      raftIndex: Number(s.raftIndex),
      raftTerm: Number(s.raftTerm),
    };
  }

  /** Waits until member i reports at least `target` as its revision (it has caught up to it). */
  async waitRevision(i: number, target: number, deadline: number): Promise<void> {
    let last = '';
    while (performance.now() < deadline) {
      if (!this.running(i)) throw new Error(`member ${this.members[i].name} exited while catching up`);
      try {
        const s = await this.status(i);
        if (s.revision >= target) return;
        last = `at revision ${s.revision} of ${target}`;
      } catch (e) {
        last = e instanceof Error ? e.message : String(e);
      }
      await sleep(50);
    }
    throw new Error(`did not reach revision ${target}: ${last.slice(0, 160)}`);
  }

  /** Index of the current leader, as reported by the members themselves. */
  async leader(): Promise<number> {
    const ids: string[] = [];
    let leaderId = '';
    for (let i = 0; i < this.size; i++) {
      if (!this.running(i)) {
        ids.push('');
        continue;
      }
      try {
        const s = await this.status(i);
        ids.push(s.memberId);
        if (s.leaderId !== '0') leaderId = s.leaderId;
      } catch {
        ids.push('');
      }
    }
    const idx = ids.indexOf(leaderId);
    if (idx < 0) throw new Error('no leader found');
    return idx;
  }

  /** Sends a signal to member i and waits for it to exit (bounded). */
  async stopMember(i: number, signal: NodeJS.Signals = 'SIGKILL', timeoutMs = 15000): Promise<void> {
    const m = this.members[i];
    if (!m.proc || !this.running(i)) return;
    m.proc.kill(signal);
    const done = await Promise.race([m.exited?.then(() => true), sleep(timeoutMs).then(() => false)]);
    if (!done) {
      m.proc.kill('SIGKILL');
      await m.exited;
    }
  }

  /** Stops every member: SIGTERM, then SIGKILL after a grace period. */
  async stop(): Promise<void> {
    await Promise.all(this.members.map((_, i) => this.stopMember(i, 'SIGTERM', 10000)));
  }
}
