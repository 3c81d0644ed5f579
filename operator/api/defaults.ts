// Defaults of the KVCluster schema, applied in code. The API server fills the
// same defaults in when it stores an object; the operator applies them again
// so it behaves the same on objects that were stored before a default existed,
// and on objects built in tests.
import {
  API_VERSION,
  DEFAULT_ACCESS_KEY_ID_KEY,
  DEFAULT_IMAGE_REPOSITORY,
  DEFAULT_REPLICAS,
  DEFAULT_SECRET_ACCESS_KEY_KEY,
  DEFAULT_STORAGE_SIZE,
  DEFAULT_VERSION,
  KINDS,
  selectorLabels,
  selectorString,
} from './constants.js';
import type { CredentialsSecretRef, KVCluster, KVClusterSpec, OwnerReference } from './types.js';

function withCredentialDefaults(ref: CredentialsSecretRef | undefined): CredentialsSecretRef | undefined {
  if (!ref) return undefined;
  return {
    ...ref,
    accessKeyIdKey: ref.accessKeyIdKey ?? DEFAULT_ACCESS_KEY_ID_KEY,
    secretAccessKeyKey: ref.secretAccessKeyKey ?? DEFAULT_SECRET_ACCESS_KEY_KEY,
  };
}

/** A copy of the spec with every schema default filled in. The input is not changed. */
export function specWithDefaults(spec: KVClusterSpec | undefined): KVClusterSpec {
  const src: KVClusterSpec = structuredClone(spec ?? {});
  const out: KVClusterSpec = {
    ...src,
    replicas: src.replicas ?? DEFAULT_REPLICAS,
    version: src.version ?? DEFAULT_VERSION,
    storage: {
      ...src.storage,
      size: src.storage?.size ?? DEFAULT_STORAGE_SIZE,
      retentionPolicy: {
        whenScaled: src.storage?.retentionPolicy?.whenScaled ?? 'Delete',
        whenDeleted: src.storage?.retentionPolicy?.whenDeleted ?? 'Retain',
      },
    },
    tls: { ...src.tls, mode: src.tls?.mode ?? 'OperatorManaged' },
    updateStrategy: src.updateStrategy ?? 'RollingUpdate',
  };
  if (src.backup) out.backup = { ...src.backup, credentialsSecret: withCredentialDefaults(src.backup.credentialsSecret) };
  if (out.backup && out.backup.credentialsSecret === undefined) delete out.backup.credentialsSecret;
  const loc = src.bootstrap?.fromBackup?.location;
  if (loc?.credentialsSecret) {
    out.bootstrap = { fromBackup: { ...src.bootstrap?.fromBackup, location: { ...loc, credentialsSecret: withCredentialDefaults(loc.credentialsSecret) } } };
  }
  return out;
}

/** A copy of the cluster with the spec defaults filled in; metadata and status are copied unchanged. */
export function defaultsFor(cluster: KVCluster): KVCluster {
  const copy = structuredClone(cluster);
  copy.apiVersion = copy.apiVersion || API_VERSION;
  copy.spec = specWithDefaults(copy.spec);
  return copy;
}

/**
 * The image the members run. spec.image may be a bare repository (the tag
 * comes from spec.version) or a full reference with a tag or digest (used as
 * it is). A colon after the last slash marks a tag; one before it is a
 * registry port.
 */
export function imageFor(spec: KVClusterSpec, defaultRepository: string = DEFAULT_IMAGE_REPOSITORY): string {
  const version = spec.version ?? DEFAULT_VERSION;
  const image = spec.image ?? defaultRepository;
  if (image.includes('@')) return image;
  const lastSlash = image.lastIndexOf('/');
  if (image.lastIndexOf(':') > lastSlash) return image;
  return `${image}:${version}`;
}

/** The value the operator writes to status.selector (used by the scale subresource). */
export function statusSelector(clusterName: string): string {
  return selectorString(selectorLabels(clusterName));
}

/** An owner reference that makes an object belong to (and be deleted with) the cluster. */
export function ownerReferenceFor(cluster: Pick<KVCluster, 'metadata'>): OwnerReference {
  const { name, uid } = cluster.metadata;
  if (!name || !uid) throw new Error('ownerReferenceFor: the cluster needs metadata.name and metadata.uid');
  return { apiVersion: API_VERSION, kind: KINDS.cluster, name, uid, controller: true, blockOwnerDeletion: true };
}
