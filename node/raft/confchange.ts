// Binary encoding of a ConfChange inside a log entry, and the entries that
// bootstrap a new cluster. Layout: type (u8), node ID (u32 high, u32 low),
// then the application's context bytes.
import { ConfChangeType, EntryType, type ConfChange, type Entry } from './types.js';

const HEADER = 9;

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const out = new Uint8Array(HEADER + cc.context.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, cc.type);
  view.setUint32(1, Math.floor(cc.nodeId / 2 ** 32));
  view.setUint32(5, cc.nodeId >>> 0);
  out.set(cc.context, HEADER);
  return out;
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  if (data.length < HEADER) throw new Error(`raft: conf change entry is ${data.length} bytes, shorter than its ${HEADER}-byte header`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const type = view.getUint8(0);
  if (!(type in ConfChangeType)) throw new Error(`raft: unknown conf change type ${type}`);
  const nodeId = view.getUint32(1) * 2 ** 32 + view.getUint32(5);
  return { type, nodeId, context: data.slice(HEADER) };
}

/**
 * The log a brand-new cluster starts from: one committed AddNode entry per
 * initial voter at term 1. Every member writes the same entries, so members
 * that join later learn the initial membership by replaying the log.
 */
export function bootstrapEntries(voters: { id: number; context?: Uint8Array }[]): Entry[] {
  return voters.map((v, i) => ({
    term: 1,
    index: i + 1,
    type: EntryType.ConfChange,
    data: encodeConfChange({ type: ConfChangeType.AddNode, nodeId: v.id, context: v.context ?? new Uint8Array() }),
  }));
}
