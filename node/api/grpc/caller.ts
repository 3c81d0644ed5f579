// The identity a client call carries, as etcd reads it: a simple token in
// the gRPC metadata key `token` (or `authorization`, which is where the JSON
// gateway puts its Authorization header), else, under --client-cert-auth,
// the CN of the verified client certificate. The auth gate decides what the
// identity names; with auth disabled nobody is named and nothing is checked.
import type { Metadata } from '@grpc/grpc-js';
import type { Credentials } from '../../server/auth/auth-gate.js';
import type { KeyAccess } from '../../server/auth/key-permissions.js';
import type { EtcdServer } from '../../server/etcd-server.js';

/** What a gRPC call (or the gateway's stand-in for one) offers to identify its caller. */
export interface CallIdentity {
  metadata?: Metadata;
  getAuthContext?: () => { sslPeerCertificate?: { subject?: Record<string, string | string[] | undefined> } } | null;
}

function firstString(values: unknown[] | undefined): string | undefined {
  const v = values?.[0];
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return undefined;
}

/**
 * Whether a call's certificate names its caller (--client-cert-auth), and
 * where the verified CN is read: from the call's own TLS connection, or,
 * when client workers terminate TLS, from the header the worker set
 * (workers/stream-proxy.ts), which it never takes from a client.
 */
export type CertAuth = boolean | 'worker';

/** The header that carries a verified client certificate's CN from a client worker to the core. */
export const CLIENT_CN_HEADER = 'kvorum-client-cn';

export function credentialsOf(call: CallIdentity, clientCertAuth: CertAuth): Credentials {
  const md = call.metadata;
  const token = firstString(md?.get('token')) ?? firstString(md?.get('authorization'));
  let commonName: string | undefined;
  if (clientCertAuth === 'worker') {
    commonName = firstString(md?.get(CLIENT_CN_HEADER));
  } else if (clientCertAuth && typeof call.getAuthContext === 'function') {
    const cn = call.getAuthContext()?.sslPeerCertificate?.subject?.CN;
    commonName = Array.isArray(cn) ? cn[0] : cn;
  }
  return { ...(token !== undefined && { token }), ...(commonName !== undefined && { commonName }) };
}

/** The user a call acts as (undefined when auth is off or it names nobody); an unknown token throws etcd's error. */
export function callerOf(server: EtcdServer, call: CallIdentity, clientCertAuth: CertAuth): string | undefined {
  if (!server.authGate.enabled) return undefined;
  return server.authGate.identify(credentialsOf(call, clientCertAuth));
}

/**
 * Throws etcd's error unless the call may do what `needs` lists (computed
 * only while auth is on); returns the auth revision of the check (undefined
 * while auth is off), for writes to carry into the log.
 */
export function checkCall(server: EtcdServer, call: CallIdentity, clientCertAuth: CertAuth, needs: () => KeyAccess[]): number | undefined {
  if (!server.authGate.enabled) return undefined;
  return server.authGate.checkAccess(callerOf(server, call, clientCertAuth), needs());
}
