// The API resources the operator touches, and the URL paths that address them.
import { GROUP, KINDS, PLURALS, VERSION } from '../api/index.js';

export interface ResourceType {
  /** Empty for the core group. */
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

function rt(group: string, version: string, plural: string, kind: string, namespaced = true): ResourceType {
  return { group, version, plural, kind, namespaced };
}

export const RESOURCES = {
  kvCluster: rt(GROUP, VERSION, PLURALS.cluster, KINDS.cluster),
  kvBackup: rt(GROUP, VERSION, PLURALS.backup, KINDS.backup),
  kvBackupSchedule: rt(GROUP, VERSION, PLURALS.backupSchedule, KINDS.backupSchedule),
  kvRestore: rt(GROUP, VERSION, PLURALS.restore, KINDS.restore),
  statefulSet: rt('apps', 'v1', 'statefulsets', 'StatefulSet'),
  pod: rt('', 'v1', 'pods', 'Pod'),
  service: rt('', 'v1', 'services', 'Service'),
  pvc: rt('', 'v1', 'persistentvolumeclaims', 'PersistentVolumeClaim'),
  configMap: rt('', 'v1', 'configmaps', 'ConfigMap'),
  secret: rt('', 'v1', 'secrets', 'Secret'),
  pdb: rt('policy', 'v1', 'poddisruptionbudgets', 'PodDisruptionBudget'),
  lease: rt('coordination.k8s.io', 'v1', 'leases', 'Lease'),
  event: rt('events.k8s.io', 'v1', 'events', 'Event'),
  storageClass: rt('storage.k8s.io', 'v1', 'storageclasses', 'StorageClass', false),
} as const;

export function apiVersionOf(r: ResourceType): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** The collection path (namespace undefined = all namespaces) or, with a name, the object path. */
export function resourcePath(r: ResourceType, namespace?: string, name?: string, subresource?: string): string {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  let p = base;
  if (r.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${r.plural}`;
  if (name) p += `/${encodeURIComponent(name)}`;
  if (subresource) p += `/${subresource}`;
  return p;
}
