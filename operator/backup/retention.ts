// Which backups of a schedule to prune. Completed backups count toward
// keepLast, newest first; any older than maxAge go too, except the newest
// Completed one (a schedule that stopped working must not delete its last
// good backup). Failed ones never count; only the newest few are kept for
// diagnosis. Pinned backups and unfinished ones are never pruned.

export interface RetainedBackup {
  name: string;
  phase?: string;
  /** Completion time for Completed ones, creation time otherwise. */
  time: Date;
  pinned: boolean;
}

export interface RetentionPolicy {
  keepLast?: number;
  maxAgeMs?: number;
}

/** Failed backups kept for their error messages. */
export const FAILED_KEPT = 3;

export function toPrune(backups: RetainedBackup[], policy: RetentionPolicy, now: Date): string[] {
  const newestFirst = [...backups].sort((a, b) => b.time.getTime() - a.time.getTime());
  const prune: string[] = [];
  const completed = newestFirst.filter((b) => b.phase === 'Completed' && !b.pinned);
  completed.forEach((b, i) => {
    const beyondCount = policy.keepLast !== undefined && i >= policy.keepLast;
    const tooOld = policy.maxAgeMs !== undefined && i > 0 && now.getTime() - b.time.getTime() > policy.maxAgeMs;
    if (beyondCount || tooOld) prune.push(b.name);
  });
  const failed = newestFirst.filter((b) => b.phase === 'Failed' && !b.pinned);
  for (const b of failed.slice(FAILED_KEPT)) prune.push(b.name);
  return prune;
}

/** Go-style durations as the CRD documents them: "168h", "30m", "1h30m", "90s", "7d" (days for convenience). */
export function parseDuration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    total += Number(m[1]) * unit[m[2]!]!;
    consumed += m[0].length;
  }
  if (consumed === 0 || consumed !== text.length) throw new Error(`retention.maxAge: ${JSON.stringify(text)} is not a duration like 168h or 30m`);
  return total;
}
