// Which Secrets hold a cluster's TLS material, what the generated
// certificates must cover, and the shapes of the Kubernetes objects involved.
import { clientServiceName, memberHost } from '../../contract/index.js';
import type { KVCluster, ObjectMeta, TLSMode } from '../api/index.js';

/** A core/v1 Secret as the operator reads and writes it (data values are base64). */
export interface Secret {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  type?: string;
  data?: Record<string, string>;
}

/** Keys of a kubernetes.io/tls Secret, plus the CA bundle that verifies the other side. */
export const TLS_KEYS = { cert: 'tls.crt', key: 'tls.key', ca: 'ca.crt' } as const;
/** The generated CA's Secret also holds its key (never mounted into member pods). */
export const CA_KEYS = { cert: 'ca.crt', key: 'ca.key' } as const;

/** Generated certificates are renewed when they have less than this left. */
export const RENEW_BEFORE_DAYS = 30;
export const CA_VALIDITY_DAYS = 3650;
export const LEAF_VALIDITY_DAYS = 365;
/**
 * CN of the generated client certificate. etcd takes a client certificate's
 * CN as the user name when authentication is on; `root` is its superuser.
 */
export const CLIENT_COMMON_NAME = 'root';

export interface TLSSecretNames {
  /** Secret with ca.crt (and, when generated, ca.key); absent when the leaf Secrets carry ca.crt themselves. */
  ca?: string;
  server: string;
  peer: string;
  /** Client certificate for etcdctl and the operator; absent when the user supplied none. */
  client?: string;
}

export function tlsMode(cluster: KVCluster): TLSMode {
  return cluster.spec?.tls?.mode ?? 'OperatorManaged';
}

export function clusterNamespace(cluster: KVCluster): string {
  return cluster.metadata.namespace ?? 'default';
}

/** The Secrets a cluster's TLS uses, or undefined when TLS is disabled. */
export function tlsSecretNames(cluster: KVCluster): TLSSecretNames | undefined {
  const c = cluster.metadata.name ?? '';
  const tls = cluster.spec?.tls ?? {};
  switch (tlsMode(cluster)) {
    case 'Disabled':
      return undefined;
    case 'Secrets':
      return {
        ...(tls.caSecretName && { ca: tls.caSecretName }),
        server: tls.serverSecretName ?? '',
        peer: tls.peerSecretName ?? '',
        ...(tls.clientSecretName && { client: tls.clientSecretName }),
      };
    default:
      return { ca: `${c}-ca`, server: `${c}-server-tls`, peer: `${c}-peer-tls`, client: `${c}-client-tls` };
  }
}

/** CN of the generated peer certificate, the only CN members accept on the peer port. */
export function peerCommonName(cluster: KVCluster): string {
  return `${cluster.metadata.name ?? ''}-peer`;
}

/** Names the peer certificate must cover: every member's peer URL host. */
export function peerDNSNames(cluster: KVCluster): string[] {
  const anyMember = memberHost(cluster.metadata.name ?? '', clusterNamespace(cluster), '*');
  return [anyMember, `${anyMember}.cluster.local`, 'localhost'];
}

/**
 * Names the server certificate must cover: each member's client URL host
 * (through the headless Service), the client Service in all its spellings,
 * and loopback for clients inside the pod.
 */
export function serverDNSNames(cluster: KVCluster): string[] {
  const c = cluster.metadata.name ?? '';
  const ns = clusterNamespace(cluster);
  const anyMember = memberHost(c, ns, '*');
  const service = clientServiceName(c);
  return [anyMember, `${anyMember}.cluster.local`, service, `${service}.${ns}`, `${service}.${ns}.svc`, `${service}.${ns}.svc.cluster.local`, 'localhost'];
}

export const LOOPBACK_IPS = ['127.0.0.1'];

/** Decodes one key of a Secret's data, or undefined when it is absent or empty. */
export function secretText(secret: Secret | undefined, key: string): string | undefined {
  const b64 = secret?.data?.[key];
  if (!b64) return undefined;
  const text = Buffer.from(b64, 'base64').toString('utf8');
  return text.length > 0 ? text : undefined;
}

/**
 * The Secret whose certificate the operator presents to the cluster: the
 * client Secret, else (user-supplied Secrets without one) the server Secret,
 * which members also present when they dial each other's client port.
 */
export function operatorClientSecretName(cluster: KVCluster): string | undefined {
  const names = tlsSecretNames(cluster);
  return names && (names.client ?? names.server);
}
