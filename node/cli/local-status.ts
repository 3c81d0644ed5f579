// Polls the members of `kvorum local` for the status line: Maintenance.Status
// through the JSON gateway (leader, term, revision, alarms). A member is
// counted healthy when it answers, knows a leader and has no alarm raised:
// /health would say the same but logs a warning for every failed probe, which
// would fill the terminal this status line is meant to keep quiet.
import type { LocalEndpoints, MemberProbe } from './local-view.js';

/** A poll that takes longer than this counts as no answer (the line is redrawn every second). */
const PROBE_TIMEOUT_MS = 900;

interface StatusJson {
  header?: { member_id?: string; revision?: string };
  leader?: string;
  raftTerm?: string;
  errors?: string[];
}

export async function probeMember(member: LocalEndpoints): Promise<MemberProbe> {
  const status = await fetch(`${member.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) })
    .then(async (res) => (res.ok ? ((await res.json()) as StatusJson) : undefined))
    .catch(() => undefined);
  if (!status?.header?.member_id) return { name: member.name, healthy: false };
  return {
    name: member.name,
    healthy: (status.leader ?? '0') !== '0' && (status.errors ?? []).length === 0,
    status: {
      id: status.header.member_id,
      leader: status.leader ?? '0',
      term: Number(status.raftTerm ?? 0),
      revision: Number(status.header.revision ?? 0),
    },
  };
}
