// A member's health as etcd 3.5 reports it, apart from HTTP.
//
// Three questions, three endpoints:
//   /health  the old all-in-one check: no alarm (unless excluded), a known
//            leader and a linearizable read; `serializable=true` drops the
//            leader check and reads locally, so it answers for this process
//            rather than for the cluster (kubeadm's probes use that, with
//            exclude=NOSPACE).
//   /livez   should the process be restarted? Only a local read, so a lost
//            quorum or a full quota never gets a member killed.
//   /readyz  should it get client traffic? No CORRUPT alarm anywhere in the
//            cluster, local and linearizable reads work, and it is not a
//            learner. NOSPACE is no reason to be unready: clients must still
//            reach the member to compact and disarm the alarm.
// Each /livez and /readyz check has a name and can be asked for alone.
import type { EtcdServer } from '../server/etcd-server.js';

/** What the checks need from a member. */
export interface HealthSource {
  /** Active alarms of every member (etcd lists them cluster-wide). */
  alarms(): readonly { alarm: string }[];
  /** The leader this member follows; 0 when it knows none. */
  leader(): number;
  isLearner(): boolean;
  /** A keys-only read of one key; rejects with the reason it failed. */
  read(serializable: boolean): Promise<void>;
}

export type CheckName = 'data_corruption' | 'serializable_read' | 'linearizable_read' | 'non_learner';
export type CheckKind = 'livez' | 'readyz';

/** The checks of each endpoint, in the order they are reported. */
export const CHECKS: Readonly<Record<CheckKind, readonly CheckName[]>> = {
  livez: ['serializable_read'],
  readyz: ['data_corruption', 'serializable_read', 'linearizable_read', 'non_learner'],
};

/** Runs one named check; resolves to why it failed, or undefined when it passed. */
export async function runCheck(source: HealthSource, name: CheckName): Promise<string | undefined> {
  switch (name) {
    case 'data_corruption':
      return source.alarms().some((a) => a.alarm === 'CORRUPT') ? 'alarm activated: CORRUPT' : undefined;
    case 'non_learner':
      return source.isLearner() ? 'not supported for learner' : undefined;
    case 'serializable_read':
    case 'linearizable_read':
      return source.read(name === 'serializable_read').then(
        () => undefined,
        (err: unknown) => (err instanceof Error ? err.message : String(err)),
      );
  }
}

export interface CheckResult {
  name: CheckName;
  /** Why it failed; undefined when it passed. */
  failure: string | undefined;
}

export interface CheckReport {
  ok: boolean;
  results: CheckResult[];
}

/**
 * The checks of an endpoint minus the excluded ones, and the excluded names
 * the endpoint does not have (etcd ignores those, so a probe written for
 * another version still works).
 */
export function selectChecks(kind: CheckKind, exclude: readonly string[] = []): { names: CheckName[]; unknown: string[] } {
  const all: readonly string[] = CHECKS[kind];
  return { names: CHECKS[kind].filter((n) => !exclude.includes(n)), unknown: exclude.filter((e) => !all.includes(e)) };
}

/** Runs the named checks one after another, as etcd does. */
export async function runChecks(source: HealthSource, names: readonly CheckName[]): Promise<CheckReport> {
  const results: CheckResult[] = [];
  for (const name of names) results.push({ name, failure: await runCheck(source, name) });
  return { ok: results.every((r) => r.failure === undefined), results };
}

/** etcd's per-check lines: "[+]name ok" or "[-]name failed: reason", each ending in a newline. */
export function checkLines(results: readonly CheckResult[]): string {
  return results.map((r) => (r.failure === undefined ? `[+]${r.name} ok\n` : `[-]${r.name} failed: ${r.failure}\n`)).join('');
}

export interface LegacyHealth {
  health: 'true' | 'false';
  reason: string;
}

/** The reason etcd gives for an alarm in /health. */
function alarmReason(alarm: string): string {
  return alarm === 'NOSPACE' || alarm === 'CORRUPT' ? `ALARM ${alarm}` : 'ALARM UNKNOWN';
}

/** /health: alarms (minus the excluded), then the leader (unless serializable), then a read. */
export async function legacyHealth(source: HealthSource, opts: { exclude?: readonly string[]; serializable?: boolean } = {}): Promise<LegacyHealth> {
  const exclude = opts.exclude ?? [];
  const alarm = source.alarms().find((a) => !exclude.includes(a.alarm));
  if (alarm) return { health: 'false', reason: alarmReason(alarm.alarm) };
  if (!opts.serializable && source.leader() === 0) return { health: 'false', reason: 'RAFT NO LEADER' };
  try {
    await source.read(opts.serializable === true);
  } catch (err) {
    return { health: 'false', reason: `RANGE ERROR:${err instanceof Error ? err.message : String(err)}` };
  }
  return { health: 'true', reason: '' };
}

/** Rejects after `ms` unless the promise settles first. */
function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The checks' view of a running member. Reads give up after the member's request timeout, as etcd's do. */
export function memberHealthSource(server: EtcdServer): HealthSource {
  // The single key "\0", keys only: the cheapest read that goes through the same path as a client's.
  const probeKey = Uint8Array.of(0);
  return {
    alarms: () => server.alarmList(),
    leader: () => server.node?.leaderId ?? 0,
    isLearner: () => server.membership.get(server.identity.memberId)?.isLearner ?? false,
    async read(serializable) {
      // A member whose Raft loop failed still holds its last state, but it
      // will never apply again: its reads are no evidence of health.
      if (!server.node || server.node.fatalError) throw new Error('etcdserver: server stopped');
      const read = server.range({ key: probeKey, keysOnly: true, limit: 1, serializable });
      await within(read, server.limits.requestTimeoutMs, 'etcdserver: request timed out');
    },
  };
}
