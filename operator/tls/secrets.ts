// The TLS Secrets a KVCluster needs. OperatorManaged: a CA and server, peer
// and client certificates the operator generates and renews; existing valid
// Secrets are returned with their data unchanged, so reconciling twice
// issues nothing. Secrets: the user's Secrets are checked, never written.
// Disabled: nothing. Which CA to issue from (and whether the cluster is
// moving to a new one) is trust.ts's decision.
import { clusterLabels, LABELS, ownerReferenceFor, type KVCluster, type TLSMode } from '../api/index.js';
import { joinBundle } from './bundle.js';
import {
  coversName,
  isSignedBy,
  issueCertificate,
  keyMatchesCertificate,
  parseCertificate,
  type CertificateUsage,
  type KeyPair,
} from './certs.js';
import {
  CA_KEYS,
  CLIENT_COMMON_NAME,
  clusterNamespace,
  LEAF_VALIDITY_DAYS,
  LOOPBACK_IPS,
  peerCommonName,
  peerDNSNames,
  RENEW_BEFORE_DAYS,
  secretText,
  serverDNSNames,
  TLS_KEYS,
  tlsMode,
  tlsSecretNames,
  type Secret,
} from './names.js';
import type { TLSRotationStatus } from './rotation.js';
import { decideTrust } from './trust.js';
import { checkUserSecrets } from './user-secrets.js';

const DAY_MS = 86_400_000;
const SIGNED_ELSEWHERE = 'signed by another CA';

/** What the trust decision needs beyond the Secrets (see trust.ts). */
export interface TrustContext {
  /** status.tlsRotation as stored. */
  rotation?: TLSRotationStatus;
  /** Some member has run: a lost CA must not be answered with a new one alone. */
  membersExist: boolean;
}

export interface TLSIssue {
  secret: string;
  reason: string;
}

export interface TLSSecretsResult {
  mode: TLSMode;
  /** Secrets the operator owns and must apply (OperatorManaged only); valid ones carry their existing data unchanged. */
  secrets: Secret[];
  /** Secrets (re)issued by this call and why, for Events; empty when nothing changed. */
  issued: TLSIssue[];
  /** Set when the cluster's TLS Secrets are unusable: report a Degraded condition with it and do not roll the pods. */
  error?: { reason: string; message: string };
  /** Problems that do not stop the cluster yet (e.g. a user certificate expiring soon). */
  warnings: string[];
  /** The CA certificates the operator's client trusts: during a CA rotation, old and new. */
  clientCA?: string;
  /** A CA rotation in progress (status.tlsRotation to record). */
  rotation?: TLSRotationStatus;
  /** The rotation started in this call (an Event is due). */
  rotationStarted?: boolean;
}

interface LeafSpec {
  name: string;
  commonName: string;
  usage: CertificateUsage;
  dnsNames: string[];
  ipAddresses: string[];
}

/**
 * The TLS Secrets `cluster` needs, given the Secrets that exist now (by
 * name, in the cluster's namespace). Async because issuing signs with WebCrypto.
 */
export async function desiredTLSSecrets(cluster: KVCluster, existing: Map<string, Secret>, now: Date = new Date(), ctx: TrustContext = { membersExist: false }): Promise<TLSSecretsResult> {
  const mode = tlsMode(cluster);
  if (mode === 'Disabled') return { mode, secrets: [], issued: [], warnings: [] };
  if (mode === 'Secrets') {
    const check = checkUserSecrets(cluster, existing, now);
    return { mode, secrets: [], issued: [], warnings: check.warnings, ...(check.error && { error: check.error }) };
  }
  return generatedSecrets(cluster, existing, now, ctx);
}

async function generatedSecrets(cluster: KVCluster, existing: Map<string, Secret>, now: Date, ctx: TrustContext): Promise<TLSSecretsResult> {
  const c = cluster.metadata.name ?? '';
  const names = tlsSecretNames(cluster)!;
  const issued: TLSIssue[] = [];
  const secrets: Secret[] = [];

  const trust = await decideTrust({ cluster, existing, ...(ctx.rotation && { rotation: ctx.rotation }), membersExist: ctx.membersExist, now });
  if (trust.kind === 'refuse') return { mode: 'OperatorManaged', secrets: [], issued: [], warnings: [], error: { reason: trust.reason, message: trust.message } };
  const { ca } = trust;
  const caName = names.ca!;
  const caSecret = existing.get(caName);
  if (trust.caIssued) issued.push({ secret: caName, reason: trust.caIssued });
  secrets.push(ownedSecret(cluster, caName, 'Opaque', trust.caIssued || !caSecret ? encode({ [CA_KEYS.cert]: ca.cert, [CA_KEYS.key]: ca.key }) : pick(caSecret, Object.values(CA_KEYS))));

  const leaves: LeafSpec[] = [
    // Members also dial the leader's client URL with this certificate (to
    // forward membership changes), as etcd members do: it needs clientAuth too.
    { name: names.server, commonName: `${c}-server`, usage: 'peer', dnsNames: serverDNSNames(cluster), ipAddresses: LOOPBACK_IPS },
    { name: names.peer, commonName: peerCommonName(cluster), usage: 'peer', dnsNames: peerDNSNames(cluster), ipAddresses: LOOPBACK_IPS },
    { name: names.client!, commonName: CLIENT_COMMON_NAME, usage: 'client', dnsNames: [], ipAddresses: [] },
  ];
  const issue = async (leaf: LeafSpec, caText: string, reason: string): Promise<void> => {
    const pair = await issueCertificate(ca, { commonName: leaf.commonName, dnsNames: leaf.dnsNames, ipAddresses: leaf.ipAddresses, usage: leaf.usage, validityDays: LEAF_VALIDITY_DAYS }, now);
    secrets.push(ownedSecret(cluster, leaf.name, 'kubernetes.io/tls', encode({ [TLS_KEYS.cert]: pair.cert, [TLS_KEYS.key]: pair.key, [TLS_KEYS.ca]: caText })));
    issued.push({ secret: leaf.name, reason });
  };

  if (trust.kind === 'steady') {
    for (const leaf of leaves) {
      const current = existing.get(leaf.name);
      const problem = problemWithLeaf(current, ca, leaf, now);
      if (!problem) secrets.push(ownedSecret(cluster, leaf.name, 'kubernetes.io/tls', pick(current!, Object.values(TLS_KEYS))));
      else await issue(leaf, ca.cert, problem);
    }
    return { mode: 'OperatorManaged', secrets, issued, warnings: [], clientCA: ca.cert };
  }

  // A rotation: the bundle (old CAs + new) until DropOld, then the new CA alone.
  const { rotation } = trust;
  const bundle = joinBundle([...trust.old, ca.cert]);
  const leafCA = rotation.phase === 'DropOld' ? joinBundle([ca.cert]) : bundle;
  for (const leaf of leaves) {
    const current = existing.get(leaf.name);
    // TrustBoth keeps every leaf the members can verify; later phases want leaves from the new CA.
    const signer = rotation.phase === 'TrustBoth' ? bundle : ca.cert;
    const problem = problemWithLeaf(current, { cert: signer, key: '' }, leaf, now, { ignoreCA: true, ignoreExpiry: rotation.phase === 'TrustBoth' });
    if (problem) {
      await issue(leaf, leafCA, problem === SIGNED_ELSEWHERE ? `re-issued from the new CA (CA rotation phase ${rotation.phase})` : problem);
      continue;
    }
    if (secretText(current, TLS_KEYS.ca) !== leafCA) issued.push({ secret: leaf.name, reason: `${TLS_KEYS.ca} set for CA rotation phase ${rotation.phase}` });
    secrets.push(ownedSecret(cluster, leaf.name, 'kubernetes.io/tls', { ...pick(current!, [TLS_KEYS.cert, TLS_KEYS.key]), [TLS_KEYS.ca]: b64(leafCA) }));
  }
  return { mode: 'OperatorManaged', secrets, issued, warnings: [], rotation, rotationStarted: trust.started, clientCA: bundle };
}

/** Why a leaf Secret must be (re)issued, or undefined when it is usable. */
function problemWithLeaf(secret: Secret | undefined, ca: KeyPair, leaf: LeafSpec, now: Date, opts: { ignoreCA?: boolean; ignoreExpiry?: boolean } = {}): string | undefined {
  if (!secret) return 'missing';
  const cert = secretText(secret, TLS_KEYS.cert);
  const key = secretText(secret, TLS_KEYS.key);
  const caCert = secretText(secret, TLS_KEYS.ca);
  const lacking = Object.values(TLS_KEYS).filter((k) => !secretText(secret, k));
  if (!cert || !key || (!caCert && !opts.ignoreCA)) return `lacks ${lacking.filter((k) => k !== TLS_KEYS.ca || !opts.ignoreCA).join(', ')}`;
  let info;
  try {
    info = parseCertificate(cert);
  } catch {
    return `${TLS_KEYS.cert} is not a PEM certificate`;
  }
  if (!isSignedBy(cert, ca.cert)) return SIGNED_ELSEWHERE;
  if (!opts.ignoreCA && caCert!.trim() !== ca.cert.trim()) return `${TLS_KEYS.ca} is not the current CA`;
  if (!keyMatchesCertificate(cert, key)) return `${TLS_KEYS.key} does not match ${TLS_KEYS.cert}`;
  const expiry = expiryProblem(info.notAfter, now);
  if (expiry && !opts.ignoreExpiry) return expiry;
  const uncovered = [...leaf.dnsNames, ...leaf.ipAddresses].filter((n) => !coversName(info, n));
  if (uncovered.length > 0) return `SANs do not cover ${uncovered.join(', ')}`;
  const wanted = [...(leaf.usage !== 'client' ? ['serverAuth'] : []), ...(leaf.usage !== 'server' ? ['clientAuth'] : [])];
  const missingUsage = wanted.filter((u) => !info.extendedKeyUsages.includes(u));
  if (missingUsage.length > 0) return `lacks extended key usage ${missingUsage.join(', ')}`;
  return undefined;
}

function expiryProblem(notAfter: Date, now: Date): string | undefined {
  if (notAfter.getTime() <= now.getTime()) return `expired at ${notAfter.toISOString()}`;
  if (notAfter.getTime() - now.getTime() < RENEW_BEFORE_DAYS * DAY_MS) {
    return `expires at ${notAfter.toISOString()}, within ${RENEW_BEFORE_DAYS} days`;
  }
  return undefined;
}

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function encode(text: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(text).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]));
}

function pick(secret: Secret, keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.filter((k) => secret.data?.[k] !== undefined).map((k) => [k, secret.data![k]!]));
}

function ownedSecret(cluster: KVCluster, name: string, type: string, data: Record<string, string>): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace: clusterNamespace(cluster),
      labels: clusterLabels(cluster.metadata.name ?? '', { [LABELS.component]: 'tls' }),
      ownerReferences: [ownerReferenceFor(cluster)],
    },
    type,
    data,
  };
}
