// The hand-over from the cluster reconciler to the membership step
// (operator/membership): the effects it may have on Kubernetes, carried out
// with the operator's client, and the context it plans from.
import type { Logger } from 'pino';
import type { KVCluster } from '../api/index.js';
import type { KubeClient, KubeObject } from '../kube/client.js';
import type { EventRecorder } from '../kube/events.js';
import { RESOURCES } from '../kube/resources.js';
import type { ClusterObservation } from '../membership/observe.js';
import { reconcileMembership, type MembershipAPI, type MembershipEffects, type MembershipResult, type OrdinalURLs, type PodLike, type PVCLike } from '../membership/reconcile.js';
import { buildConfigMap } from './builders.js';
import { clusterName, clusterNs, objectNames, type Scheme } from './names.js';

export interface MembershipInput {
  cluster: KVCluster;
  clusterClient: MembershipAPI;
  /** The pass's observation of the cluster, which the step plans from. */
  observed: ClusterObservation;
  scheme: Scheme;
  statefulSet: KubeObject & { spec?: { replicas?: number }; status?: { readyReplicas?: number; updatedReplicas?: number } };
  initialCluster?: string;
  pods: KubeObject[];
  pvcs: KubeObject[];
  /** How the operator reaches each ordinal's member (by DNS name or by pod IP). */
  urls: OrdinalURLs;
  log: Logger;
}

export type MembershipRunner = (input: MembershipInput) => Promise<MembershipResult>;

export function membershipEffects(client: KubeClient, events: EventRecorder, cluster: KVCluster): MembershipEffects {
  const ns = clusterNs(cluster);
  const names = objectNames(clusterName(cluster));
  return {
    setStatefulSetReplicas: async (n) => {
      await client.mergePatch(RESOURCES.statefulSet, ns, names.statefulSet, { spec: { replicas: n } });
    },
    deletePVC: async (name) => {
      await client.delete(RESOURCES.pvc, ns, name);
    },
    deletePod: async (name) => {
      await client.delete(RESOURCES.pod, ns, name);
    },
    setInitialCluster: async (members) => {
      await client.apply(RESOURCES.configMap, buildConfigMap(cluster, 'existing', members));
    },
    annotatePVC: async (name, annotations) => {
      await client.mergePatch(RESOURCES.pvc, ns, name, { metadata: { annotations } });
    },
    event: (type, reason, message) => events.record(cluster as unknown as KubeObject, type, reason, message),
  };
}

/** The membership runner backed by operator/membership's reconcileMembership. */
export function membershipRunner(client: KubeClient, events: EventRecorder): MembershipRunner {
  return (input) =>
    reconcileMembership({
      clusterName: clusterName(input.cluster),
      namespace: clusterNs(input.cluster),
      desiredReplicas: input.cluster.spec.replicas ?? 1,
      statefulSet: {
        replicas: input.statefulSet.spec?.replicas ?? 0,
        readyReplicas: input.statefulSet.status?.readyReplicas ?? 0,
        updatedReplicas: input.statefulSet.status?.updatedReplicas ?? 0,
      },
      pods: input.pods as PodLike[],
      pvcs: input.pvcs as PVCLike[],
      ...(input.initialCluster !== undefined && { initialCluster: input.initialCluster }),
      retentionWhenScaled: input.cluster.spec.storage?.retentionPolicy?.whenScaled ?? 'Delete',
      client: input.clusterClient,
      observed: input.observed,
      scheme: input.scheme,
      urls: input.urls,
      effects: membershipEffects(client, events, input.cluster),
      logger: input.log,
    });
}
