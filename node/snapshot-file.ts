// Moved to node/backup/backup-file.ts. This alias stays only until
// node/cli/node-command.ts (changed on another branch) stops importing it;
// delete it then.
export { encodeBackup as wrapSnapshot } from './backup/backup-file.js';
