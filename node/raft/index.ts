// Public surface of the Raft core.
export * from './types.js';
export { RawNode, type MemberProgress, type Ready, type SoftState, type Status } from './raw-node.js';
export { Raft, Role, ProposalDroppedError, makeMessage, type DropReason, type RaftConfig, type ReadState } from './raft.js';
export { majority, quorumIndex } from './quorum.js';
export { type LogStorage, CompactedError, UnavailableError } from './storage.js';
export { MemoryStorage } from './memory-storage.js';
export { encodeConfChange, decodeConfChange, bootstrapEntries } from './confchange.js';
