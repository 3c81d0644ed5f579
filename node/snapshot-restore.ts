// Moved to node/backup/restore.ts. This alias stays only until
// operator/backup/restore-init.ts (on the backup branch) imports from there;
// delete it then.
export { restoreSnapshot, RestoreError, type RestoreOptions, type RestoreResult } from './backup/restore.js';
