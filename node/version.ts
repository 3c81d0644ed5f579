/** The release version of Kvorum, reported by `kvorum version` and the API. */
export const KVORUM_VERSION = '0.1.0';
/** The etcd API version Kvorum speaks on the wire (reported as etcd's `etcdserver` version). */
export const ETCD_API_VERSION = '3.5.0';
