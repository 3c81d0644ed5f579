// How the members of a Kubernetes-run cluster are named and reached. The
// operator renders these names into objects and flags; a member answers on
// these ports; test tools and user certificates rely on the same spellings.
//
//   member <c>-<i>, headless Service <c>-peer, client Service <c>-client,
//   member DNS name <c>-<i>.<c>-peer.<ns>.svc, data claim data-<c>-<i>.

/** The ports a member listens on (names are the container port names Services and monitors use). */
export const MEMBER_PORTS = {
  client: { name: 'client', port: 2379 },
  peer: { name: 'peer', port: 2380 },
  metrics: { name: 'metrics', port: 2381 },
} as const;

export type Scheme = 'http' | 'https';

export const memberName = (cluster: string, ordinal: number): string => `${cluster}-${ordinal}`;
export const peerServiceName = (cluster: string): string => `${cluster}-peer`;
export const clientServiceName = (cluster: string): string => `${cluster}-client`;

/** The volume claim template's name; the StatefulSet names each member's claim `<template>-<member>`. */
export const DATA_VOLUME = 'data';
export const pvcName = (cluster: string, ordinal: number): string => `${DATA_VOLUME}-${memberName(cluster, ordinal)}`;

/** The DNS name of a member through the headless peer Service. */
export const memberHost = (cluster: string, namespace: string, member: string): string => `${member}.${peerServiceName(cluster)}.${namespace}.svc`;

export const memberPeerURL = (scheme: Scheme, cluster: string, namespace: string, member: string): string =>
  `${scheme}://${memberHost(cluster, namespace, member)}:${MEMBER_PORTS.peer.port}`;
export const memberClientURL = (scheme: Scheme, cluster: string, namespace: string, member: string): string =>
  `${scheme}://${memberHost(cluster, namespace, member)}:${MEMBER_PORTS.client.port}`;

/** A client URL of a member reached by address (a pod IP) rather than by name. */
export const clientURLAt = (scheme: Scheme, host: string): string => `${scheme}://${host}:${MEMBER_PORTS.client.port}`;

/** The ordinal of `<prefix><i>` (a member or claim name), or undefined for other names. */
export function ordinalAfter(prefix: string, name: string | undefined): number | undefined {
  if (!name?.startsWith(prefix)) return undefined;
  const rest = name.slice(prefix.length);
  return /^\d+$/.test(rest) ? Number(rest) : undefined;
}

export const memberOrdinal = (cluster: string, member: string | undefined): number | undefined => ordinalAfter(`${cluster}-`, member);
export const pvcOrdinal = (cluster: string, claim: string | undefined): number | undefined => ordinalAfter(`${DATA_VOLUME}-${cluster}-`, claim);
