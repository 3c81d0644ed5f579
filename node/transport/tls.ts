// Peer TLS: one certificate serves both as this member's server certificate
// and as its client certificate when it dials others (as in etcd, whose peer
// certificates carry both serverAuth and clientAuth usages).
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { SecureContextOptions, TLSSocket } from 'node:tls';

export interface PeerTlsOptions {
  /** PEM certificate chain. */
  cert: string | Buffer;
  /** PEM private key. */
  key: string | Buffer;
  /** PEM CA bundle trusted for peers; the system roots when absent. */
  ca?: string | Buffer;
  /** Refuse dialers that present no certificate signed by `ca`. */
  requireClientCert?: boolean;
  /** etcd's --peer-cert-allowed-cn: a dialer's certificate CN must be one of these. */
  allowedCommonNames?: string[];
  /** etcd's --peer-cert-allowed-hostname: a dialer's certificate must cover one of these names. */
  allowedHostnames?: string[];
}

/** Reads etcd-style peer TLS flags (--peer-cert-file etc.) into PeerTlsOptions. */
export function peerTlsFromFiles(files: {
  certFile: string;
  keyFile: string;
  trustedCaFile?: string;
  clientCertAuth: boolean;
  allowedCommonNames?: string[];
  allowedHostnames?: string[];
}): PeerTlsOptions {
  return {
    cert: readFileSync(files.certFile),
    key: readFileSync(files.keyFile),
    ...(files.trustedCaFile !== undefined && { ca: readFileSync(files.trustedCaFile) }),
    requireClientCert: files.clientCertAuth,
    ...(files.allowedCommonNames && { allowedCommonNames: files.allowedCommonNames }),
    ...(files.allowedHostnames && { allowedHostnames: files.allowedHostnames }),
  };
}

/** The certificate a TLS dialer presented (already verified against the CA by the handshake), or undefined. */
export function presentedCertificate(socket: unknown): X509Certificate | undefined {
  const tlsSocket = socket as Partial<TLSSocket>;
  if (typeof tlsSocket.getPeerCertificate !== 'function') return undefined;
  const raw = tlsSocket.getPeerCertificate().raw as Buffer | undefined;
  return raw && raw.length > 0 ? new X509Certificate(raw) : undefined;
}

function covers(cert: X509Certificate, host: string): boolean {
  // Names in brackets are IPv6 literals from a URL.
  const name = host.replace(/^\[(.*)\]$/, '$1');
  return (isIP(name) ? cert.checkIP(name) : cert.checkHost(name)) !== undefined;
}

function commonName(cert: X509Certificate): string | undefined {
  const line = cert.subject.split('\n').find((l) => l.startsWith('CN='));
  return line?.slice(3);
}

/**
 * Why a dialer's certificate may not speak for peers, or undefined when it
 * may: etcd's allowed-CN and allowed-hostname rules, and, when the claimed
 * member's peer URLs are known, a certificate that covers none of their
 * hosts (so one member's certificate cannot speak as another member whose
 * URL it does not cover, and a client certificate without SANs speaks for no one).
 */
export function peerCertificateProblem(tls: PeerTlsOptions | undefined, socket: unknown, memberPeerUrls?: string[]): string | undefined {
  if (!tls) return undefined;
  const cert = presentedCertificate(socket);
  const rules = tls.allowedCommonNames !== undefined || tls.allowedHostnames !== undefined;
  if (!cert) return tls.requireClientCert || rules ? 'no peer certificate was presented' : undefined;
  if (tls.allowedCommonNames) {
    const cn = commonName(cert);
    if (cn === undefined || !tls.allowedCommonNames.includes(cn)) {
      return `certificate CN "${cn ?? ''}" is not an allowed peer CN (--peer-cert-allowed-cn ${tls.allowedCommonNames.join(',')})`;
    }
  }
  if (tls.allowedHostnames && !tls.allowedHostnames.some((h) => covers(cert, h))) {
    return `certificate covers none of the allowed peer hostnames (--peer-cert-allowed-hostname ${tls.allowedHostnames.join(',')})`;
  }
  if (memberPeerUrls && memberPeerUrls.length > 0) {
    const hosts = memberPeerUrls.map((u) => new URL(u).hostname);
    if (!hosts.some((h) => covers(cert, h))) return `certificate covers none of the claimed member's peer hosts (${hosts.join(', ')})`;
  }
  return undefined;
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
