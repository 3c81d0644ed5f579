// How a member pod uses its cluster's TLS Secrets: Secret volumes and the
// etcd flags that point the node at the mounted files. Client and peer
// traffic both require certificates signed by the trusted CA.
import type { KVCluster } from '../api/index.js';
import { peerCommonName, TLS_KEYS, tlsMode, tlsSecretNames } from './names.js';

/** core/v1 Volume (the Secret variant). */
export interface SecretVolume {
  name: string;
  secret: { secretName: string; items?: { key: string; path: string }[] };
}

/** core/v1 VolumeMount. */
export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
}

export interface PodTLSSettings {
  /** Scheme of the members' client and peer URLs. */
  scheme: 'https' | 'http';
  volumes: SecretVolume[];
  volumeMounts: VolumeMount[];
  /** Flags to append to `kvorum node`. */
  args: string[];
  /**
   * Settings passed as ETCD_* environment variables rather than flags: a
   * release that does not know one ignores it (with a warning) instead of
   * refusing to start, so the same pod template serves older members during an upgrade.
   */
  env: { name: string; value: string }[];
}

export const TLS_MOUNT_ROOT = '/etc/kvorum/tls';
const VOLUMES = { server: 'tls-server', peer: 'tls-peer', ca: 'tls-ca' } as const;

export function tlsPodSettings(cluster: KVCluster): PodTLSSettings {
  const names = tlsSecretNames(cluster);
  if (!names) return { scheme: 'http', volumes: [], volumeMounts: [], args: [], env: [] };
  // tls-server is mounted at <root>/server, and so on.
  const dir = (volume: string): string => `${TLS_MOUNT_ROOT}/${volume.replace(/^tls-/, '')}`;
  const volumes: SecretVolume[] = [
    { name: VOLUMES.server, secret: { secretName: names.server } },
    { name: VOLUMES.peer, secret: { secretName: names.peer } },
  ];
  // With a separate CA Secret (user-supplied mode) only its certificate is
  // mounted. The generated CA Secret also holds the CA key and is never mounted:
  // each generated leaf Secret carries ca.crt.
  const separateCA = cluster.spec?.tls?.mode === 'Secrets' && names.ca !== undefined;
  if (separateCA) volumes.push({ name: VOLUMES.ca, secret: { secretName: names.ca!, items: [{ key: TLS_KEYS.ca, path: TLS_KEYS.ca }] } });
  const volumeMounts: VolumeMount[] = volumes.map((v) => ({ name: v.name, mountPath: dir(v.name), readOnly: true }));
  const caFile = (own: string): string => (separateCA ? `${dir(VOLUMES.ca)}/${TLS_KEYS.ca}` : `${dir(own)}/${TLS_KEYS.ca}`);
  const args = [
    `--cert-file=${dir(VOLUMES.server)}/${TLS_KEYS.cert}`,
    `--key-file=${dir(VOLUMES.server)}/${TLS_KEYS.key}`,
    `--trusted-ca-file=${caFile(VOLUMES.server)}`,
    '--client-cert-auth=true',
    `--peer-cert-file=${dir(VOLUMES.peer)}/${TLS_KEYS.cert}`,
    `--peer-key-file=${dir(VOLUMES.peer)}/${TLS_KEYS.key}`,
    `--peer-trusted-ca-file=${caFile(VOLUMES.peer)}`,
    '--peer-client-cert-auth=true',
  ];
  // The generated client and server certificates come from the same CA as the
  // peer certificate; only the peer certificate's CN is accepted on the peer port.
  const env = tlsMode(cluster) === 'OperatorManaged' ? [{ name: 'ETCD_PEER_CERT_ALLOWED_CN', value: peerCommonName(cluster) }] : [];
  return { scheme: 'https', volumes, volumeMounts, args, env };
}
