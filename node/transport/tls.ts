// Peer TLS: one certificate serves both as this member's server certificate
// and as its client certificate when it dials others (as in etcd, whose peer
// certificates carry both serverAuth and clientAuth usages).
import { readFileSync } from 'node:fs';
import type { SecureContextOptions } from 'node:tls';

export interface PeerTlsOptions {
  /** PEM certificate chain. */
  cert: string | Buffer;
  /** PEM private key. */
  key: string | Buffer;
  /** PEM CA bundle trusted for peers; the system roots when absent. */
  ca?: string | Buffer;
  /** Refuse dialers that present no certificate signed by `ca`. */
  requireClientCert?: boolean;
}

/** Reads etcd-style peer TLS flags (--peer-cert-file etc.) into PeerTlsOptions. */
export function peerTlsFromFiles(files: { certFile: string; keyFile: string; trustedCaFile?: string; clientCertAuth: boolean }): PeerTlsOptions {
  return {
    cert: readFileSync(files.certFile),
    key: readFileSync(files.keyFile),
    ...(files.trustedCaFile !== undefined && { ca: readFileSync(files.trustedCaFile) }),
    requireClientCert: files.clientCertAuth,
  };
}

export function serverTlsOptions(tls: PeerTlsOptions): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean } {
  const required = tls.requireClientCert === true;
  return { cert: tls.cert, key: tls.key, ...(tls.ca !== undefined && { ca: tls.ca }), requestCert: required, rejectUnauthorized: required };
}

/** Options for dialing an https:// peer; without TLS settings only the system roots are trusted and no client cert is shown. */
export function clientTlsOptions(tls: PeerTlsOptions | undefined): SecureContextOptions {
  if (!tls) return {};
  return { cert: tls.cert, key: tls.key, ...(tls.ca !== undefined && { ca: tls.ca }) };
}
