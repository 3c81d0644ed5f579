// The dialing side of the peer protocol: open a message stream (an HTTP
// Upgrade, after which the socket carries frames), post a snapshot, ask a
// member who it is. Each uses its own connection (no agent pooling), so a
// multi-megabyte snapshot never queues behind, or in front of, heartbeats.
import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { HEADER_CLUSTER, PATH_MEMBERS, PATH_SNAPSHOT, PATH_STREAM, UPGRADE_TOKEN, parseId, type Identity, type MemberInfo, type MembersDocument } from './protocol.js';
import { clientTlsOptions, type PeerTlsOptions } from './tls.js';

/** A dial or request the peer refused or that failed on the way. */
export class PeerRequestError extends Error {
  override readonly name = 'PeerRequestError';
  constructor(
    message: string,
    /** The HTTP status when the peer answered, else undefined. */
    readonly status?: number,
    /** The peer's cluster ID, when it answered with one. */
    readonly peerCluster?: number,
  ) {
    super(message);
  }
}

const MAX_ERROR_BODY = 4096;
const MAX_MEMBERS_BODY = 1024 * 1024;

function open(base: string, path: string, options: RequestOptions, settings: RequestSettings): ClientRequest {
  const url = new URL(path, base);
  // `timeout` also bounds the TCP connect: req.setTimeout() starts only once
  // the socket is connected, so a dial to an address nobody answers (a peer
  // whose pod went away with its IP) would otherwise hang for the kernel's
  // SYN retries (~2 min) before the next try could reach the peer's new address.
  const withTimeout: RequestOptions = { ...options, timeout: settings.timeoutMs, ...(settings.signal && { signal: settings.signal }) };
  if (url.protocol === 'https:') return httpsRequest(url, { ...withTimeout, ...clientTlsOptions(settings.tls) });
  if (url.protocol === 'http:') return httpRequest(url, withTimeout);
  throw new PeerRequestError(`unsupported peer URL scheme ${url.protocol} in ${base}`);
}

/** Reads a short error body and turns a non-success answer into a PeerRequestError. */
function refusal(res: IncomingMessage, what: string): Promise<PeerRequestError> {
  return new Promise((resolve) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (s: string) => {
      if (body.length < MAX_ERROR_BODY) body += s;
    });
    const done = (): void => {
      const reason = body.trim().slice(0, MAX_ERROR_BODY) || res.statusMessage || 'no reason given';
      resolve(new PeerRequestError(`${what} refused with HTTP ${res.statusCode}: ${reason}`, res.statusCode, parseId(res.headers[HEADER_CLUSTER])));
    };
    res.on('end', done);
    res.on('error', done);
  });
}

export interface RequestSettings {
  tls?: PeerTlsOptions;
  /** Inactivity limit, connecting included: the request fails when nothing moves for this long. */
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface OpenedStream {
  socket: Socket;
  /** Bytes the peer sent right after the upgrade answer. */
  head: Buffer;
}

/** Opens a message stream to the peer at base (an http:// or https:// URL). */
export function dialStream(base: string, headers: Record<string, string>, settings: RequestSettings): Promise<OpenedStream> {
  return new Promise((resolve, reject) => {
    let req: ClientRequest;
    try {
      req = open(
        base,
        PATH_STREAM,
        {
          method: 'GET',
          agent: false,
          headers: { ...headers, connection: 'Upgrade', upgrade: UPGRADE_TOKEN },
        },
        settings,
      );
    } catch (err) {
      reject(err);
      return;
    }
    req.setTimeout(settings.timeoutMs, () => req.destroy(new PeerRequestError(`no answer from ${base} within ${settings.timeoutMs} ms`)));
    req.once('upgrade', (_res: IncomingMessage, socket: Socket, head: Buffer) => {
      socket.setTimeout(0);
      socket.setNoDelay(true);
      resolve({ socket, head });
    });
    req.once('response', (res: IncomingMessage) => {
      refusal(res, `stream to ${base}`).then(reject, reject);
    });
    req.once('error', (err: NodeJS.ErrnoException) => {
      // TLS 1.3 servers refuse a client certificate after the handshake, which the client only sees as a hang-up.
      if (base.startsWith('https:') && (err.code === 'ECONNRESET' || err.message === 'socket hang up')) {
        reject(new PeerRequestError(`${err.message} from ${base} (a TLS peer hangs up like this when it refuses our client certificate)`));
      } else {
        reject(err);
      }
    });
    req.end();
  });
}

/** Posts one encoded snapshot message (given in parts); resolves once the peer has handed it to Raft. */
export function postSnapshot(base: string, headers: Record<string, string>, body: readonly Uint8Array[], settings: RequestSettings): Promise<void> {
  let length = 0;
  for (const part of body) length += part.length;
  return new Promise((resolve, reject) => {
    let req: ClientRequest;
    try {
      req = open(
        base,
        PATH_SNAPSHOT,
        {
          method: 'POST',
          agent: false,
          headers: { ...headers, 'content-type': 'application/octet-stream', 'content-length': String(length) },
        },
        settings,
      );
    } catch (err) {
      reject(err);
      return;
    }
    req.setTimeout(settings.timeoutMs, () => req.destroy(new PeerRequestError(`snapshot to ${base} stalled for ${settings.timeoutMs} ms`)));
    req.once('response', (res: IncomingMessage) => {
      if (res.statusCode === 204) {
        res.resume();
        resolve();
      } else {
        refusal(res, `snapshot to ${base}`).then(reject, reject);
      }
    });
    req.once('error', reject);
    for (const part of body) if (part.length > 0) req.write(part);
    req.end();
  });
}

/** Asks the member at base for its member and cluster IDs, and the member list when it serves one (GET /members). */
export function fetchIdentity(base: string, settings: RequestSettings): Promise<Identity & { members?: MemberInfo[] }> {
  return new Promise((resolve, reject) => {
    let req: ClientRequest;
    try {
      req = open(base, PATH_MEMBERS, { method: 'GET', agent: false }, settings);
    } catch (err) {
      reject(err);
      return;
    }
    req.setTimeout(settings.timeoutMs, () => req.destroy(new PeerRequestError(`no answer from ${base} within ${settings.timeoutMs} ms`)));
    req.once('response', (res: IncomingMessage) => {
      if (res.statusCode !== 200) {
        refusal(res, `identity request to ${base}`).then(reject, reject);
        return;
      }
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => {
        body += s;
        if (body.length > MAX_MEMBERS_BODY) req.destroy(new PeerRequestError(`identity answer from ${base} is too long`));
      });
      res.on('end', () => {
        const parsed = parseIdentity(body);
        if (parsed) resolve(parsed);
        else reject(new PeerRequestError(`malformed identity answer from ${base}: ${body.slice(0, 200)}`));
      });
    });
    req.once('error', reject);
    req.end();
  });
}

function parseIdentity(body: string): (Identity & { members?: MemberInfo[] }) | undefined {
  let doc: Partial<MembersDocument>;
  try {
    doc = JSON.parse(body) as Partial<MembersDocument>;
  } catch {
    return undefined;
  }
  const memberId = parseId(doc.memberId);
  const clusterId = parseId(doc.clusterId);
  if (memberId === undefined || clusterId === undefined) return undefined;
  if (!Array.isArray(doc.members)) return { memberId, clusterId };
  const members: MemberInfo[] = [];
  for (const m of doc.members) {
    const id = parseId(m?.id);
    if (id === undefined || !Array.isArray(m.peerUrls)) return undefined;
    members.push({ id, name: String(m.name ?? ''), peerUrls: m.peerUrls.map(String), isLearner: m.isLearner === true });
  }
  return { memberId, clusterId, members };
}
