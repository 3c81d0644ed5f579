// The checks the CRD schemas make (types, enums, patterns, CEL rules), as
// plain functions with messages that name the field. The operator runs them
// before acting on a resource, so a problem the API server did not catch (an
// older CRD installed, or a field the schema cannot express) turns into a clear
// status message instead of a half-applied change.
import {
  ALLOWED_REPLICAS,
  DEFAULT_ELECTION_TIMEOUT_MS,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  MAX_CLIENT_WORKERS,
  RETENTION_ACTIONS,
  TLS_MODES,
  UPDATE_STRATEGIES,
} from './constants.js';
import { cronProblems, isByteQuantity, isDuration, isResourceQuantity, quantityToBytes } from './quantity.js';

type Obj = Record<string, unknown>;

const VERSION_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const DNS_LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const ENDPOINT_RE = /^https?:\/\//;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isQuantity(v: unknown): v is string | number {
  return (typeof v === 'number' && v > 0) || (typeof v === 'string' && isByteQuantity(v));
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

/** Collects problems as "<path>: <message>". */
class Problems {
  readonly list: string[] = [];

  add(path: string, message: string): void {
    this.list.push(`${path}: ${message}`);
  }

  /** Reports fields of `obj` that the schema does not define (the API server would drop or reject them). */
  unknownFields(obj: Obj, path: string, known: readonly string[]): void {
    for (const key of Object.keys(obj)) if (!known.includes(key)) this.add(`${path}.${key}`, 'unknown field');
  }

  object(v: unknown, path: string): v is Obj {
    if (v === undefined) return false;
    if (!isObj(v)) {
      this.add(path, 'must be an object');
      return false;
    }
    return true;
  }

  string(v: unknown, path: string, opts: { min?: number; max?: number; pattern?: RegExp; hint?: string } = {}): void {
    if (v === undefined) return;
    if (typeof v !== 'string') return this.add(path, 'must be a string');
    if (opts.min !== undefined && v.length < opts.min) return this.add(path, opts.min === 1 ? 'must not be empty' : `must be at least ${opts.min} characters`);
    if (opts.max !== undefined && v.length > opts.max) return this.add(path, `must be at most ${opts.max} characters`);
    if (opts.pattern && !opts.pattern.test(v)) this.add(path, `"${v}" is not valid${opts.hint ? ` (${opts.hint})` : ''}`);
  }

  integer(v: unknown, path: string, min?: number, max?: number): void {
    if (v === undefined) return;
    if (!isInt(v)) return this.add(path, 'must be an integer');
    if (min !== undefined && v < min) return this.add(path, `must be at least ${min}, got ${v}`);
    if (max !== undefined && v > max) this.add(path, `must be at most ${max}, got ${v}`);
  }

  boolean(v: unknown, path: string): void {
    if (v !== undefined && typeof v !== 'boolean') this.add(path, 'must be true or false');
  }

  oneOf(v: unknown, path: string, allowed: readonly string[]): void {
    if (v === undefined) return;
    if (typeof v !== 'string' || !allowed.includes(v)) this.add(path, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  }

  required(obj: Obj, path: string, keys: readonly string[]): void {
    for (const k of keys) if (obj[k] === undefined) this.add(`${path}.${k}`, 'is required');
  }

  stringMap(v: unknown, path: string): void {
    if (!this.object(v, path)) return;
    for (const [k, val] of Object.entries(v)) if (typeof val !== 'string') this.add(`${path}.${k}`, 'must be a string');
  }

  byteQuantity(v: unknown, path: string): void {
    if (v === undefined) return;
    if (!isByteQuantity(v)) this.add(path, `${JSON.stringify(v)} is not a positive quantity (examples: 1Gi, 500M, 1073741824)`);
  }
}

function checkCredentials(p: Problems, v: unknown, path: string): void {
  if (!p.object(v, path)) return;
  p.unknownFields(v, path, ['name', 'accessKeyIdKey', 'secretAccessKeyKey']);
  p.required(v, path, ['name']);
  p.string(v.name, `${path}.name`, { min: 1, max: 253 });
  p.string(v.accessKeyIdKey, `${path}.accessKeyIdKey`, { max: 253 });
  p.string(v.secretAccessKeyKey, `${path}.secretAccessKeyKey`, { max: 253 });
}

function checkObjectStore(p: Problems, v: Obj, path: string): void {
  p.string(v.bucket, `${path}.bucket`, { min: 3, max: 63 });
  p.string(v.endpoint, `${path}.endpoint`, { max: 2048, pattern: ENDPOINT_RE, hint: 'must start with http:// or https://' });
  p.string(v.region, `${path}.region`, { max: 64 });
  p.boolean(v.forcePathStyle, `${path}.forcePathStyle`);
}

function checkDestination(p: Problems, v: unknown, path: string): void {
  if (!p.object(v, path)) return;
  p.unknownFields(v, path, ['bucket', 'prefix', 'endpoint', 'region', 'forcePathStyle']);
  p.required(v, path, ['bucket']);
  checkObjectStore(p, v, path);
  p.string(v.prefix, `${path}.prefix`, { max: 512 });
}

function checkStorage(p: Problems, v: unknown): void {
  const path = 'spec.storage';
  if (!p.object(v, path)) return;
  p.unknownFields(v, path, ['size', 'storageClassName', 'retentionPolicy']);
  p.byteQuantity(v.size, `${path}.size`);
  p.string(v.storageClassName, `${path}.storageClassName`, { min: 1, max: 253 });
  const rp = v.retentionPolicy;
  if (p.object(rp, `${path}.retentionPolicy`)) {
    p.unknownFields(rp, `${path}.retentionPolicy`, ['whenScaled', 'whenDeleted']);
    p.oneOf(rp.whenScaled, `${path}.retentionPolicy.whenScaled`, RETENTION_ACTIONS);
    p.oneOf(rp.whenDeleted, `${path}.retentionPolicy.whenDeleted`, RETENTION_ACTIONS);
  }
}

function checkResources(p: Problems, v: unknown): void {
  const path = 'spec.resources';
  if (!p.object(v, path)) return;
  p.unknownFields(v, path, ['limits', 'requests']);
  for (const kind of ['limits', 'requests'] as const) {
    const m = v[kind];
    if (!p.object(m, `${path}.${kind}`)) continue;
    for (const [name, q] of Object.entries(m)) {
      if (!isResourceQuantity(q)) p.add(`${path}.${kind}.${name}`, `${JSON.stringify(q)} is not a quantity (examples: 500m, 2, 1Gi)`);
    }
  }
}

function checkPodTemplate(p: Problems, v: unknown): void {
  const path = 'spec.podTemplate';
  if (!p.object(v, path)) return;
  p.unknownFields(v, path, ['labels', 'annotations', 'affinity', 'tolerations', 'topologySpreadConstraints', 'nodeSelector', 'priorityClassName']);
  p.stringMap(v.labels, `${path}.labels`);
  p.stringMap(v.annotations, `${path}.annotations`);
  p.stringMap(v.nodeSelector, `${path}.nodeSelector`);
  p.object(v.affinity, `${path}.affinity`);
  p.string(v.priorityClassName, `${path}.priorityClassName`, { max: 253 });
  if (v.tolerations !== undefined) {
    if (!Array.isArray(v.tolerations)) p.add(`${path}.tolerations`, 'must be a list');
    else
      v.tolerations.forEach((t, i) => {
        const tp = `${path}.tolerations[${i}]`;
        if (!p.object(t, tp)) return;
        p.unknownFields(t, tp, ['key', 'operator', 'value', 'effect', 'tolerationSeconds']);
        p.string(t.key, `${tp}.key`);
        p.string(t.value, `${tp}.value`);
        p.oneOf(t.operator, `${tp}.operator`, ['Exists', 'Equal']);
        p.oneOf(t.effect, `${tp}.effect`, ['NoSchedule', 'PreferNoSchedule', 'NoExecute']);
        p.integer(t.tolerationSeconds, `${tp}.tolerationSeconds`);
      });
  }
  if (v.topologySpreadConstraints !== undefined) {
    if (!Array.isArray(v.topologySpreadConstraints)) p.add(`${path}.topologySpreadConstraints`, 'must be a list');
    else
      v.topologySpreadConstraints.forEach((c, i) => {
        const cp = `${path}.topologySpreadConstraints[${i}]`;
        if (!p.object(c, cp)) return;
        p.unknownFields(c, cp, ['maxSkew', 'topologyKey', 'whenUnsatisfiable', 'minDomains', 'nodeAffinityPolicy', 'nodeTaintsPolicy', 'matchLabelKeys', 'labelSelector']);
        p.required(c, cp, ['maxSkew', 'topologyKey', 'whenUnsatisfiable']);
        p.integer(c.maxSkew, `${cp}.maxSkew`, 1);
        p.integer(c.minDomains, `${cp}.minDomains`, 1);
        p.string(c.topologyKey, `${cp}.topologyKey`);
        p.oneOf(c.whenUnsatisfiable, `${cp}.whenUnsatisfiable`, ['DoNotSchedule', 'ScheduleAnyway']);
        p.oneOf(c.nodeAffinityPolicy, `${cp}.nodeAffinityPolicy`, ['Honor', 'Ignore']);
        p.oneOf(c.nodeTaintsPolicy, `${cp}.nodeTaintsPolicy`, ['Honor', 'Ignore']);
        p.object(c.labelSelector, `${cp}.labelSelector`);
      });
  }
}

function checkTLS(p: Problems, v: unknown): void {
  const path = 'spec.tls';
  if (!p.object(v, path)) return;
  const names = ['serverSecretName', 'peerSecretName', 'clientSecretName', 'caSecretName'] as const;
  p.unknownFields(v, path, ['mode', ...names]);
  p.oneOf(v.mode, `${path}.mode`, TLS_MODES);
  for (const n of names) p.string(v[n], `${path}.${n}`, { max: 253 });
  if (v.mode === 'Secrets') {
    for (const n of ['serverSecretName', 'peerSecretName'] as const) {
      if (v[n] === undefined) p.add(`${path}.${n}`, 'is required when spec.tls.mode is Secrets');
    }
  }
}

function checkBackup(p: Problems, v: unknown): void {
  const path = 'spec.backup';
  if (!p.object(v, path)) return;
  p.unknownFields(v, path, ['destination', 'credentialsSecret']);
  p.required(v, path, ['destination']);
  checkDestination(p, v.destination, `${path}.destination`);
  checkCredentials(p, v.credentialsSecret, `${path}.credentialsSecret`);
}

function checkBootstrap(p: Problems, v: unknown): void {
  const path = 'spec.bootstrap';
  if (!p.object(v, path)) return;
  p.unknownFields(v, path, ['fromBackup']);
  const fb = v.fromBackup;
  const fp = `${path}.fromBackup`;
  if (!p.object(fb, fp)) return;
  p.unknownFields(fb, fp, ['backupName', 'location']);
  if ((fb.backupName === undefined) === (fb.location === undefined)) {
    p.add(fp, 'needs exactly one of backupName or location');
  }
  p.string(fb.backupName, `${fp}.backupName`, { min: 1, max: 253 });
  const loc = fb.location;
  const lp = `${fp}.location`;
  if (p.object(loc, lp)) {
    p.unknownFields(loc, lp, ['bucket', 'key', 'endpoint', 'region', 'forcePathStyle', 'credentialsSecret']);
    p.required(loc, lp, ['bucket', 'key']);
    checkObjectStore(p, loc, lp);
    p.string(loc.key, `${lp}.key`, { min: 1, max: 1024 });
    checkCredentials(p, loc.credentialsSecret, `${lp}.credentialsSecret`);
  }
}

/** What --auto-compaction-retention takes in periodic mode: hours, or a Go duration. */
const AUTO_COMPACTION_PERIOD = /^(\d+|(\d+(\.\d+)?(ms|s|m|h))+)$/;

function checkNodeConfig(p: Problems, v: unknown): void {
  const path = 'spec.nodeConfig';
  if (!p.object(v, path)) return;
  p.unknownFields(v, path, ['electionTimeoutMs', 'heartbeatIntervalMs', 'snapshotCount', 'quotaBackendBytes', 'autoCompactionMode', 'autoCompactionRetention', 'clientWorkers']);
  p.integer(v.electionTimeoutMs, `${path}.electionTimeoutMs`, 10, 50000);
  p.integer(v.heartbeatIntervalMs, `${path}.heartbeatIntervalMs`, 1, 10000);
  p.integer(v.snapshotCount, `${path}.snapshotCount`, 1);
  p.byteQuantity(v.quotaBackendBytes, `${path}.quotaBackendBytes`);
  p.integer(v.clientWorkers, `${path}.clientWorkers`, 0, MAX_CLIENT_WORKERS);
  p.oneOf(v.autoCompactionMode, `${path}.autoCompactionMode`, ['periodic', 'revision']);
  if (v.autoCompactionMode === 'revision') {
    p.string(v.autoCompactionRetention, `${path}.autoCompactionRetention`, { pattern: /^\d+$/, hint: 'a number of revisions in revision mode' });
  } else {
    p.string(v.autoCompactionRetention, `${path}.autoCompactionRetention`, { pattern: AUTO_COMPACTION_PERIOD, hint: 'a duration such as 1h or 30m, or a number of hours' });
  }
  const election = v.electionTimeoutMs ?? DEFAULT_ELECTION_TIMEOUT_MS;
  const heartbeat = v.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
  if (isInt(election) && isInt(heartbeat) && election < 5 * heartbeat) {
    p.add(`${path}.electionTimeoutMs`, `must be at least 5 times spec.nodeConfig.heartbeatIntervalMs (${election} < 5 x ${heartbeat})`);
  }
}

function sameJSON(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isObj(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  return JSON.stringify(v) ?? 'undefined';
}

/**
 * Problems with a KVCluster spec, one string per problem, each starting with
 * the field's path (for example "spec.replicas: must be one of 1, 3, 5, 7,
 * got 2"). With `oldSpec`, the update rules are checked too: storageClassName,
 * tls.mode and bootstrap cannot change. An empty list means valid.
 */
export function validateClusterSpec(spec: unknown, oldSpec?: unknown): string[] {
  const p = new Problems();
  if (!isObj(spec)) {
    p.add('spec', 'must be an object');
    return p.list;
  }
  p.unknownFields(spec, 'spec', ['replicas', 'version', 'image', 'storage', 'resources', 'podTemplate', 'tls', 'backup', 'bootstrap', 'nodeConfig', 'updateStrategy']);
  if (spec.updateStrategy !== undefined) p.oneOf(spec.updateStrategy, 'spec.updateStrategy', UPDATE_STRATEGIES);
  if (spec.replicas !== undefined && !(ALLOWED_REPLICAS as readonly unknown[]).includes(spec.replicas)) {
    p.add('spec.replicas', `must be one of ${ALLOWED_REPLICAS.join(', ')} (an odd number of members keeps a majority), got ${JSON.stringify(spec.replicas)}`);
  }
  p.string(spec.version, 'spec.version', { min: 1, max: 128, pattern: VERSION_RE, hint: 'an image tag: letters, digits, ".", "_", "-"' });
  p.string(spec.image, 'spec.image', { min: 1, max: 512 });
  checkStorage(p, spec.storage);
  checkResources(p, spec.resources);
  checkPodTemplate(p, spec.podTemplate);
  checkTLS(p, spec.tls);
  checkBackup(p, spec.backup);
  checkBootstrap(p, spec.bootstrap);
  checkNodeConfig(p, spec.nodeConfig);
  if (isObj(oldSpec)) checkTransitions(p, spec, oldSpec);
  return p.list;
}

function checkTransitions(p: Problems, spec: Obj, old: Obj): void {
  const oldSize = isObj(old.storage) ? old.storage.size : undefined;
  const newSize = isObj(spec.storage) ? spec.storage.size : undefined;
  if (isQuantity(oldSize) && isQuantity(newSize) && quantityToBytes(newSize) < quantityToBytes(oldSize)) {
    p.add('spec.storage.size', `cannot shrink (was ${String(oldSize)}, now ${String(newSize)}): volumes can only grow`);
  }
  const oldClass = isObj(old.storage) ? old.storage.storageClassName : undefined;
  const newClass = isObj(spec.storage) ? spec.storage.storageClassName : undefined;
  if (oldClass !== undefined) {
    if (newClass === undefined) p.add('spec.storage.storageClassName', 'cannot be removed once set');
    else if (newClass !== oldClass) p.add('spec.storage.storageClassName', `is immutable once set (was ${JSON.stringify(oldClass)}, now ${JSON.stringify(newClass)})`);
  }
  const mode = (s: Obj): unknown => (isObj(s.tls) && s.tls.mode !== undefined ? s.tls.mode : 'OperatorManaged');
  if (mode(spec) !== mode(old)) p.add('spec.tls.mode', `is immutable (was ${JSON.stringify(mode(old))}, now ${JSON.stringify(mode(spec))})`);
  if (!sameJSON(spec.bootstrap, old.bootstrap)) p.add('spec.bootstrap', 'is immutable: it can only be set when the cluster is created');
}

/** The settings a KVBackup and a schedule's backupTemplate share. */
function checkBackupSettings(p: Problems, spec: Obj, path: string): void {
  checkDestination(p, spec.destination, `${path}.destination`);
  checkCredentials(p, spec.credentialsSecret, `${path}.credentialsSecret`);
  p.oneOf(spec.deletionPolicy, `${path}.deletionPolicy`, ['Delete', 'Retain']);
  p.integer(spec.deadlineSeconds, `${path}.deadlineSeconds`, 60);
}

/** Problems with a KVBackup spec (and, given the old spec, with changing it). */
export function validateBackupSpec(spec: unknown, oldSpec?: unknown): string[] {
  const p = new Problems();
  if (!isObj(spec)) {
    p.add('spec', 'must be an object');
    return p.list;
  }
  p.unknownFields(spec, 'spec', ['cluster', 'destination', 'credentialsSecret', 'deletionPolicy', 'deadlineSeconds']);
  p.required(spec, 'spec', ['cluster']);
  p.string(spec.cluster, 'spec.cluster', { min: 1, max: 63, pattern: DNS_LABEL_RE, hint: 'the name of a KVCluster' });
  checkBackupSettings(p, spec, 'spec');
  if (oldSpec !== undefined && !sameJSON(spec, oldSpec)) p.add('spec', 'a KVBackup is immutable; create a new KVBackup instead');
  return p.list;
}

/** Problems with a KVBackupSchedule spec, including a field-by-field check of the cron expression. */
export function validateBackupScheduleSpec(spec: unknown): string[] {
  const p = new Problems();
  if (!isObj(spec)) {
    p.add('spec', 'must be an object');
    return p.list;
  }
  p.unknownFields(spec, 'spec', ['cluster', 'schedule', 'timeZone', 'immediate', 'backupTemplate', 'retention', 'suspend']);
  p.required(spec, 'spec', ['cluster', 'schedule']);
  p.string(spec.cluster, 'spec.cluster', { min: 1, max: 63, pattern: DNS_LABEL_RE, hint: 'the name of a KVCluster' });
  if (spec.schedule !== undefined) {
    if (typeof spec.schedule !== 'string') p.add('spec.schedule', 'must be a string');
    else for (const problem of cronProblems(spec.schedule)) p.add('spec.schedule', problem);
  }
  p.boolean(spec.suspend, 'spec.suspend');
  p.boolean(spec.immediate, 'spec.immediate');
  p.string(spec.timeZone, 'spec.timeZone', { min: 1, max: 64, pattern: /^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/, hint: 'an IANA time zone such as Europe/Berlin' });
  if (p.object(spec.backupTemplate, 'spec.backupTemplate')) {
    p.unknownFields(spec.backupTemplate, 'spec.backupTemplate', ['destination', 'credentialsSecret', 'deletionPolicy', 'deadlineSeconds']);
    checkBackupSettings(p, spec.backupTemplate, 'spec.backupTemplate');
  }
  const r = spec.retention;
  if (p.object(r, 'spec.retention')) {
    p.unknownFields(r, 'spec.retention', ['keepLast', 'maxAge']);
    p.integer(r.keepLast, 'spec.retention.keepLast', 1);
    if (r.maxAge !== undefined && !isDuration(r.maxAge)) {
      p.add('spec.retention.maxAge', `${JSON.stringify(r.maxAge)} is not a duration (examples: 168h, 90m, 1h30m)`);
    }
  }
  return p.list;
}
