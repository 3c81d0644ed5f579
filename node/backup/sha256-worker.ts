// The worker side of OffThreadSha256 (off-thread-sha256.ts): hashes the
// buffers it is sent, in order, hands each back for reuse, and answers the
// digest when asked.
import { createHash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

export type ToHasher = { bytes: ArrayBuffer; length: number } | { digest: true };
export type FromHasher = { returned: ArrayBuffer } | { digest: Uint8Array };

const port = parentPort;
if (port) {
  const hash = createHash('sha256');
  port.on('message', (msg: ToHasher) => {
    if ('digest' in msg) {
      port.postMessage({ digest: new Uint8Array(hash.digest()) } satisfies FromHasher);
      return;
    }
    hash.update(new Uint8Array(msg.bytes, 0, msg.length));
    port.postMessage({ returned: msg.bytes } satisfies FromHasher, [msg.bytes]);
  });
}
