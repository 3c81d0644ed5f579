// TLS for KVClusters: certificates, the Secrets that hold them, how member
// pods mount them, and the operator's own client credentials.
export * from './certs.js';
export * from './names.js';
export * from './secrets.js';
export * from './user-secrets.js';
export * from './pod.js';
export * from './client.js';
export * from './hash.js';
export * from './bundle.js';
export * from './rotation.js';
export * from './trust.js';
