// The fault kinds a chaos run can inject, switchable one by one
// (`--faults kill,stop,partition`), and how often each is picked when on.

export const FAULT_KINDS = [
  'kill',
  'kill-all',
  'stop',
  'partition',
  'loss',
  'delay',
  'disk-stall',
  'disk-fail',
  'torn-tail',
  'membership',
  'move-leader',
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

/** What each kind does, for the CLI's help and the README. */
export const FAULT_HELP: Record<FaultKind, string> = {
  kill: 'kill -9 of one member, restarted 0.3 to 2 s later',
  'kill-all': 'kill -9 of every member at once, restarted 0.2 to 1 s later',
  stop: 'SIGSTOP of one member for 0.5 to 3 s, then SIGCONT',
  partition: 'the peer links between two sides cut both ways (one member, often the leader, or a minority), or one way only, for 1 to 4 s',
  loss: 'one-way loss on one or more links: connections towards a member reset with a probability of 20 to 80 % per chunk, for 1 to 4 s',
  delay: 'delay (20 to 150 ms) and jitter (up to 100 ms) on every link towards one member or all, for 1 to 4 s',
  'disk-stall': 'a member restarted with every fsync 100 to 600 ms slower (failpoint wal-fsync=delay), for 2 to 5 s, then restarted normally',
  'disk-fail': 'a member restarted with fsync failing after 0 to 30 calls (failpoint wal-fsync=fail-after); it must exit rather than acknowledge, and is restarted normally',
  'torn-tail': 'kill -9 of a member, then a partial record (a write cut short) appended to its last WAL segment before the restart',
  membership: 'a member removed, its data dir wiped, added back as a learner, caught up and promoted, sometimes with a network fault running',
  'move-leader': 'MoveLeader from the leader to another voter, sometimes with a network fault running',
};

/** Relative weights when every kind is on (a quiet spell is picked with weight QUIET_WEIGHT). */
const WEIGHTS: Record<FaultKind, number> = {
  kill: 3,
  'kill-all': 1,
  stop: 2,
  partition: 2,
  loss: 1.5,
  delay: 1.5,
  'disk-stall': 1,
  'disk-fail': 1,
  'torn-tail': 1,
  membership: 1,
  'move-leader': 1.5,
};

export const QUIET_WEIGHT = 1.5;

/** The kinds the harness ran before network, disk and membership faults existed (`npm test`'s default set is all of them). */
export const PROCESS_FAULTS: readonly FaultKind[] = ['kill', 'kill-all', 'stop'];

/** Parses `all` or a comma-separated list of kinds; an unknown name is an error. */
export function parseFaults(text: string): FaultKind[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 1 && names[0] === 'all') return [...FAULT_KINDS];
  if (names.length === 1 && names[0] === 'none') return [];
  const out: FaultKind[] = [];
  for (const n of names) {
    if (!(FAULT_KINDS as readonly string[]).includes(n)) throw new Error(`unknown fault ${JSON.stringify(n)} (known: ${FAULT_KINDS.join(', ')}, or all, or none)`);
    if (!out.includes(n as FaultKind)) out.push(n as FaultKind);
  }
  return out;
}

/** Picks a kind, or undefined for a quiet spell, with `roll` in [0, 1). */
export function pickFault(kinds: readonly FaultKind[], roll: number): FaultKind | undefined {
  const total = kinds.reduce((sum, k) => sum + WEIGHTS[k], QUIET_WEIGHT);
  let at = roll * total;
  for (const k of kinds) {
    at -= WEIGHTS[k];
    if (at < 0) return k;
  }
  return undefined;
}
