// Names and URLs of the objects and members of one KVCluster (see the
// operator contract: Services <c>-peer and <c>-client, StatefulSet <c>,
// ConfigMap <c>-config, PDB <c>, member <c>-<ordinal>).
import { MEMBER_PORTS, type KVCluster } from '../api/index.js';

export type Scheme = 'http' | 'https';

export const objectNames = (c: string) =>
  ({
    peerService: `${c}-peer`,
    clientService: `${c}-client`,
    statefulSet: c,
    configMap: `${c}-config`,
    pdb: c,
  }) as const;

export const clusterName = (cluster: KVCluster): string => cluster.metadata.name ?? '';
export const clusterNs = (cluster: KVCluster): string => cluster.metadata.namespace ?? 'default';

export const memberName = (c: string, ordinal: number): string => `${c}-${ordinal}`;
export const pvcName = (c: string, ordinal: number): string => `data-${c}-${ordinal}`;

/** The DNS name of a member through the headless peer Service. */
export const memberHost = (cluster: KVCluster, member: string): string => `${member}.${clusterName(cluster)}-peer.${clusterNs(cluster)}.svc`;

export const peerURL = (cluster: KVCluster, member: string, scheme: Scheme): string => `${scheme}://${memberHost(cluster, member)}:${MEMBER_PORTS.peer.port}`;
export const clientURL = (cluster: KVCluster, member: string, scheme: Scheme): string => `${scheme}://${memberHost(cluster, member)}:${MEMBER_PORTS.client.port}`;

/** Members needed for a majority of n. */
export const quorumOf = (n: number): number => Math.floor(n / 2) + 1;

/** The ordinal of a member pod name `<c>-<i>`, or undefined for other names. */
export function ordinalOf(c: string, member: string): number | undefined {
  if (!member.startsWith(`${c}-`)) return undefined;
  const rest = member.slice(c.length + 1);
  return /^\d+$/.test(rest) ? Number(rest) : undefined;
}

/** `--initial-cluster-token`: unique per cluster incarnation, so a re-created cluster never merges with old members. */
export const initialClusterToken = (cluster: KVCluster): string => `${clusterNs(cluster)}-${clusterName(cluster)}-${cluster.metadata.uid ?? ''}`;

/** `name=peerURL,...` as --initial-cluster takes it. */
export function initialClusterString(members: { name: string; peerURL: string }[]): string {
  return members.map((m) => `${m.name}=${m.peerURL}`).join(',');
}
