// `kvorum node` configuration: etcd's flag names, defaults and checks, so a
// member can be started with the same command line (or the same ETCD_*
// environment) as an etcd member.
//
// Sources and precedence: every flag may also be given as ETCD_<NAME>, the
// flag name upper-cased with dashes turned into underscores (--data-dir ->
// ETCD_DATA_DIR). etcd refuses to start when a setting comes from both; here
// the command line wins and the clash is reported in `NodeConfig.warnings`
// for the caller to log. An empty environment variable counts as unset, as in
// etcd. ETCD_* variables that name no known flag are reported as warnings too
// (etcd also only warns about them).
//
// Syntax: `--flag=value`, `--flag value`, and a single leading dash works as
// well (`-name x`), as Go's flag package allows. Boolean flags are true when
// given bare and also take `=true|false` (and Go's other spellings: 1/0, t/f).
// A repeated flag takes its last value.

import { DEFAULT_JWT_TTL_MS, JWT_SIGN_METHODS, type JwtFiles, type JwtSignMethod } from './server/auth/jwt-tokens.js';
import { parseAutoCompaction, type AutoCompactionPolicy } from './server/auto-compaction.js';
import { DEFAULT_SNAPSHOTS_TO_KEEP } from './storage/snapshot-file.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export interface TlsConfig {
  certFile: string;
  keyFile: string;
  trustedCaFile?: string;
  clientCertAuth: boolean;
  /** Peer side only (etcd's --peer-cert-allowed-cn): a dialer's certificate CN must be one of these. */
  allowedCommonNames?: string[];
  /** Peer side only (etcd's --peer-cert-allowed-hostname): a dialer's certificate must cover one of these names. */
  allowedHostnames?: string[];
}

export interface AuthConfig {
  /** 'simple' (default) or JWTs with their key files. */
  token: { kind: 'simple' } | ({ kind: 'jwt' } & JwtFiles);
  /** --auth-token-ttl: how long a simple token lives after its last use. */
  tokenTtlMs: number;
  /** --bcrypt-cost, accepted for etcd's command lines; passwords are hashed with scrypt here. */
  bcryptCost: number;
}

export interface InitialClusterMember {
  name: string;
  peerUrls: string[];
}

export interface NodeConfig {
  name: string;
  dataDir: string;
  listenClientUrls: URL[];
  advertiseClientUrls: string[];
  listenPeerUrls: URL[];
  initialAdvertisePeerUrls: string[];
  initialCluster: InitialClusterMember[];
  initialClusterState: 'new' | 'existing';
  initialClusterToken: string;
  listenMetricsUrls: URL[];
  snapshotCount: number;
  heartbeatMs: number;
  electionMs: number;
  quotaBackendBytes: number;
  maxRequestBytes: number;
  maxTxnOps: number;
  snapshotCatchUpEntries: number;
  /** etcd's --experimental-watch-progress-notify-interval, in ms: how often watchers that asked for progress notifications get one. */
  watchProgressNotifyMs: number;
  maxSnapshots: number;
  /** Not an etcd flag: how long a stop (SIGTERM) may take to hand over leadership and drain requests. */
  stopGraceMs: number;
  /** Kvorum's --client-workers: processes serving client connections (0: the core serves them). */
  clientWorkers: number;
  /** etcd's --auto-compaction-mode and --auto-compaction-retention; absent when off (the default). */
  autoCompaction?: AutoCompactionPolicy;
  /** Not an etcd flag: how long a client waits for its write (fixed). */
  requestTimeoutMs: number;
  logLevel: LogLevel;
  clientTls?: TlsConfig;
  peerTls?: TlsConfig;
  /** etcd's --auth-token, --auth-token-ttl and --bcrypt-cost. */
  auth: AuthConfig;
  /** Things worth logging that did not stop parsing (flag/env clashes, unknown ETCD_* variables). */
  warnings: string[];
}

/** A configuration problem; the message names the offending flag or variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_QUOTA_BACKEND_BYTES = 2 * 1024 * 1024 * 1024;
export const DEFAULT_MAX_REQUEST_BYTES = 1572864;
export const DEFAULT_REQUEST_TIMEOUT_MS = 7000;
/** etcd refuses election timeouts above this. */
export const MAX_ELECTION_TIMEOUT_MS = 50000;
/** More client workers than this only add processes that wait on the core. */
const MAX_CLIENT_WORKERS = 64;

type FlagKind = 'string' | 'int' | 'bool' | 'urls';

interface FlagSpec {
  name: string;
  kind: FlagKind;
  /** Shown by nodeHelp(). */
  defaultText: string;
  help: string;
  /** Other accepted names (without dashes). */
  aliases?: string[];
}

const FLAGS: FlagSpec[] = [
  { name: 'name', kind: 'string', defaultText: 'default', help: 'Human-readable name of this member.' },
  { name: 'data-dir', kind: 'string', defaultText: '${name}.etcd', help: 'Path to the data directory.' },
  { name: 'listen-client-urls', kind: 'urls', defaultText: 'http://localhost:2379', help: 'URLs to listen on for client traffic (gRPC and HTTP).' },
  {
    name: 'advertise-client-urls',
    kind: 'urls',
    defaultText: 'http://localhost:2379',
    help: 'Client URLs of this member, as told to the rest of the cluster and to clients. Required when --listen-client-urls is set.',
  },
  { name: 'listen-peer-urls', kind: 'urls', defaultText: 'http://localhost:2380', help: 'URLs to listen on for peer traffic.' },
  { name: 'initial-advertise-peer-urls', kind: 'urls', defaultText: 'http://localhost:2380', help: "This member's peer URLs, as told to the rest of the cluster." },
  {
    name: 'initial-cluster',
    kind: 'string',
    defaultText: '${name}=${initial-advertise-peer-urls}',
    help: 'The founding members, as name=url,name=url,... (a name may repeat to give it several URLs).',
  },
  { name: 'initial-cluster-state', kind: 'string', defaultText: 'new', help: "'new' to found a cluster, 'existing' to join one this member was added to." },
  { name: 'initial-cluster-token', kind: 'string', defaultText: 'etcd-cluster', help: 'Token that makes the IDs of a new cluster unique.' },
  { name: 'listen-metrics-urls', kind: 'urls', defaultText: '', help: 'Extra URLs serving /metrics and /health.' },
  { name: 'snapshot-count', kind: 'int', defaultText: '100000', help: 'Applied entries between two snapshots (default as in etcd 3.4).' },
  { name: 'heartbeat-interval', kind: 'int', defaultText: '100', help: 'Heartbeat interval in milliseconds.' },
  { name: 'election-timeout', kind: 'int', defaultText: '1000', help: 'Election timeout in milliseconds; at least 5 heartbeat intervals.' },
  {
    name: 'stop-grace-period',
    kind: 'int',
    defaultText: '20000',
    help: 'Kvorum only: milliseconds a stop (SIGTERM) may take to hand leadership to a follower and finish requests in flight; keep it under the pod\'s termination grace period (30 s by default).',
  },
  {
    name: 'client-workers',
    kind: 'int',
    defaultText: '0',
    help: 'Kvorum only: processes that serve client connections (TLS, HTTP/2, gRPC framing) beside the member\'s core, so a member uses more than one core; 0 serves them in the core (node/server/README.md, "Threads").',
  },
  {
    name: 'auto-compaction-mode',
    kind: 'string',
    defaultText: 'periodic',
    help: "Interpretation of --auto-compaction-retention: 'periodic' (a duration, or a number of hours) or 'revision' (a count).",
  },
  {
    name: 'auto-compaction-retention',
    kind: 'string',
    defaultText: '0',
    help: "History the leader keeps when it compacts on its own: '1h', '30m', '5' (hours, periodic) or '1000' (revisions); 0 turns it off.",
  },
  { name: 'quota-backend-bytes', kind: 'int', defaultText: String(DEFAULT_QUOTA_BACKEND_BYTES), help: 'Size at which writes are refused with a NOSPACE alarm (0 = default).' },
  { name: 'max-request-bytes', kind: 'int', defaultText: String(DEFAULT_MAX_REQUEST_BYTES), help: 'Largest client request accepted, in bytes.' },
  { name: 'max-txn-ops', kind: 'int', defaultText: '128', help: 'Most operations allowed in one transaction.' },
  {
    name: 'experimental-watch-progress-notify-interval',
    kind: 'string',
    defaultText: '10m0s',
    help: 'How often watchers that asked for progress notifications get one (a Go duration: 1s, 500ms, 10m0s).',
    aliases: ['watch-progress-notify-interval'],
  },
  {
    name: 'experimental-snapshot-catchup-entries',
    kind: 'int',
    defaultText: '5000',
    help: 'Entries kept after a snapshot so slow followers can catch up from the log.',
    aliases: ['snapshot-catchup-entries'],
  },
  {
    name: 'max-snapshots',
    kind: 'int',
    defaultText: String(DEFAULT_SNAPSHOTS_TO_KEEP),
    help: 'Snapshot files kept in the data dir (each holds the whole store, so fewer than etcd keeps; at least 1).',
  },
  { name: 'cert-file', kind: 'string', defaultText: '', help: 'TLS certificate for client traffic.' },
  { name: 'key-file', kind: 'string', defaultText: '', help: 'TLS key for client traffic.' },
  { name: 'trusted-ca-file', kind: 'string', defaultText: '', help: 'CA bundle that client certificates must chain to.' },
  { name: 'client-cert-auth', kind: 'bool', defaultText: 'false', help: 'Require clients to present a certificate signed by --trusted-ca-file.' },
  { name: 'peer-cert-file', kind: 'string', defaultText: '', help: 'TLS certificate for peer traffic.' },
  { name: 'peer-key-file', kind: 'string', defaultText: '', help: 'TLS key for peer traffic.' },
  { name: 'peer-trusted-ca-file', kind: 'string', defaultText: '', help: 'CA bundle that peer certificates must chain to.' },
  { name: 'peer-client-cert-auth', kind: 'bool', defaultText: 'false', help: 'Require peers to present a certificate signed by --peer-trusted-ca-file.' },
  {
    name: 'peer-cert-allowed-cn',
    kind: 'string',
    defaultText: '',
    help: 'Accept peer connections only with a certificate whose CN is one of these (comma-separated); client certificates of the same CA are then useless on the peer port.',
  },
  {
    name: 'peer-cert-allowed-hostname',
    kind: 'string',
    defaultText: '',
    help: 'Accept peer connections only with a certificate whose SANs cover one of these names (comma-separated).',
  },
  {
    name: 'auth-token',
    kind: 'string',
    defaultText: 'simple',
    help: "Auth tokens: 'simple', or 'jwt,pub-key=<file>,priv-key=<file>,sign-method=<RS256|ES256|PS256|...>,ttl=<duration>'.",
  },
  { name: 'auth-token-ttl', kind: 'int', defaultText: '300', help: 'Seconds a simple token stays valid after its last use.' },
  { name: 'bcrypt-cost', kind: 'int', defaultText: '10', help: "Accepted for etcd's command lines (4 to 31); passwords are hashed with scrypt." },
  { name: 'log-level', kind: 'string', defaultText: 'info', help: 'One of debug, info, warn, error, fatal.' },
];

const BY_NAME = new Map<string, FlagSpec>();
for (const spec of FLAGS) {
  BY_NAME.set(spec.name, spec);
  for (const alias of spec.aliases ?? []) BY_NAME.set(alias, spec);
}

/** The environment variable etcd reads for a flag: ETCD_ and the name in upper snake case. */
export function envNameFor(flag: string): string {
  return 'ETCD_' + flag.toUpperCase().replace(/-/g, '_');
}

const LOG_LEVELS: readonly string[] = ['debug', 'info', 'warn', 'error', 'fatal'];

/** Where a raw setting came from, for error messages. */
interface RawValue {
  value: string;
  /** "--name" or "ETCD_NAME". */
  source: string;
}

export function parseNodeConfig(argv: string[], env: Record<string, string | undefined>): NodeConfig {
  const warnings: string[] = [];
  const fromArgs = readArgs(argv);
  const fromEnv = readEnv(env, warnings);
  const raw = new Map<string, RawValue>();
  for (const [flag, v] of fromEnv) raw.set(flag, v);
  for (const [flag, v] of fromArgs) {
    const shadowed = fromEnv.get(flag);
    if (shadowed) warnings.push(`${v.source} was given on the command line and ${shadowed.source} in the environment; using the command line value`);
    raw.set(flag, v);
  }

  const str = (flag: string, fallback: string): string => raw.get(flag)?.value ?? fallback;
  const int = (flag: string, fallback: number, min: number): number => {
    const v = raw.get(flag);
    return v === undefined ? fallback : parseInteger(v, min);
  };
  const bool = (flag: string): boolean => {
    const v = raw.get(flag);
    return v === undefined ? false : parseBool(v);
  };
  const urls = (flag: string, fallback: string): RawValue => raw.get(flag) ?? { value: fallback, source: `--${flag}` };

  const name = str('name', 'default');
  if (name.trim() === '') throw new ConfigError(`${sourceOf(raw, 'name')}: the member name must not be empty`);
  const dataDir = str('data-dir', `${name}.etcd`);
  if (dataDir === '') throw new ConfigError(`${sourceOf(raw, 'data-dir')}: the data dir must not be empty`);

  const listenClientUrls = parseUrlList(urls('listen-client-urls', 'http://localhost:2379'), false).map((u) => new URL(u));
  if (raw.has('listen-client-urls') && !raw.has('advertise-client-urls')) {
    throw new ConfigError('--advertise-client-urls (ETCD_ADVERTISE_CLIENT_URLS) is required when --listen-client-urls is set');
  }
  const advertiseClientUrls = parseUrlList(urls('advertise-client-urls', 'http://localhost:2379'), false);
  const listenPeerUrls = parseUrlList(urls('listen-peer-urls', 'http://localhost:2380'), false).map((u) => new URL(u));
  const initialAdvertisePeerUrls = parseUrlList(urls('initial-advertise-peer-urls', 'http://localhost:2380'), false);
  const metricsRaw = raw.get('listen-metrics-urls');
  const listenMetricsUrls = metricsRaw ? parseUrlList(metricsRaw, true).map((u) => new URL(u)) : [];

  const clusterRaw = raw.get('initial-cluster') ?? {
    value: initialAdvertisePeerUrls.map((u) => `${name}=${u}`).join(','),
    source: '--initial-cluster',
  };
  const initialCluster = parseInitialCluster(clusterRaw);

  const stateRaw = raw.get('initial-cluster-state');
  const initialClusterState = stateRaw?.value ?? 'new';
  if (initialClusterState !== 'new' && initialClusterState !== 'existing') {
    throw new ConfigError(`${stateRaw!.source}: must be "new" or "existing", not "${initialClusterState}"`);
  }
  const initialClusterToken = str('initial-cluster-token', 'etcd-cluster');
  if (initialClusterToken === '') throw new ConfigError(`${sourceOf(raw, 'initial-cluster-token')}: the cluster token must not be empty`);

  if (initialClusterState === 'new') checkSelfInCluster(name, initialAdvertisePeerUrls, initialCluster, raw);

  const snapshotCount = int('snapshot-count', 100_000, 1);
  const heartbeatMs = int('heartbeat-interval', 100, 1);
  const electionMs = int('election-timeout', 1000, 1);
  if (electionMs < 5 * heartbeatMs) {
    throw new ConfigError(
      `--election-timeout (${electionMs}ms) must be at least 5 times --heartbeat-interval (${heartbeatMs}ms), i.e. at least ${5 * heartbeatMs}ms`,
    );
  }
  if (electionMs > MAX_ELECTION_TIMEOUT_MS) {
    throw new ConfigError(`--election-timeout (${electionMs}ms) is too long; it must be at most ${MAX_ELECTION_TIMEOUT_MS}ms`);
  }
  const stopGraceMs = int('stop-grace-period', 20000, 0);
  const clientWorkers = int('client-workers', 0, 0);
  if (clientWorkers > MAX_CLIENT_WORKERS) throw new ConfigError(`--client-workers (${clientWorkers}) must be at most ${MAX_CLIENT_WORKERS}`);
  const autoCompaction = autoCompactionFrom(raw);
  const quota = int('quota-backend-bytes', 0, 0);
  const quotaBackendBytes = quota === 0 ? DEFAULT_QUOTA_BACKEND_BYTES : quota;
  const maxRequestBytes = int('max-request-bytes', DEFAULT_MAX_REQUEST_BYTES, 1);
  const maxTxnOps = int('max-txn-ops', 128, 1);
  const snapshotCatchUpEntries = int('experimental-snapshot-catchup-entries', 5000, 1);
  const maxSnapshots = int('max-snapshots', DEFAULT_SNAPSHOTS_TO_KEEP, 1);
  const progressRaw = raw.get('experimental-watch-progress-notify-interval');
  const watchProgressNotifyMs = progressRaw ? parseGoDurationMs(progressRaw.value, progressRaw.source) : 10 * 60_000;

  const levelRaw = raw.get('log-level');
  const logLevel = levelRaw?.value ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`${levelRaw!.source}: unknown log level "${logLevel}"; use one of ${LOG_LEVELS.join(', ')}`);
  }

  const clientTls = tlsSide(raw, bool, { cert: 'cert-file', key: 'key-file', ca: 'trusted-ca-file', auth: 'client-cert-auth' });
  const peerTls = withPeerCertRules(raw, tlsSide(raw, bool, { cert: 'peer-cert-file', key: 'peer-key-file', ca: 'peer-trusted-ca-file', auth: 'peer-client-cert-auth' }));
  requireTlsFor(listenClientUrls, clientTls, 'listen-client-urls', '--cert-file and --key-file', raw);
  requireTlsFor(listenMetricsUrls, clientTls, 'listen-metrics-urls', '--cert-file and --key-file', raw);
  requireTlsFor(listenPeerUrls, peerTls, 'listen-peer-urls', '--peer-cert-file and --peer-key-file', raw);

  const auth = authFrom(raw, int);

  return {
    name,
    dataDir,
    listenClientUrls,
    advertiseClientUrls,
    listenPeerUrls,
    initialAdvertisePeerUrls,
    initialCluster,
    initialClusterState,
    initialClusterToken,
    listenMetricsUrls,
    snapshotCount,
    heartbeatMs,
    electionMs,
    quotaBackendBytes,
    maxRequestBytes,
    maxTxnOps,
    snapshotCatchUpEntries,
    watchProgressNotifyMs,
    maxSnapshots,
    stopGraceMs,
    clientWorkers,
    ...(autoCompaction && { autoCompaction }),
    requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
    logLevel: logLevel as LogLevel,
    ...(clientTls && { clientTls }),
    ...(peerTls && { peerTls }),
    auth,
    warnings,
  };
}

// ---- reading the sources ---------------------------------------------------

function readArgs(argv: string[]): Map<string, RawValue> {
  const out = new Map<string, RawValue>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--?([^=]+)(?:=([\s\S]*))?$/.exec(arg);
    if (!m || arg === '-' || arg === '--') throw new ConfigError(`unexpected argument "${arg}"; kvorum node takes only --flags`);
    const given = m[1]!;
    const spec = BY_NAME.get(given);
    if (!spec) throw new ConfigError(`unknown flag --${given}${suggestion(given)}`);
    const source = `--${given}`;
    let value = m[2];
    if (value === undefined) {
      if (spec.kind === 'bool') {
        value = 'true';
      } else {
        if (i + 1 >= argv.length) throw new ConfigError(`flag ${source} needs a value`);
        value = argv[++i]!;
      }
    }
    out.set(spec.name, { value, source });
  }
  return out;
}

function readEnv(env: Record<string, string | undefined>, warnings: string[]): Map<string, RawValue> {
  const byEnvName = new Map<string, FlagSpec>();
  for (const [name, spec] of BY_NAME) byEnvName.set(envNameFor(name), spec);
  const out = new Map<string, RawValue>();
  for (const key of Object.keys(env).sort()) {
    if (!key.startsWith('ETCD_')) continue;
    const value = env[key];
    if (value === undefined || value === '') continue;
    const spec = byEnvName.get(key);
    if (!spec) {
      warnings.push(`ignoring environment variable ${key}: it names no flag kvorum node knows`);
      continue;
    }
    out.set(spec.name, { value, source: key });
  }
  return out;
}

function suggestion(given: string): string {
  const close = FLAGS.map((f) => f.name).filter((n) => n.includes(given) || given.includes(n) || editDistance(n, given) <= 2);
  return close.length > 0 ? ` (did you mean --${close[0]}?)` : '';
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

function sourceOf(raw: Map<string, RawValue>, flag: string): string {
  return raw.get(flag)?.source ?? `--${flag}`;
}

// ---- value parsers -----------------------------------------------------------

function parseInteger(v: RawValue, min: number): number {
  const text = v.value.trim();
  if (!/^\d+$/.test(text)) throw new ConfigError(`${v.source}: "${v.value}" is not a whole number`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new ConfigError(`${v.source}: ${text} is too large`);
  if (n < min) throw new ConfigError(`${v.source}: must be at least ${min}, got ${n}`);
  return n;
}

function parseBool(v: RawValue): boolean {
  switch (v.value.trim()) {
    case '1':
    case 't':
    case 'T':
    case 'true':
    case 'TRUE':
    case 'True':
      return true;
    case '0':
    case 'f':
    case 'F':
    case 'false':
    case 'FALSE':
    case 'False':
      return false;
    default:
      throw new ConfigError(`${v.source}: "${v.value}" is not a boolean; use true or false`);
  }
}

/**
 * One http(s) URL with an explicit port and no path, written back in one
 * canonical form (lower-case scheme and host, no trailing slash) so the same
 * URL compares equal however it was typed.
 */
function parseOneUrl(text: string, source: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(\/?)(.*)$/.exec(text);
  if (!m) throw new ConfigError(`${source}: "${text}" is not a URL (expected scheme://host:port)`);
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') {
    throw new ConfigError(`${source}: URL "${text}" has scheme "${scheme}"; only http and https are supported`);
  }
  if (m[4] !== '') throw new ConfigError(`${source}: URL "${text}" must not have a path, query or fragment`);
  const hostPort = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]@]+):(\d{1,5})$/.exec(m[2]!);
  if (!hostPort) throw new ConfigError(`${source}: URL "${text}" needs a host and a port, as in ${scheme}://host:port`);
  const port = Number(hostPort[2]);
  if (port < 1 || port > 65535) throw new ConfigError(`${source}: URL "${text}" has port ${hostPort[2]}, outside 1-65535`);
  const canonical = `${scheme}://${hostPort[1]!.toLowerCase()}:${port}`;
  try {
    new URL(canonical);
  } catch {
    throw new ConfigError(`${source}: "${text}" is not a valid URL`);
  }
  return canonical;
}

function parseUrlList(v: RawValue, allowEmpty: boolean): string[] {
  const parts = v.value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (parts.length === 0) {
    if (allowEmpty) return [];
    throw new ConfigError(`${v.source}: at least one URL is required`);
  }
  const out: string[] = [];
  for (const p of parts) {
    const url = parseOneUrl(p, v.source);
    if (!out.includes(url)) out.push(url);
  }
  return out;
}

function parseInitialCluster(v: RawValue): InitialClusterMember[] {
  const members: InitialClusterMember[] = [];
  const owner = new Map<string, string>();
  const parts = v.value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (parts.length === 0) throw new ConfigError(`${v.source}: no members given (expected name=url,name=url,...)`);
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new ConfigError(`${v.source}: "${part}" is not of the form name=url`);
    const name = part.slice(0, eq).trim();
    const url = parseOneUrl(part.slice(eq + 1).trim(), `${v.source} (member "${name}")`);
    const previous = owner.get(url);
    if (previous !== undefined) {
      throw new ConfigError(
        previous === name ? `${v.source}: member "${name}" lists ${url} twice` : `${v.source}: URL ${url} is given for both "${previous}" and "${name}"`,
      );
    }
    owner.set(url, name);
    const existing = members.find((m) => m.name === name);
    if (existing) existing.peerUrls.push(url);
    else members.push({ name, peerUrls: [url] });
  }
  return members;
}

function sameSet(a: string[], b: string[]): boolean {
  const sa = [...a].sort();
  const sb = [...b].sort();
  return sa.length === sb.length && sa.every((x, i) => x === sb[i]);
}

function checkSelfInCluster(name: string, advertised: string[], cluster: InitialClusterMember[], raw: Map<string, RawValue>): void {
  const clusterSource = sourceOf(raw, 'initial-cluster');
  const self = cluster.find((m) => m.name === name);
  if (!self) {
    throw new ConfigError(
      `${clusterSource} has no entry for this member's name "${name}" (members: ${cluster.map((m) => m.name).join(', ')}); ` +
        `add ${name}=${advertised.join(`,${name}=`)} or fix --name`,
    );
  }
  if (!sameSet(self.peerUrls, advertised)) {
    throw new ConfigError(
      `${clusterSource} gives "${name}" the peer URLs ${self.peerUrls.join(',')}, but ${sourceOf(raw, 'initial-advertise-peer-urls')} ` +
        `is ${advertised.join(',')}; they must list the same URLs`,
    );
  }
}

function tlsSide(
  raw: Map<string, RawValue>,
  bool: (flag: string) => boolean,
  flags: { cert: string; key: string; ca: string; auth: string },
): TlsConfig | undefined {
  const cert = raw.get(flags.cert)?.value;
  const key = raw.get(flags.key)?.value;
  const ca = raw.get(flags.ca)?.value;
  const auth = bool(flags.auth);
  if (cert === undefined && key === undefined) {
    if (auth) throw new ConfigError(`${sourceOf(raw, flags.auth)} needs --${flags.cert} and --${flags.key}`);
    if (ca !== undefined) throw new ConfigError(`${sourceOf(raw, flags.ca)} needs --${flags.cert} and --${flags.key}`);
    return undefined;
  }
  if (cert === undefined) throw new ConfigError(`${sourceOf(raw, flags.key)} is set but --${flags.cert} is not; give both`);
  if (key === undefined) throw new ConfigError(`${sourceOf(raw, flags.cert)} is set but --${flags.key} is not; give both`);
  if (auth && ca === undefined) throw new ConfigError(`${sourceOf(raw, flags.auth)} needs --${flags.ca} to check certificates against`);
  return { certFile: cert, keyFile: key, ...(ca !== undefined && { trustedCaFile: ca }), clientCertAuth: auth };
}

/** --peer-cert-allowed-cn / --peer-cert-allowed-hostname: rules on the certificate a dialer presents. */
function withPeerCertRules(raw: Map<string, RawValue>, tls: TlsConfig | undefined): TlsConfig | undefined {
  const list = (flag: string): string[] | undefined => {
    const items = (raw.get(flag)?.value ?? '').split(',').map((v) => v.trim()).filter((v) => v.length > 0);
    return items.length > 0 ? items : undefined;
  };
  const cns = list('peer-cert-allowed-cn');
  const hosts = list('peer-cert-allowed-hostname');
  if (!cns && !hosts) return tls;
  const given = cns ? 'peer-cert-allowed-cn' : 'peer-cert-allowed-hostname';
  // Without a required peer certificate there is nothing to check the rule against.
  if (!tls?.clientCertAuth) throw new ConfigError(`${sourceOf(raw, given)} needs --peer-client-cert-auth (and the peer TLS flags)`);
  return { ...tls, ...(cns && { allowedCommonNames: cns }), ...(hosts && { allowedHostnames: hosts }) };
}

function requireTlsFor(urls: URL[], tls: TlsConfig | undefined, flag: string, needs: string, raw: Map<string, RawValue>): void {
  if (tls) return;
  const secure = urls.find((u) => u.protocol === 'https:');
  if (secure) throw new ConfigError(`${sourceOf(raw, flag)} has the https URL ${secure.origin}, which needs ${needs}`);
}

// ---- help --------------------------------------------------------------------

export function nodeHelp(): string {
  const lines = [
    'Usage: kvorum node [flags]',
    '',
    'Runs one member of a Kvorum cluster. Flags use etcd\'s names; each may also be',
    'given as an environment variable ETCD_<FLAG> (e.g. ETCD_DATA_DIR); a flag on',
    'the command line wins over the environment.',
    '',
    'Flags:',
  ];
  const width = Math.max(...FLAGS.map((f) => f.name.length + (f.kind === 'bool' ? 0 : 8))) + 4;
  for (const f of FLAGS) {
    const usage = `  --${f.name}${f.kind === 'bool' ? '' : ' <value>'}`;
    const def = f.defaultText === '' ? '' : ` (default ${f.defaultText})`;
    lines.push(`${usage.padEnd(width + 2)} ${f.help}${def}`);
    for (const alias of f.aliases ?? []) lines.push(`${''.padEnd(width + 2)} Also accepted as --${alias}.`);
  }
  lines.push('', `Client requests time out after ${DEFAULT_REQUEST_TIMEOUT_MS / 1000}s.`, '');
  return lines.join('\n');
}

function autoCompactionFrom(raw: Map<string, RawValue>): AutoCompactionPolicy | undefined {
  const mode = raw.get('auto-compaction-mode');
  const retention = raw.get('auto-compaction-retention');
  const source = retention?.source ?? mode?.source ?? '--auto-compaction-retention';
  try {
    return parseAutoCompaction(mode?.value ?? 'periodic', retention?.value ?? '0', (text) => parseGoDurationMs(text, source));
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`${mode && !retention ? mode.source : source}: ${(err as Error).message}`);
  }
}

function authFrom(raw: Map<string, RawValue>, int: (flag: string, fallback: number, min: number) => number): AuthConfig {
  const tokenTtlMs = int('auth-token-ttl', 300, 1) * 1000;
  const bcryptCost = int('bcrypt-cost', 10, 4);
  if (bcryptCost > 31) throw new ConfigError(`${sourceOf(raw, 'bcrypt-cost')}: must be between 4 and 31`);
  const given = raw.get('auth-token');
  return { token: given ? parseAuthToken(given.value, given.source) : { kind: 'simple' }, tokenTtlMs, bcryptCost };
}

/** etcd's --auth-token value: "simple", or "jwt" with comma-separated options. */
export function parseAuthToken(text: string, source: string): AuthConfig['token'] {
  const [kind, ...options] = text.split(',');
  if (kind === 'simple' && options.length === 0) return { kind: 'simple' };
  if (kind !== 'jwt') throw new ConfigError(`${source}: unknown token type "${kind}"; use simple or jwt,...`);
  const opts = new Map<string, string>();
  for (const o of options) {
    const eq = o.indexOf('=');
    if (eq <= 0) throw new ConfigError(`${source}: "${o}" is not key=value`);
    opts.set(o.slice(0, eq), o.slice(eq + 1));
  }
  for (const key of opts.keys()) {
    if (!['pub-key', 'priv-key', 'sign-method', 'ttl'].includes(key)) throw new ConfigError(`${source}: unknown jwt option "${key}"`);
  }
  const signMethod = opts.get('sign-method') ?? '';
  if (!(JWT_SIGN_METHODS as readonly string[]).includes(signMethod)) {
    throw new ConfigError(`${source}: sign-method must be one of ${JWT_SIGN_METHODS.join(', ')}`);
  }
  const pubKeyFile = opts.get('pub-key');
  if (!pubKeyFile) throw new ConfigError(`${source}: jwt needs pub-key=<file>`);
  const privKeyFile = opts.get('priv-key');
  const ttl = opts.get('ttl');
  return {
    kind: 'jwt',
    signMethod: signMethod as JwtSignMethod,
    pubKeyFile,
    ...(privKeyFile && { privKeyFile }),
    ttlMs: ttl ? parseGoDurationMs(ttl, source) : DEFAULT_JWT_TTL_MS,
  };
}

/** A positive Go duration ("1s", "500ms", "1m30s", "10m0s") in milliseconds. */
export function parseGoDurationMs(text: string, source: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
    throw new ConfigError(`${source}: "${text}" is not a duration (examples: 1s, 500ms, 10m0s)`);
  }
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]!]!, 0);
  if (ms <= 0) throw new ConfigError(`${source}: the interval must be positive`);
  return ms;
}
