// One-line renderings of the core's messages, entries and configurations for
// the golden scripts. Stable and compact on purpose: a changed field shows as
// a one-word difference in a diff.
import {
  ConfChangeType,
  EntryType,
  MessageType,
  NONE,
  decodeConfChange,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
} from '../../../../node/raft/index.js';

/** Printable ASCII as a quoted string, anything else as hex. */
export function formatBytes(b: Uint8Array): string {
  const printable = b.every((c) => c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c);
  return printable ? `"${String.fromCharCode(...b)}"` : `0x${Buffer.from(b).toString('hex')}`;
}

/** `index@term`, then `:data` for a non-empty payload or `:Kind(id)` for a conf change. */
export function formatEntry(e: Entry): string {
  const at = `${e.index}@${e.term}`;
  if (e.type === EntryType.ConfChange) {
    const cc = decodeConfChange(e.data);
    return `${at}:${ConfChangeType[cc.type]}(${cc.nodeId})`;
  }
  return e.data.length === 0 ? at : `${at}:${formatBytes(e.data)}`;
}

export function formatConf(conf: ConfState): string {
  const learners = conf.learners.length > 0 ? ` learners=${conf.learners.join(',')}` : '';
  return `voters=${conf.voters.join(',')}${learners}`;
}

export function formatId(id: NodeId): string {
  return id === NONE ? 'none' : String(id);
}

/** Fields shown even when zero, because a zero there means something. */
const ALWAYS: Partial<Record<MessageType, string[]>> = {
  [MessageType.App]: ['logTerm', 'index', 'commit'],
  [MessageType.Vote]: ['logTerm', 'index'],
  [MessageType.PreVote]: ['logTerm', 'index'],
};

/** `from->to MsgType term=T`, then the non-zero fields in a fixed order. */
export function formatMessage(m: Message): string {
  const always = ALWAYS[m.type] ?? [];
  const parts = [`${m.from}->${m.to} Msg${MessageType[m.type]} term=${m.term}`];
  for (const field of ['logTerm', 'index', 'commit'] as const) {
    if (m[field] !== 0 || always.includes(field)) parts.push(`${field}=${m[field]}`);
  }
  if (m.entries.length > 0) parts.push(`entries=[${m.entries.map(formatEntry).join(' ')}]`);
  if (m.reject) {
    parts.push('reject');
    if (m.type === MessageType.AppResp || m.type === MessageType.HeartbeatResp) parts.push(`rejectHint=${m.rejectHint}`);
    if (m.type === MessageType.AppResp) parts.push(`hintTerm=${m.hintTerm}`);
  }
  if (m.context.length > 0) parts.push(`ctx=${formatBytes(m.context)}`);
  if (m.snapshot) {
    const meta = m.snapshot.meta;
    parts.push(`snapshot=${meta.index}@${meta.term} ${formatConf(meta.conf)}`);
  }
  return parts.join(' ');
}
