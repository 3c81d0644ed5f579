// The versions live in contract/ (the operator reads them too); re-exported for node code.
export { ETCD_API_VERSION, KVORUM_VERSION } from '../contract/version.js';
