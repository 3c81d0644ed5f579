/** The release version of Kvorum, reported by `kvorum version` and the API. */
export const KVORUM_VERSION = '0.1.0';
/**
 * The etcd version whose semantics Kvorum implements, reported as etcd's
 * `etcdserver` version (/version, Maintenance.Status). Clients decide
 * features from it: kube-apiserver uses progress notifications for
 * consistent reads from its watch cache only from etcd 3.5.13 (3.4.31),
 * the releases where a progress response waits until every watcher on the
 * stream is synced (etcd-io/etcd#17507), as Kvorum's Watch does. Raise it
 * only with the behaviour of the version named.
 */
export const ETCD_API_VERSION = '3.5.13';
