// CA bundles: a ca.crt that holds several CA certificates, one after the
// other, as members trust both the old and the new CA during a rotation.
import { X509Certificate } from 'node:crypto';

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle, each as its own PEM block (normalised, ending in a newline). */
export function pemCertificates(bundle: string | undefined): string[] {
  return (bundle ?? '').match(PEM_BLOCK)?.map((b) => `${b}\n`) ?? [];
}

/** SHA-256 of the certificate's DER, lowercase hex: how status.tlsRotation names a CA. */
export function caFingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256.replace(/:/g, '').toLowerCase();
}

/** The CA certificates of `bundles`, once each (first occurrence wins), keyed by fingerprint; blocks that do not parse or are not CAs are left out. */
export function caCertificates(bundles: (string | undefined)[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const bundle of bundles) {
    for (const pem of pemCertificates(bundle)) {
      try {
        const cert = new X509Certificate(pem);
        if (!cert.ca) continue;
        const fp = caFingerprint(pem);
        if (!out.has(fp)) out.set(fp, pem);
      } catch {
        // Not a certificate: nothing to trust.
      }
    }
  }
  return out;
}

/** One ca.crt holding `certs` in order. */
export function joinBundle(certs: string[]): string {
  return certs.map((c) => (c.endsWith('\n') ? c : `${c}\n`)).join('');
}
