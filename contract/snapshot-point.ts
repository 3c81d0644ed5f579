// Where a backup was taken, read from the head of a Maintenance.Snapshot
// stream without decoding the store behind it. The stream is the backup
// envelope (node/backup/backup-file.ts: "KVORUMSNAP", u16 version, u64
// payload length) around a state snapshot ("KVSS", u32 head length, JSON
// head, store bytes); the JSON head carries `point` since Kvorum 0.1.
import { Transform, type TransformCallback } from 'node:stream';

export interface SnapshotPoint {
  /** The store's revision: every write at or below it is in the snapshot. */
  revision: number;
  compactRevision: number;
  /** The Raft index applied when the state was captured, and its term. */
  raftIndex: number;
  raftTerm: number;
}

const ENVELOPE_MAGIC = 'KVORUMSNAP';
const ENVELOPE_HEADER = ENVELOPE_MAGIC.length + 2 + 8;
const STATE_MAGIC = 'KVSS';
/** A head larger than this is not a head (member tables are small). */
const MAX_HEAD_BYTES = 16 * 1024 * 1024;

export class SnapshotPointError extends Error {
  constructor(reason: string) {
    super(`snapshot stream: ${reason}`);
    this.name = 'SnapshotPointError';
  }
}

/**
 * Parses the point from the first bytes of a stream; undefined while more
 * bytes are needed. Throws when the bytes are not a Kvorum backup stream.
 */
export function parseSnapshotPoint(head: Buffer): SnapshotPoint | undefined {
  if (head.length < ENVELOPE_HEADER + 8) return undefined;
  if (head.toString('latin1', 0, ENVELOPE_MAGIC.length) !== ENVELOPE_MAGIC) throw new SnapshotPointError('does not start with the backup magic');
  const at = ENVELOPE_HEADER;
  if (head.toString('latin1', at, at + 4) !== STATE_MAGIC) throw new SnapshotPointError('holds no framed state snapshot');
  const length = head.readUInt32BE(at + 4);
  if (length > MAX_HEAD_BYTES) throw new SnapshotPointError(`state head of ${length} bytes is implausible`);
  if (head.length < at + 8 + length) return undefined;
  let parsed: { point?: Partial<SnapshotPoint> };
  try {
    parsed = JSON.parse(head.toString('utf8', at + 8, at + 8 + length)) as { point?: Partial<SnapshotPoint> };
  } catch (err) {
    throw new SnapshotPointError(`state head is not JSON: ${(err as Error).message}`);
  }
  const p = parsed.point;
  const fields = ['revision', 'compactRevision', 'raftIndex', 'raftTerm'] as const;
  if (!p || fields.some((f) => !Number.isSafeInteger(p[f]) || (p[f] as number) < 0)) {
    throw new SnapshotPointError('state head carries no snapshot point (member older than this operator?)');
  }
  return { revision: p.revision!, compactRevision: p.compactRevision!, raftIndex: p.raftIndex!, raftTerm: p.raftTerm! };
}

/**
 * A pass-through stream that reports the snapshot point as soon as the head
 * has gone by. Only the head is kept, never the store's bytes.
 */
export class SnapshotPointTap extends Transform {
  private head: Buffer | undefined = Buffer.alloc(0);
  private resolvePoint!: (p: SnapshotPoint) => void;
  private rejectPoint!: (e: Error) => void;
  /** Settles with the point, or fails if the stream ends or is not a backup. */
  readonly point: Promise<SnapshotPoint>;

  constructor() {
    super();
    this.point = new Promise((resolve, reject) => {
      this.resolvePoint = resolve;
      this.rejectPoint = reject;
    });
    // The owner awaits the stream too; an unread rejection must not crash the process.
    this.point.catch(() => undefined);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.head) {
      this.head = Buffer.concat([this.head, chunk]);
      try {
        const point = parseSnapshotPoint(this.head);
        if (point) {
          this.head = undefined;
          this.resolvePoint(point);
        }
      } catch (err) {
        this.rejectPoint(err as Error);
        done(err as Error);
        return;
      }
    }
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.head) {
      const err = new SnapshotPointError('ended before its head was complete');
      this.rejectPoint(err);
      done(err);
      return;
    }
    done();
  }
}
