// Certificates for a cluster's own CA: a self-signed CA and the server, peer
// and client certificates it signs, as PEM (certificate) plus PEM PKCS#8
// (key). Keys are ECDSA P-256: small, fast to generate, and accepted by
// Go's TLS stack (etcdctl) and by OpenSSL (Node).
import { createPrivateKey, createPublicKey, webcrypto, X509Certificate as NodeX509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type SigningAlgorithm = webcrypto.Algorithm | webcrypto.EcdsaParams;
// The library's typings name the DOM's Crypto; Node's webcrypto is that API.
const crypto = webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.create>[1];
const subtle = webcrypto.subtle;
const EC_KEY: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY_MS = 86_400_000;
/** Certificates start a little in the past so a member whose clock lags still accepts them. */
const BACKDATE_MS = 5 * 60_000;

export type CertificateUsage = 'server' | 'client' | 'peer';

/** A PEM certificate and its PEM (PKCS#8) private key. */
export interface KeyPair {
  cert: string;
  key: string;
}

export interface CertificateRequest {
  commonName: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  /** server: serverAuth; client: clientAuth; peer: both (the certificate serves and dials). */
  usage: CertificateUsage;
  validityDays: number;
}

export interface CertificateInfo {
  subject: string;
  commonName: string | undefined;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  dnsNames: string[];
  ipAddresses: string[];
  /** Extended key usages by name ('serverAuth', 'clientAuth'; other OIDs as they are). */
  extendedKeyUsages: string[];
  isCA: boolean;
}

function pem(label: string, der: ArrayBuffer): string {
  return x509.PemConverter.encode(der, label);
}

function dnValue(text: string): string {
  // Distinguished-name values must not break the "CN=..., O=..." syntax.
  return text.replace(/([,+"\\<>;=])/g, '\\$1');
}

function validity(now: Date, days: number): { notBefore: Date; notAfter: Date } {
  if (!(days > 0)) throw new Error(`validity must be a positive number of days, got ${days}`);
  return { notBefore: new Date(now.getTime() - BACKDATE_MS), notAfter: new Date(now.getTime() + days * DAY_MS) };
}

async function exportKey(key: CryptoKey): Promise<string> {
  return pem('PRIVATE KEY', await subtle.exportKey('pkcs8', key));
}

/** Imports a PEM private key for signing; the CA may be ours (EC) or, in principle, an RSA one. */
async function importSigningKey(keyPem: string): Promise<{ key: CryptoKey; algorithm: SigningAlgorithm }> {
  const nodeKey = createPrivateKey(keyPem);
  const der = nodeKey.export({ type: 'pkcs8', format: 'der' });
  const der8 = new Uint8Array(der.buffer, der.byteOffset, der.byteLength);
  const details = nodeKey.asymmetricKeyDetails;
  if (nodeKey.asymmetricKeyType === 'ec') {
    const curve = details?.namedCurve === 'secp384r1' ? 'P-384' : details?.namedCurve === 'prime256v1' ? 'P-256' : undefined;
    if (!curve) throw new Error(`CA key curve ${details?.namedCurve ?? '?'} is not supported (use P-256 or P-384)`);
    const key = await subtle.importKey('pkcs8', der8, { name: 'ECDSA', namedCurve: curve }, false, ['sign']);
    return { key, algorithm: { name: 'ECDSA', hash: curve === 'P-384' ? 'SHA-384' : 'SHA-256' } as webcrypto.EcdsaParams };
  }
  if (nodeKey.asymmetricKeyType === 'rsa') {
    const algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    const key = await subtle.importKey('pkcs8', der8, algorithm, false, ['sign']);
    return { key, algorithm };
  }
  throw new Error(`CA key type ${nodeKey.asymmetricKeyType ?? '?'} is not supported (use ECDSA or RSA)`);
}

/** A new self-signed CA (may sign certificates, nothing below it may). */
export async function generateCA(commonName: string, validityDays: number, now: Date = new Date()): Promise<KeyPair> {
  const keys = (await subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerial(),
      name: `CN=${dnValue(commonName)}`,
      keys,
      signingAlgorithm: SIGNING,
      ...validity(now, validityDays),
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { cert: cert.toString('pem'), key: await exportKey(keys.privateKey) };
}

/** A certificate for `request`, signed by `ca`. */
export async function issueCertificate(ca: KeyPair, request: CertificateRequest, now: Date = new Date()): Promise<KeyPair> {
  const caCert = new x509.X509Certificate(ca.cert);
  const signer = await importSigningKey(ca.key);
  const keys = (await subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as CryptoKeyPair;
  const names: x509.JsonGeneralName[] = [
    ...(request.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(request.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const eku: string[] = [];
  if (request.usage !== 'client') eku.push(x509.ExtendedKeyUsage.serverAuth);
  if (request.usage !== 'server') eku.push(x509.ExtendedKeyUsage.clientAuth);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension(eku, false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
    await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey, false, crypto),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial(),
      subject: `CN=${dnValue(request.commonName)}`,
      issuer: caCert.subject,
      publicKey: keys.publicKey,
      signingKey: signer.key,
      signingAlgorithm: signer.algorithm,
      ...validity(now, request.validityDays),
      extensions,
    },
    crypto,
  );
  return { cert: cert.toString('pem'), key: await exportKey(keys.privateKey) };
}

function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = bytes[0]! & 0x7f; // a positive INTEGER
  return Buffer.from(bytes).toString('hex');
}

const EKU_NAMES: Record<string, string> = {
  [x509.ExtendedKeyUsage.serverAuth]: 'serverAuth',
  [x509.ExtendedKeyUsage.clientAuth]: 'clientAuth',
};

/** What the operator checks about a certificate. Throws on text that is not a PEM certificate. */
export function parseCertificate(certPem: string): CertificateInfo {
  const cert = new x509.X509Certificate(firstPemBlock(certPem));
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const entries = san?.names.toJSON() ?? [];
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  const basic = cert.getExtension(x509.BasicConstraintsExtension);
  return {
    subject: cert.subject,
    commonName: cert.subjectName.getField('CN')[0],
    issuer: cert.issuer,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    dnsNames: entries.filter((n) => n.type === 'dns').map((n) => n.value),
    ipAddresses: entries.filter((n) => n.type === 'ip').map((n) => n.value),
    extendedKeyUsages: Array.from(eku?.usages ?? [], (u) => EKU_NAMES[String(u)] ?? String(u)),
    isCA: basic?.ca === true,
  };
}

/** The first certificate of a PEM bundle (tls.crt may hold a chain). */
function firstPemBlock(text: string): string {
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text);
  if (!m) throw new Error('no PEM certificate found');
  return m[0];
}

/** Whether `certPem` was signed by (one of) the CA certificate(s) in `caPem`. */
export function isSignedBy(certPem: string, caPem: string): boolean {
  try {
    const cert = new NodeX509Certificate(firstPemBlock(certPem));
    const cas = caPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    return cas.some((c) => {
      const ca = new NodeX509Certificate(c);
      return cert.checkIssued(ca) && cert.verify(ca.publicKey);
    });
  } catch {
    return false;
  }
}

/** Whether the private key `keyPem` belongs to the certificate `certPem`. */
export function keyMatchesCertificate(certPem: string, keyPem: string): boolean {
  try {
    const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
    const fromCert = new NodeX509Certificate(firstPemBlock(certPem)).publicKey.export({ type: 'spki', format: 'der' });
    return fromKey.equals(fromCert);
  } catch {
    return false;
  }
}

/**
 * Whether the certificate's SANs cover `host` (a DNS name or an IP address),
 * with the usual one-label wildcard rule.
 */
export function coversName(info: Pick<CertificateInfo, 'dnsNames' | 'ipAddresses'>, host: string): boolean {
  if (/^[0-9.]+$/.test(host) || host.includes(':')) return info.ipAddresses.includes(host);
  const name = host.toLowerCase();
  return info.dnsNames.some((san) => {
    const s = san.toLowerCase();
    if (s === name) return true;
    if (!s.startsWith('*.')) return false;
    const dot = name.indexOf('.');
    return dot > 0 && name.slice(dot + 1) === s.slice(2);
  });
}
