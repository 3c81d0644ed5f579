// The cluster's alarms, part of the replicated state: which member raised
// which alarm. They change only when an alarm entry applies (or a snapshot is
// installed), so every member holds the same table.

export type AlarmType = 'NOSPACE' | 'CORRUPT';

export interface Alarm {
  memberId: number;
  alarm: AlarmType;
}

export class Alarms {
  /** "memberId:ALARM", the form snapshots keep. */
  private readonly active = new Set<string>();

  activate(memberId: number, alarm: AlarmType): void {
    this.active.add(key(memberId, alarm));
  }

  deactivate(memberId: number, alarm: AlarmType): void {
    this.active.delete(key(memberId, alarm));
  }

  has(memberId: number, alarm: AlarmType): boolean {
    return this.active.has(key(memberId, alarm));
  }

  /** Whether any member raised `alarm`. */
  raised(alarm: AlarmType): boolean {
    for (const a of this.active) if (a.endsWith(`:${alarm}`)) return true;
    return false;
  }

  list(): Alarm[] {
    return [...this.active].map((a) => {
      const [member, alarm] = a.split(':');
      return { memberId: Number(member), alarm: alarm as AlarmType };
    });
  }

  /** The snapshot form. */
  toJSON(): string[] {
    return [...this.active];
  }

  /** Replaces the table with a snapshot's. */
  restore(keys: readonly string[]): void {
    this.active.clear();
    for (const k of keys) this.active.add(k);
  }
}

function key(memberId: number, alarm: AlarmType): string {
  return `${memberId}:${alarm}`;
}
