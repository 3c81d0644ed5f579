// Why the operator cannot talk to a member, when the reason is TLS trust:
// either the member refuses the operator's client certificate, or the
// operator refuses the member's server certificate. Said as it is, so that a
// cluster with a healthy quorum is never reported as having lost it.
//
// gRPC often hides the cause ("Failed to connect"); a member that refuses a
// client certificate under TLS 1.3 just closes the connection after the
// handshake. So an unclear failure is checked with one plain TLS connection
// with the same credentials (probeTLS).
import { connect, type ConnectionOptions } from 'node:tls';

export type TLSTrustFailure = 'clientCertificateRefused' | 'serverCertificateUntrusted';

export interface TLSTrustProblem {
  kind: TLSTrustFailure;
  /** For conditions: what is wrong, in a person's words, with the detail seen. */
  message: string;
}

/** Condition reason for either kind. */
export const TLS_UNTRUSTED = 'TLSUntrusted';

const HEADLINES: Record<TLSTrustFailure, string> = {
  clientCertificateRefused: "TLS: members do not trust the operator's client certificate",
  serverCertificateUntrusted: "TLS: the operator does not trust the members' server certificate",
};

/** Our side refused the member's certificate (OpenSSL verify codes as Node names them). */
const SERVER_UNTRUSTED = [
  /self[- ]signed certificate/i,
  /unable to (verify|get local issuer)/i,
  /certificate verify failed/i,
  /\b(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_SIGNATURE_FAILURE|CERT_UNTRUSTED|CERT_HAS_EXPIRED|ERR_TLS_CERT_ALTNAME_INVALID)\b/,
  /certificate has expired/i,
  /Hostname\/IP does not match certificate/i,
];

/** The member's TLS stack sent an alert about our certificate. */
const CLIENT_REFUSED = [
  /alert (bad certificate|unknown ca|certificate required|certificate unknown|certificate expired|unsupported certificate|access denied)/i,
  /\bERR_SSL_(TLSV1|SSLV3|TLSV13)_ALERT_(BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_REQUIRED|CERTIFICATE_UNKNOWN|CERTIFICATE_EXPIRED|ACCESS_DENIED)\b/,
  /peer did not return a certificate/i,
];

function problem(kind: TLSTrustFailure, detail: string): TLSTrustProblem {
  return { kind, message: `${HEADLINES[kind]} (${detail.replace(/\s+/g, ' ').trim().slice(0, 200)})` };
}

/** The TLS trust failure a dial error's text shows, if it clearly shows one. */
export function classifyDialError(text: string): TLSTrustProblem | undefined {
  if (SERVER_UNTRUSTED.some((re) => re.test(text))) return problem('serverCertificateUntrusted', text);
  if (CLIENT_REFUSED.some((re) => re.test(text))) return problem('clientCertificateRefused', text);
  return undefined;
}

/** A transport failure whose cause gRPC did not say: worth a TLS probe. */
export function isUnclearConnectFailure(text: string): boolean {
  return /Failed to connect|Connection dropped|ECONNRESET|socket hang up|connection closed|No connection established/i.test(text) && classifyDialError(text) === undefined;
}

export interface ProbeTLS {
  ca: Buffer | string;
  cert?: Buffer | string;
  key?: Buffer | string;
}

/**
 * One TLS connection to `endpoint` with the operator's credentials, speaking
 * just enough HTTP/2 to be answered. A certificate error on our side, an
 * alert, or the member closing the connection right after the handshake
 * (how a member refuses a client certificate under TLS 1.3) is a trust
 * failure; a refused or timed-out connection is not (the member is down).
 */
export function probeTLS(endpoint: string, tls: ProbeTLS, timeoutMs = 1500): Promise<TLSTrustProblem | undefined> {
  const target = endpoint.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '');
  const colon = target.lastIndexOf(':');
  const host = target.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(target.slice(colon + 1));
  const options: ConnectionOptions = {
    host,
    port,
    ca: tls.ca,
    ...(tls.cert !== undefined && { cert: tls.cert }),
    ...(tls.key !== undefined && { key: tls.key }),
    ALPNProtocols: ['h2'],
    ...(!/^[0-9.]+$/.test(host) && !host.includes(':') && { servername: host }),
  };
  return new Promise((resolve) => {
    let handshaken = false;
    let settled = false;
    const done = (p: TLSTrustProblem | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(p);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    const socket = connect(options, () => {
      handshaken = true;
      // The client preface and an empty SETTINGS frame: a member that accepted us answers with its SETTINGS.
      socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
    });
    socket.on('data', () => done(undefined));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const text = `${err.code ?? ''} ${err.message}`;
      const seen = classifyDialError(text);
      if (seen) return done(seen);
      // Reset right after a completed handshake, before any answer: the member refused our certificate.
      if (handshaken && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) return done(problem('clientCertificateRefused', 'the member closed the connection after the TLS handshake'));
      done(undefined);
    });
    socket.on('close', () => {
      if (handshaken) done(problem('clientCertificateRefused', 'the member closed the connection after the TLS handshake'));
      else done(undefined);
    });
  });
}
