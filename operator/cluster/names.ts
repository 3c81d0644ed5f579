// Names and URLs of the objects and members of one KVCluster. Member, Service
// and claim names and the ports are the contract's (contract/cluster.ts);
// the rest (ConfigMap, PDB, StatefulSet) are the operator's own.
import { clientServiceName, memberClientURL, memberName, memberPeerURL, peerServiceName, type Scheme } from '../../contract/index.js';
import type { KVCluster } from '../api/index.js';

export type { Scheme };
export { memberName };

export const objectNames = (c: string) =>
  ({
    peerService: peerServiceName(c),
    clientService: clientServiceName(c),
    statefulSet: c,
    configMap: `${c}-config`,
    pdb: c,
  }) as const;

export const clusterName = (cluster: KVCluster): string => cluster.metadata.name ?? '';
export const clusterNs = (cluster: KVCluster): string => cluster.metadata.namespace ?? 'default';

export const peerURL = (cluster: KVCluster, member: string, scheme: Scheme): string => memberPeerURL(scheme, clusterName(cluster), clusterNs(cluster), member);
export const clientURL = (cluster: KVCluster, member: string, scheme: Scheme): string => memberClientURL(scheme, clusterName(cluster), clusterNs(cluster), member);

/** `--initial-cluster-token`: unique per cluster incarnation, so a re-created cluster never merges with old members. */
export const initialClusterToken = (cluster: KVCluster): string => `${clusterNs(cluster)}-${clusterName(cluster)}-${cluster.metadata.uid ?? ''}`;

/** `name=peerURL,...` as --initial-cluster takes it. */
export function initialClusterString(members: { name: string; peerURL: string }[]): string {
  return members.map((m) => `${m.name}=${m.peerURL}`).join(',');
}
