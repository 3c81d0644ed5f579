// The TLS Secrets a KVCluster needs. OperatorManaged: a CA and server, peer
// and client certificates the operator generates and renews; existing valid
// Secrets are returned with their data unchanged, so reconciling twice
// issues nothing. Secrets: the user's Secrets are checked, never written.
// Disabled: nothing.
import { clusterLabels, LABELS, ownerReferenceFor, type KVCluster, type TLSMode } from '../api/index.js';
import {
  coversName,
  generateCA,
  isSignedBy,
  issueCertificate,
  keyMatchesCertificate,
  parseCertificate,
  type CertificateUsage,
  type KeyPair,
} from './certs.js';
import {
  CA_KEYS,
  CA_VALIDITY_DAYS,
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
import { checkUserSecrets } from './user-secrets.js';

const DAY_MS = 86_400_000;

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
export async function desiredTLSSecrets(cluster: KVCluster, existing: Map<string, Secret>, now: Date = new Date()): Promise<TLSSecretsResult> {
  const mode = tlsMode(cluster);
  if (mode === 'Disabled') return { mode, secrets: [], issued: [], warnings: [] };
  if (mode === 'Secrets') {
    const check = checkUserSecrets(cluster, existing, now);
    return { mode, secrets: [], issued: [], warnings: check.warnings, ...(check.error && { error: check.error }) };
  }
  return generatedSecrets(cluster, existing, now);
}

async function generatedSecrets(cluster: KVCluster, existing: Map<string, Secret>, now: Date): Promise<TLSSecretsResult> {
  const c = cluster.metadata.name ?? '';
  const names = tlsSecretNames(cluster)!;
  const issued: TLSIssue[] = [];
  const secrets: Secret[] = [];

  const caName = names.ca!;
  let ca: KeyPair;
  const caSecret = existing.get(caName);
  const caProblem = problemWithCA(caSecret, now);
  if (caProblem) {
    ca = await generateCA(`${c}-ca`, CA_VALIDITY_DAYS, now);
    issued.push({ secret: caName, reason: caProblem });
  } else {
    ca = { cert: secretText(caSecret, CA_KEYS.cert)!, key: secretText(caSecret, CA_KEYS.key)! };
  }
  secrets.push(ownedSecret(cluster, caName, 'Opaque', caProblem ? encode({ [CA_KEYS.cert]: ca.cert, [CA_KEYS.key]: ca.key }) : pick(caSecret!, Object.values(CA_KEYS))));

  const leaves: LeafSpec[] = [
    // Members also dial the leader's client URL with this certificate (to
    // forward membership changes), as etcd members do: it needs clientAuth too.
    { name: names.server, commonName: `${c}-server`, usage: 'peer', dnsNames: serverDNSNames(cluster), ipAddresses: LOOPBACK_IPS },
    { name: names.peer, commonName: peerCommonName(cluster), usage: 'peer', dnsNames: peerDNSNames(cluster), ipAddresses: LOOPBACK_IPS },
    { name: names.client!, commonName: CLIENT_COMMON_NAME, usage: 'client', dnsNames: [], ipAddresses: [] },
  ];
  for (const leaf of leaves) {
    const current = existing.get(leaf.name);
    const problem = problemWithLeaf(current, ca, leaf, now);
    if (!problem) {
      secrets.push(ownedSecret(cluster, leaf.name, 'kubernetes.io/tls', pick(current!, Object.values(TLS_KEYS))));
      continue;
    }
    const pair = await issueCertificate(ca, { commonName: leaf.commonName, dnsNames: leaf.dnsNames, ipAddresses: leaf.ipAddresses, usage: leaf.usage, validityDays: LEAF_VALIDITY_DAYS }, now);
    secrets.push(ownedSecret(cluster, leaf.name, 'kubernetes.io/tls', encode({ [TLS_KEYS.cert]: pair.cert, [TLS_KEYS.key]: pair.key, [TLS_KEYS.ca]: ca.cert })));
    issued.push({ secret: leaf.name, reason: problem });
  }
  return { mode: 'OperatorManaged', secrets, issued, warnings: [] };
}

/** Why the CA Secret must be (re)generated, or undefined when it is usable. */
function problemWithCA(secret: Secret | undefined, now: Date): string | undefined {
  if (!secret) return 'missing';
  const cert = secretText(secret, CA_KEYS.cert);
  const key = secretText(secret, CA_KEYS.key);
  if (!cert || !key) return `lacks ${!cert ? CA_KEYS.cert : CA_KEYS.key}`;
  try {
    const info = parseCertificate(cert);
    if (!info.isCA) return `${CA_KEYS.cert} is not a CA certificate`;
    if (!keyMatchesCertificate(cert, key)) return `${CA_KEYS.key} does not match ${CA_KEYS.cert}`;
    return expiryProblem(info.notAfter, now);
  } catch {
    return `${CA_KEYS.cert} is not a PEM certificate`;
  }
}

/** Why a leaf Secret must be (re)issued, or undefined when it is usable. */
function problemWithLeaf(secret: Secret | undefined, ca: KeyPair, leaf: LeafSpec, now: Date): string | undefined {
  if (!secret) return 'missing';
  const cert = secretText(secret, TLS_KEYS.cert);
  const key = secretText(secret, TLS_KEYS.key);
  const caCert = secretText(secret, TLS_KEYS.ca);
  const lacking = Object.values(TLS_KEYS).filter((k) => !secretText(secret, k));
  if (!cert || !key || !caCert) return `lacks ${lacking.join(', ')}`;
  let info;
  try {
    info = parseCertificate(cert);
  } catch {
    return `${TLS_KEYS.cert} is not a PEM certificate`;
  }
  if (!isSignedBy(cert, ca.cert)) return 'signed by another CA';
  if (caCert.trim() !== ca.cert.trim()) return `${TLS_KEYS.ca} is not the current CA`;
  if (!keyMatchesCertificate(cert, key)) return `${TLS_KEYS.key} does not match ${TLS_KEYS.cert}`;
  const expiry = expiryProblem(info.notAfter, now);
  if (expiry) return expiry;
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
