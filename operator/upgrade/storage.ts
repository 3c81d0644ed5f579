// Growing the members' volumes: spec.storage.size cannot reach existing
// claims through the StatefulSet (its claim templates are immutable), so the
// operator expands each member's PersistentVolumeClaim itself, one member at
// a time, when the StorageClass allows expansion. A claim whose volume needs
// the member restarted to grow its file system (condition
// FileSystemResizePending) gets its member restarted, under the rollout's
// gates. Shrinking is rejected by the API server (a CEL rule on the CRD).
import { quantityToBytes, type Quantity } from '../api/index.js';

export interface ClaimFacts {
  name: string;
  /** The member (pod) the claim belongs to. */
  member: string;
  /** spec.resources.requests.storage. */
  requested?: Quantity;
  /** status.capacity.storage. */
  capacity?: Quantity;
  /** The volume grew but the member must restart for its file system to follow. */
  fileSystemResizePending: boolean;
}

export interface StorageInput {
  desired: Quantity;
  claims: ClaimFacts[];
  storageClassName?: string;
  /** The StorageClass's allowVolumeExpansion; undefined when the class is unknown. */
  allowVolumeExpansion?: boolean;
}

export type StorageAction =
  | { kind: 'none' }
  | { kind: 'expand'; claim: string; size: string; message: string }
  | { kind: 'restartMember'; member: string; message: string }
  | { kind: 'wait'; message: string }
  | { kind: 'refuse'; reason: 'ExpansionNotAllowed' | 'StorageClassUnknown'; message: string };

export interface StorageStatus {
  desiredSize: string;
  /** Claims at the desired size (request and capacity). */
  resizedClaims: string[];
  /** Claims still to grow. */
  pendingClaims: string[];
}

const bytes = (q: Quantity | undefined): number => (q === undefined ? 0 : quantityToBytes(q));

export function planStorage(input: StorageInput): { action: StorageAction; status: StorageStatus } {
  const want = bytes(input.desired);
  const desiredSize = String(input.desired);
  const claims = [...input.claims].sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  const done = claims.filter((c) => bytes(c.requested) >= want && bytes(c.capacity) >= want && !c.fileSystemResizePending);
  const status: StorageStatus = { desiredSize, resizedClaims: done.map((c) => c.name), pendingClaims: claims.filter((c) => !done.includes(c)).map((c) => c.name) };
  if (status.pendingClaims.length === 0) return { action: { kind: 'none' }, status };

  // One member at a time: a claim already asked to grow is finished first.
  const growing = claims.find((c) => bytes(c.requested) >= want && (bytes(c.capacity) < want || c.fileSystemResizePending));
  if (growing) {
    if (growing.fileSystemResizePending) return { action: { kind: 'restartMember', member: growing.member, message: `restarting ${growing.member} so that its file system grows to ${desiredSize}` }, status };
    return { action: { kind: 'wait', message: `waiting for claim ${growing.name} to grow to ${desiredSize}` }, status };
  }
  const cls = input.storageClassName ?? '(the default StorageClass)';
  if (input.allowVolumeExpansion === undefined) {
    return { action: { kind: 'refuse', reason: 'StorageClassUnknown', message: `cannot grow volumes to ${desiredSize}: StorageClass ${cls} not found (or the operator may not read StorageClasses)` }, status };
  }
  if (!input.allowVolumeExpansion) {
    return {
      action: { kind: 'refuse', reason: 'ExpansionNotAllowed', message: `cannot grow volumes to ${desiredSize}: StorageClass ${cls} does not allow volume expansion (allowVolumeExpansion is not true); the claims stay as they are` },
      status,
    };
  }
  const next = claims.find((c) => bytes(c.requested) < want)!;
  return { action: { kind: 'expand', claim: next.name, size: desiredSize, message: `growing claim ${next.name} from ${String(next.requested ?? '?')} to ${desiredSize}` }, status };
}
