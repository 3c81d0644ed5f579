// Which CA the members trust and which they should: the decision behind the
// generated TLS Secrets. The CA Secret is not the only record of the trust:
// every member's server and peer Secret carries the CA bundle in ca.crt. So
// a lost or replaced CA Secret is never answered by re-issuing everything at
// once (a restarted member would no longer talk to the others); the old CA
// certificate is recovered from the members' Secrets and the cluster moves to
// the new CA through a trust bundle (rotation.ts). When the old trust cannot
// be recovered, or the Secrets contradict each other, nothing is touched.
import type { KVCluster } from '../api/index.js';
import { caCertificates, caFingerprint } from './bundle.js';
import { generateCA, isSignedBy, keyMatchesCertificate, parseCertificate, type KeyPair } from './certs.js';
import { CA_KEYS, CA_VALIDITY_DAYS, clusterNamespace, secretText, TLS_KEYS, tlsSecretNames, type Secret } from './names.js';
import { CA_ROTATION_ANNOTATION, ROTATION_REASONS, rotationActive, rotationTrigger, startRotation, type TLSRotationStatus } from './rotation.js';

/** Condition reason when trust cannot be rebuilt without taking members down. */
export const TRUST_NOT_FOUND = 'TLSTrustNotFound';

export interface TrustInput {
  cluster: KVCluster;
  existing: Map<string, Secret>;
  /** status.tlsRotation as stored. */
  rotation?: TLSRotationStatus;
  /** Some member has run (pods or a cluster ID exist): its trust must be kept. */
  membersExist: boolean;
  now: Date;
}

export type TrustDecision =
  /** One CA, trusted by every member: leaves are issued and renewed from it. */
  | { kind: 'steady'; ca: KeyPair; caIssued?: string }
  /** Moving to `ca`: `old` are the CA certificates (PEM) still to be trusted in this phase. */
  | { kind: 'rotate'; ca: KeyPair; caIssued?: string; rotation: TLSRotationStatus; old: string[]; started: boolean }
  | { kind: 'refuse'; reason: string; message: string };

/** Why the CA Secret cannot sign (undefined when it can). Expiry is the rotation's business unless it is over. */
export function problemWithCA(secret: Secret | undefined, now: Date): string | undefined {
  if (!secret) return 'missing';
  const cert = secretText(secret, CA_KEYS.cert);
  const key = secretText(secret, CA_KEYS.key);
  if (!cert || !key) return `lacks ${!cert ? CA_KEYS.cert : CA_KEYS.key}`;
  try {
    const info = parseCertificate(cert);
    if (!info.isCA) return `${CA_KEYS.cert} is not a CA certificate`;
    if (!keyMatchesCertificate(cert, key)) return `${CA_KEYS.key} does not match ${CA_KEYS.cert}`;
    if (info.notAfter.getTime() <= now.getTime()) return `expired at ${info.notAfter.toISOString()}`;
    return undefined;
  } catch {
    return `${CA_KEYS.cert} is not a PEM certificate`;
  }
}

export async function decideTrust(input: TrustInput): Promise<TrustDecision> {
  const { cluster, existing, rotation, membersExist, now } = input;
  const c = cluster.metadata.name ?? '';
  const ns = clusterNamespace(cluster);
  const names = tlsSecretNames(cluster)!;
  const caName = names.ca!;
  const caSecret = existing.get(caName);
  const caProblem = problemWithCA(caSecret, now);
  const current: KeyPair | undefined = caProblem ? undefined : { cert: secretText(caSecret, CA_KEYS.cert)!, key: secretText(caSecret, CA_KEYS.key)! };
  const currentFp = current && caFingerprint(current.cert);
  const memberSecrets = [names.server, names.peer];
  // What the members mount, hence trust (the client Secret is not mounted).
  const trusted = caCertificates(memberSecrets.map((n) => secretText(existing.get(n), TLS_KEYS.ca)));
  const requested = cluster.metadata.annotations?.[CA_ROTATION_ANNOTATION];

  if (rotationActive(rotation) && current && currentFp === rotation.newCAFingerprint) {
    const everywhere = caCertificates([...memberSecrets, names.client].map((n) => n && secretText(existing.get(n), TLS_KEYS.ca)));
    const old = rotation.oldCAFingerprints.map((fp) => everywhere.get(fp));
    // From DropOld on, the old CAs may already be gone from the Secrets, as they should.
    if (rotation.phase !== 'DropOld' && old.some((p) => p === undefined)) {
      const lost = rotation.oldCAFingerprints.filter((_, i) => old[i] === undefined);
      return refuse(`CA rotation (${rotation.phase}): the old CA ${lost.join(', ')} is in no member's Secret any more (ca.crt of ${ns}/${names.server}, ${ns}/${names.peer}); restore it or reset status.tlsRotation`);
    }
    return { kind: 'rotate', ca: current, rotation, old: old.filter((p): p is string => p !== undefined), started: false };
  }

  if (trusted.size === 0) {
    if (current) return { kind: 'steady', ca: current };
    if (membersExist) {
      return refuse(
        `CA Secret ${ns}/${caName} is ${caProblem ?? 'unusable'} and no member's Secret carries the CA the members trust (ca.crt of ${ns}/${names.server}, ${ns}/${names.peer}): ` +
          'a new CA would cut the running members off from each other, so nothing is changed; restore the CA Secret (or the members\' Secrets) from a backup',
      );
    }
    // A cluster that never ran: nothing to stay compatible with.
    return { kind: 'steady', ca: await generateCA(`${c}-ca`, CA_VALIDITY_DAYS, now), caIssued: caProblem ?? 'missing' };
  }

  if (current && trusted.size === 1 && trusted.has(currentFp!)) {
    // A rotation recorded whose new CA never reached the CA Secret (the operator stopped in between): start it again.
    const unfinished = rotationActive(rotation) ? { reason: rotation.reason, message: rotation.message } : undefined;
    const trigger = unfinished ?? rotationTrigger({ requested, ...(rotation && { last: rotation }), caNotAfter: parseCertificate(current.cert).notAfter, now });
    if (!trigger) return { kind: 'steady', ca: current };
    const next = await generateCA(`${c}-ca`, CA_VALIDITY_DAYS, now);
    return {
      kind: 'rotate',
      ca: next,
      caIssued: trigger.message,
      rotation: startRotation(trigger, [currentFp!], caFingerprint(next.cert), requested, now),
      old: [current.cert],
      started: true,
    };
  }

  // The CA Secret is lost, unusable or holds a CA the members do not (only) trust: rebuild trust through a bundle.
  const old = [...trusted].filter(([fp]) => fp !== currentFp);
  const unsigned = memberSecrets.filter((n) => {
    const cert = secretText(existing.get(n), TLS_KEYS.cert);
    const key = secretText(existing.get(n), TLS_KEYS.key);
    return !cert || !key || !keyMatchesCertificate(cert, key) || ![...trusted.values()].some((ca) => isSignedBy(cert, ca));
  });
  if (unsigned.length > 0) {
    return refuse(
      `CA Secret ${ns}/${caName} is ${caProblem ?? 'not the CA the members trust'}, and ${unsigned.map((n) => `${ns}/${n}`).join(', ')} ` +
        'lacks a certificate and key signed by a CA the members trust: rebuilding trust would take members down, so nothing is changed',
    );
  }
  const trigger = current
    ? { reason: ROTATION_REASONS.replaced, message: `CA Secret ${ns}/${caName} holds a CA the members do not trust yet; moving to it through a trust bundle` }
    : { reason: ROTATION_REASONS.missing, message: `CA Secret ${ns}/${caName} is ${caProblem}; old CA recovered from the members' Secrets, moving to a new CA through a trust bundle` };
  const ca = current ?? (await generateCA(`${c}-ca`, CA_VALIDITY_DAYS, now));
  return {
    kind: 'rotate',
    ca,
    ...(!current && { caIssued: trigger.message }),
    rotation: startRotation(trigger, old.map(([fp]) => fp), caFingerprint(ca.cert), requested, now),
    old: old.map(([, pem]) => pem),
    started: true,
  };
}

function refuse(message: string): TrustDecision {
  return { kind: 'refuse', reason: TRUST_NOT_FOUND, message };
}
