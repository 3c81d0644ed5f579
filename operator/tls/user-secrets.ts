// spec.tls.mode Secrets: the user brings the certificates. The operator
// never writes these Secrets; it checks that the members could start and
// talk with them, and says precisely what is wrong otherwise (a Degraded
// condition), rather than letting pods crash-loop on a TLS error.
import { memberHost, memberName } from '../../contract/index.js';
import type { KVCluster } from '../api/index.js';
import { coversName, isSignedBy, keyMatchesCertificate, parseCertificate, type CertificateInfo } from './certs.js';
import { CA_KEYS, clusterNamespace, RENEW_BEFORE_DAYS, secretText, TLS_KEYS, tlsSecretNames, type Secret } from './names.js';

const DAY_MS = 86_400_000;

export interface UserSecretsCheck {
  error?: { reason: string; message: string };
  warnings: string[];
}

interface Loaded {
  role: 'server' | 'peer' | 'client';
  name: string;
  cert: string;
  info: CertificateInfo;
  /** The CA bundle that verifies the other side for this role. */
  ca: string;
}

/** Checks the user-supplied TLS Secrets of `cluster` (spec.tls.mode Secrets). */
export function checkUserSecrets(cluster: KVCluster, existing: Map<string, Secret>, now: Date): UserSecretsCheck {
  const ns = clusterNamespace(cluster);
  const names = tlsSecretNames(cluster)!;
  const problems: string[] = [];
  const warnings: string[] = [];
  const ref = (name: string): string => `Secret ${ns}/${name}`;

  let sharedCA: string | undefined;
  if (names.ca) {
    const caSecret = existing.get(names.ca);
    sharedCA = secretText(caSecret, CA_KEYS.cert);
    if (!caSecret) problems.push(`${ref(names.ca)} (spec.tls.caSecretName) not found`);
    else if (!sharedCA) problems.push(`${ref(names.ca)} (spec.tls.caSecretName) has no ${CA_KEYS.cert}`);
  }

  const loaded: Loaded[] = [];
  const roles: { role: Loaded['role']; name: string; field: string }[] = [
    { role: 'server', name: names.server, field: 'serverSecretName' },
    { role: 'peer', name: names.peer, field: 'peerSecretName' },
    ...(names.client ? [{ role: 'client' as const, name: names.client, field: 'clientSecretName' }] : []),
  ];
  for (const { role, name, field } of roles) {
    if (!name) {
      problems.push(`spec.tls.${field} is required when spec.tls.mode is Secrets`);
      continue;
    }
    const secret = existing.get(name);
    if (!secret) {
      problems.push(`${ref(name)} (spec.tls.${field}) not found`);
      continue;
    }
    const cert = secretText(secret, TLS_KEYS.cert);
    const key = secretText(secret, TLS_KEYS.key);
    const ca = sharedCA ?? secretText(secret, TLS_KEYS.ca);
    const lacking: string[] = [];
    if (!cert) lacking.push(TLS_KEYS.cert);
    if (!key) lacking.push(TLS_KEYS.key);
    if (!ca && !names.ca) lacking.push(TLS_KEYS.ca);
    if (lacking.length > 0) {
      problems.push(`${ref(name)} lacks ${lacking.join(', ')}${lacking.includes(TLS_KEYS.ca) ? ' (or set spec.tls.caSecretName)' : ''}`);
      continue;
    }
    let info: CertificateInfo;
    try {
      info = parseCertificate(cert!);
    } catch {
      problems.push(`${ref(name)}: ${TLS_KEYS.cert} is not a PEM certificate`);
      continue;
    }
    if (!keyMatchesCertificate(cert!, key!)) problems.push(`${ref(name)}: ${TLS_KEYS.key} does not match ${TLS_KEYS.cert}`);
    if (info.notAfter.getTime() <= now.getTime()) problems.push(`${ref(name)}: certificate expired at ${info.notAfter.toISOString()}`);
    else if (info.notAfter.getTime() - now.getTime() < RENEW_BEFORE_DAYS * DAY_MS) {
      warnings.push(`${ref(name)}: certificate expires at ${info.notAfter.toISOString()}; replace it soon`);
    }
    const usages = role === 'server' || role === 'peer' ? ['serverAuth'] : ['clientAuth'];
    if (role === 'peer') usages.push('clientAuth'); // members dial each other with the peer certificate
    const lackingUsage = usages.filter((u) => info.extendedKeyUsages.length > 0 && !info.extendedKeyUsages.includes(u));
    if (lackingUsage.length > 0) problems.push(`${ref(name)}: certificate lacks extended key usage ${lackingUsage.join(', ')}`);
    loaded.push({ role, name, cert: cert!, info, ca: ca! });
  }

  const c = cluster.metadata.name ?? '';
  const replicas = cluster.spec?.replicas ?? 3;
  for (const l of loaded) {
    if (l.role === 'client') continue;
    const hosts = Array.from({ length: replicas }, (_, i) => memberHost(c, ns, memberName(c, i)));
    const uncovered = hosts.filter((h) => !coversName(l.info, h));
    if (uncovered.length > 0) problems.push(`${ref(l.name)}: certificate SANs do not cover ${uncovered.join(', ')} (members are addressed by these names)`);
    if (l.ca && !isSignedBy(l.cert, l.ca)) problems.push(`${ref(l.name)}: certificate is not signed by the CA in ${names.ca ? ref(names.ca) : TLS_KEYS.ca}`);
  }
  const server = loaded.find((l) => l.role === 'server');
  const client = loaded.find((l) => l.role === 'client');
  // With --client-cert-auth the members check client certificates against the server Secret's CA.
  if (server?.ca && client && !isSignedBy(client.cert, server.ca)) {
    problems.push(`${ref(client.name)}: client certificate is not signed by the CA the members trust (${names.ca ? ref(names.ca) : `${ref(server.name)} ${TLS_KEYS.ca}`})`);
  }
  if (server && !client && server.info.extendedKeyUsages.length > 0 && !server.info.extendedKeyUsages.includes('clientAuth')) {
    warnings.push(`${ref(server.name)}: without spec.tls.clientSecretName the operator and members use the server certificate as a client certificate, but it lacks clientAuth`);
  }
  if (problems.length === 0) return { warnings };
  return { error: { reason: 'TLSSecretsInvalid', message: problems.join('; ') }, warnings };
}
