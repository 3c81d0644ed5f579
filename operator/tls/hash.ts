// Members read their certificate files once, at start. A renewed
// certificate reaches them through a rolling restart, which a change of this
// hash in the pod template's annotations triggers.
import { createHash } from 'node:crypto';
import { TLS_KEYS, type Secret } from './names.js';

/** A short digest of the certificates the member pods mount (order of `secrets` does not matter). */
export function tlsContentHash(secrets: Secret[]): string {
  const h = createHash('sha256');
  const parts = secrets
    .map((s) => `${s.metadata.name ?? ''}\n${Object.values(TLS_KEYS).map((k) => s.data?.[k] ?? '').join('\n')}`)
    .sort();
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 16);
}
