// The peer transport's public surface.
export { PeerTransport, DEFAULT_TUNING, type PeerTransportOptions, type TransportTuning } from './transport.js';
export { CODEC_VERSION, CodecError, decodeMessage, encodeMessage, encodeMessageParts, encodedSize, type DecodeOptions } from './codec.js';
export { fetchIdentity, PeerRequestError } from './client.js';
export { peerTlsFromFiles, type PeerTlsOptions } from './tls.js';
export { formatId, parseId, type Identity, type MemberInfo, type MembersDocument } from './protocol.js';
