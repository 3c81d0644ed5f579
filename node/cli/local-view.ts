// What `kvorum local` shows in the terminal, as pure functions of what it
// knows: the banner (endpoints, where the logs are, commands to paste), a
// member's log line in readable form (warnings and errors only; the full
// JSON goes to a file), and the one-line cluster status.

export interface LocalEndpoints {
  name: string;
  clientUrl: string;
  peerUrl: string;
  metricsUrl: string;
}

/** pino's numeric levels and the names shown for them. */
const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const WARN = 40;

/** Fields every line has, or that the terminal line shows elsewhere. */
const SKIPPED_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'member', 'v']);
const MAX_FIELDS_CHARS = 160;

const hostPort = (url: string): string => url.replace(/^https?:\/\//, '').replace(/\/$/, '');

export function banner(opts: { members: readonly LocalEndpoints[]; dataDir: string; logFiles: readonly string[] }): string {
  const { members } = opts;
  const endpoints = members.map((m) => hostPort(m.clientUrl)).join(',');
  const first = hostPort(members[0]!.clientUrl);
  const width = Math.max(...members.map((m) => m.name.length));
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  return [
    '',
    `Kvorum: a ${members.length}-member cluster on loopback`,
    '',
    ...members.map((m) => `  ${m.name.padEnd(width)}  client ${m.clientUrl}  peer ${m.peerUrl}  metrics ${m.metricsUrl}/metrics`),
    '',
    `  data  ${opts.dataDir} (kept between runs: the next start resumes this cluster)`,
    `  logs  ${opts.logFiles.join(', ')}`,
    `        (each member's full JSON log; only warnings and errors are shown here)`,
    '',
    'Try:',
    `  etcdctl --endpoints=${endpoints} endpoint status -w table`,
    `  etcdctl --endpoints=${endpoints} put hello world`,
    `  etcdctl --endpoints=${endpoints} get hello`,
    `  curl -s ${first}/v3/kv/put -d '{"key":"${b64('hello')}","value":"${b64('world')}"}'`,
    `  curl -s ${first}/v3/kv/range -d '{"key":"${b64('hello')}"}'`,
    `  curl -s '${first}/readyz?verbose'`,
    '',
    'Press Ctrl-C to stop the cluster.',
    '',
  ].join('\n');
}

function fieldText(value: unknown): string {
  if (value !== null && typeof value === 'object') {
    const err = value as { message?: unknown };
    if (typeof err.message === 'string') return err.message;
    return JSON.stringify(value);
  }
  return String(value);
}

export interface ReadableLine {
  level: 'WARN' | 'ERROR' | 'FATAL';
  text: string;
}

/**
 * The terminal form of one line a member wrote: `m2  WARN   message (key=value ...)`
 * for warnings and worse, undefined for anything quieter. A line that is not
 * JSON (the CLI's own error message, a crash) counts as an error.
 */
export function readableLogLine(member: string, line: string): ReadableLine | undefined {
  const trimmed = line.trim();
  if (trimmed === '') return undefined;
  let entry: Record<string, unknown> | undefined;
  if (trimmed.startsWith('{')) {
    try {
      entry = JSON.parse(trimmed) as Record<string, unknown>;
    } catch {
      entry = undefined;
    }
  }
  if (!entry) return { level: 'ERROR', text: `${member}  ERROR  ${trimmed}` };
  const level = typeof entry.level === 'number' ? entry.level : 30;
  if (level < WARN) return undefined;
  const name = (LEVEL_NAMES[level] ?? (level >= 60 ? 'FATAL' : level >= 50 ? 'ERROR' : 'WARN')) as ReadableLine['level'];
  let fields = Object.entries(entry)
    .filter(([k]) => !SKIPPED_FIELDS.has(k))
    .map(([k, v]) => `${k}=${fieldText(v)}`)
    .join(' ');
  if (fields.length > MAX_FIELDS_CHARS) fields = fields.slice(0, MAX_FIELDS_CHARS - 1) + '…';
  const msg = typeof entry.msg === 'string' ? entry.msg : '';
  return { level: name, text: `${member}  ${name.padEnd(5)}  ${msg}${fields ? ` (${fields})` : ''}` };
}

/** What one poll of one member found. */
export interface MemberProbe {
  name: string;
  /** Undefined when the member did not answer. */
  status?: { id: string; leader: string; term: number; revision: number };
  healthy: boolean;
}

/**
 * The one-line cluster status, e.g.
 * `leader m1 · term 2 · revision 17 · 3/3 members healthy`, with the members
 * that are not healthy named at the end.
 */
export function statusLine(probes: readonly MemberProbe[]): string {
  const answered = probes.filter((p) => p.status);
  if (answered.length === 0) return `waiting for members to answer · 0/${probes.length} members healthy`;
  const byId = new Map(answered.map((p) => [p.status!.id, p.name]));
  // The leader most members report (they agree but for moments of an election).
  const votes = new Map<string, number>();
  for (const p of answered) if (p.status!.leader !== '0') votes.set(p.status!.leader, (votes.get(p.status!.leader) ?? 0) + 1);
  const leaderId = [...votes.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  const leader = leaderId === undefined ? 'no leader' : `leader ${byId.get(leaderId) ?? leaderId}`;
  const term = Math.max(...answered.map((p) => p.status!.term));
  const revision = Math.max(...answered.map((p) => p.status!.revision));
  const healthy = probes.filter((p) => p.healthy).length;
  const parts = [leader, `term ${term}`, `revision ${revision}`, `${healthy}/${probes.length} members healthy`];
  const down = probes.filter((p) => !p.status).map((p) => p.name);
  const unhealthy = probes.filter((p) => p.status && !p.healthy).map((p) => p.name);
  if (down.length > 0) parts.push(`${down.join(', ')} not answering`);
  if (unhealthy.length > 0) parts.push(`${unhealthy.join(', ')} unhealthy`);
  return parts.join(' · ');
}
