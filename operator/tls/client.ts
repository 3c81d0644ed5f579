// The operator's own TLS material for talking to a cluster's API.
import { CA_KEYS, secretText, TLS_KEYS, type Secret } from './names.js';

export interface ClientTLS {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/**
 * { ca, cert, key } from a kubernetes.io/tls Secret (the cluster's client
 * Secret). `caSecret` supplies ca.crt when the client Secret has none
 * (user-supplied mode with spec.tls.caSecretName).
 */
export function operatorClientTLS(secret: Secret, caSecret?: Secret): ClientTLS {
  const cert = secretText(secret, TLS_KEYS.cert);
  const key = secretText(secret, TLS_KEYS.key);
  const ca = secretText(secret, TLS_KEYS.ca) ?? secretText(caSecret, CA_KEYS.cert);
  const lacking = [!cert && TLS_KEYS.cert, !key && TLS_KEYS.key, !ca && TLS_KEYS.ca].filter(Boolean);
  if (lacking.length > 0) {
    throw new Error(`Secret ${secret.metadata.namespace ?? ''}/${secret.metadata.name ?? ''} lacks ${lacking.join(', ')} for the operator's client TLS`);
  }
  return { ca: Buffer.from(ca!, 'utf8'), cert: Buffer.from(cert!, 'utf8'), key: Buffer.from(key!, 'utf8') };
}
