// The objects a KVCluster owns (by the contract's instance label), for the
// "everything it owns" and "deleting removes everything" checks.
import type { KubeClient, KubeList, KubeObject } from '../kube/client.js';

export const OWNED_KINDS: { kind: string; path: (ns: string) => string }[] = [
  { kind: 'StatefulSet', path: (ns) => `/apis/apps/v1/namespaces/${ns}/statefulsets` },
  { kind: 'Service', path: (ns) => `/api/v1/namespaces/${ns}/services` },
  { kind: 'PodDisruptionBudget', path: (ns) => `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets` },
  { kind: 'ConfigMap', path: (ns) => `/api/v1/namespaces/${ns}/configmaps` },
  { kind: 'Secret', path: (ns) => `/api/v1/namespaces/${ns}/secrets` },
  { kind: 'Pod', path: (ns) => `/api/v1/namespaces/${ns}/pods` },
  { kind: 'PersistentVolumeClaim', path: (ns) => `/api/v1/namespaces/${ns}/persistentvolumeclaims` },
];

/** "Kind/name" of every object labelled app.kubernetes.io/instance=<cluster>, sorted. */
export async function ownedObjects(kube: KubeClient, ns: string, cluster: string): Promise<{ key: string; obj: KubeObject }[]> {
  const sel = encodeURIComponent(`app.kubernetes.io/instance=${cluster}`);
  const out: { key: string; obj: KubeObject }[] = [];
  for (const k of OWNED_KINDS) {
    const list = await kube.get<KubeList>(`${k.path(ns)}?labelSelector=${sel}`);
    for (const obj of list.items) out.push({ key: `${k.kind}/${obj.metadata.name}`, obj });
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

/** The controller owner reference's uid, if any. */
export function controllerUid(obj: KubeObject): string | undefined {
  const refs = (obj.metadata.ownerReferences ?? []) as { uid: string; controller?: boolean; kind: string }[];
  return refs.find((r) => r.controller)?.uid;
}
