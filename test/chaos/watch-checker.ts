// Checks recorded watch streams against the guarantees etcd's API documents
// for Watch: ordered, unique, reliable (no gap within what a watch covered),
// atomic (a revision's events never split across responses), resumable (a
// watch restarted at revision S+1 after seeing S continues exactly: checked
// as reliability from its start), bookmarkable (a progress notification at R
// comes only after every event up to R), prev_kv correct, and no event
// beyond the last revision the cluster acknowledged.
//
// There is no separate source of truth for what happened at each revision
// (compaction erases history during a run), so the truth is the union of
// every watch's events, and every watch must agree with it: two watches
// that saw the same (revision, key) must have seen the same event, and a
// watch that covered a revision and a key must have seen the event another
// watch saw there.

export interface WatchEventRecord {
  type: 'PUT' | 'DELETE';
  key: string;
  /** The value of a PUT ('' for a DELETE). */
  value: string;
  modRevision: number;
  /** Present when the watch asked for prev_kv and the key existed before. */
  prevKv?: { value: string; modRevision: number };
}

export interface WatchResponseRecord {
  headerRevision: number;
  events: WatchEventRecord[];
  /** A progress notification (no events). */
  progress?: boolean;
  canceled?: boolean;
  compactRevision?: number;
}

export interface WatchSessionRecord {
  /** For messages: which client and which attempt. */
  id: string;
  key: string;
  /** As etcd: undefined watches `key` alone; '\0' means every key from `key` on. */
  rangeEnd?: string;
  /** The first revision the watch asked for; 0 means "from now" (the created response's revision + 1). */
  startRevision: number;
  /** The created response's header revision (for startRevision 0). */
  createdRevision: number;
  prevKv: boolean;
  responses: WatchResponseRecord[];
}

export interface WatchCheckOptions {
  /** The cluster's revision at the end of the run: no event may be newer. */
  lastRevision: number;
  /** Stop after this many violations (a broken member can produce thousands). */
  maxViolations?: number;
}

export interface WatchCheckResult {
  sessions: number;
  events: number;
  progressNotifications: number;
  violations: string[];
}

function inRange(s: WatchSessionRecord, key: string): boolean {
  if (s.rangeEnd === undefined || s.rangeEnd === '') return key === s.key;
  if (s.rangeEnd === '\0') return key >= s.key;
  return key >= s.key && key < s.rangeEnd;
}

const eventId = (rev: number, key: string): string => `${rev}\u0000${key}`;
const describe = (e: WatchEventRecord): string => `${e.type} ${e.key}=${JSON.stringify(e.value)} @${e.modRevision}`;

export function checkWatches(sessions: readonly WatchSessionRecord[], opts: WatchCheckOptions): WatchCheckResult {
  const max = opts.maxViolations ?? 50;
  const violations: string[] = [];
  const flag = (guarantee: string, s: WatchSessionRecord, what: string): void => {
    if (violations.length < max) violations.push(`${guarantee}: watch ${s.id} on ${JSON.stringify(s.key)}${s.rangeEnd !== undefined ? `..${JSON.stringify(s.rangeEnd)}` : ''}: ${what}`);
  };

  // The union of all events, and disagreements between watches about one.
  const truth = new Map<string, { event: WatchEventRecord; seenBy: string }>();
  let events = 0;
  let progressNotifications = 0;
  for (const s of sessions) {
    for (const r of s.responses) {
      if (r.progress) progressNotifications++;
      for (const e of r.events) {
        events++;
        const id = eventId(e.modRevision, e.key);
        const known = truth.get(id);
        if (!known) truth.set(id, { event: e, seenBy: s.id });
        else if (known.event.type !== e.type || known.event.value !== e.value) {
          flag('consistent', s, `saw ${describe(e)}, watch ${known.seenBy} saw ${describe(known.event)}`);
        }
      }
    }
  }
  const truthByRevision = [...truth.values()].map((t) => t.event).sort((a, b) => a.modRevision - b.modRevision);
  /** Index of the first event at or after `rev`. */
  const firstAt = (rev: number): number => {
    let lo = 0;
    let hi = truthByRevision.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (truthByRevision[mid]!.modRevision < rev) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  for (const s of sessions) {
    const from = s.startRevision > 0 ? s.startRevision : s.createdRevision + 1;
    const delivered = new Set<string>();
    const lastOfKey = new Map<string, WatchEventRecord>();
    let lastRevision = 0;
    let covered = from - 1;
    for (const [i, r] of s.responses.entries()) {
      if (r.progress && r.events.length === 0) {
        // Bookmarkable: everything up to r.headerRevision must be here already.
        for (let k = firstAt(from); k < truthByRevision.length; k++) {
          const e = truthByRevision[k]!;
          if (e.modRevision > r.headerRevision) break;
          if (inRange(s, e.key) && !delivered.has(eventId(e.modRevision, e.key))) {
            flag('bookmarkable', s, `progress notification at ${r.headerRevision} (response ${i}) before ${describe(e)} was delivered`);
            break;
          }
        }
        covered = Math.max(covered, r.headerRevision);
        continue;
      }
      const firstRev = r.events[0]?.modRevision;
      if (firstRev !== undefined && firstRev === lastRevision) flag('atomic', s, `revision ${firstRev} split across responses ${i - 1} and ${i}`);
      for (const e of r.events) {
        if (e.modRevision < lastRevision) flag('ordered', s, `${describe(e)} after revision ${lastRevision} (response ${i})`);
        if (e.modRevision < from) flag('resumable', s, `${describe(e)} is older than the start revision ${from}`);
        if (!inRange(s, e.key)) flag('ordered', s, `${describe(e)} is outside the watched range`);
        if (e.modRevision > opts.lastRevision) flag('no-future-event', s, `${describe(e)} is beyond the last revision ${opts.lastRevision}`);
        const id = eventId(e.modRevision, e.key);
        if (delivered.has(id)) flag('unique', s, `${describe(e)} delivered twice`);
        delivered.add(id);
        if (s.prevKv) {
          const before = lastOfKey.get(e.key);
          if (before !== undefined) {
            const expected = before.type === 'PUT' ? { value: before.value, modRevision: before.modRevision } : undefined;
            const got = e.prevKv;
            if (expected === undefined ? got !== undefined : got === undefined || got.value !== expected.value || got.modRevision !== expected.modRevision) {
              flag('prev_kv', s, `${describe(e)} carries prev_kv ${JSON.stringify(got)}, the key's previous event was ${describe(before)}`);
            }
          }
        }
        lastOfKey.set(e.key, e);
        lastRevision = Math.max(lastRevision, e.modRevision);
      }
      covered = Math.max(covered, lastRevision);
    }
    // Reliable: every event another watch saw in this one's range and span is here too.
    for (let k = firstAt(from); k < truthByRevision.length; k++) {
      const e = truthByRevision[k]!;
      if (e.modRevision > covered) break;
      if (inRange(s, e.key) && !delivered.has(eventId(e.modRevision, e.key))) {
        flag('reliable', s, `missed ${describe(e)} (its span reached revision ${covered})`);
        break;
      }
    }
  }
  return { sessions: sessions.length, events, progressNotifications, violations };
}
