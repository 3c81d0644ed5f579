// The table of subcommands. Each entry loads its implementation lazily.
import { registerCommand } from './main.js';

registerCommand('version', {
  summary: 'print the Kvorum version',
  run: async () => {
    const { KVORUM_VERSION } = await import('../node/version.js');
    process.stdout.write(`kvorum ${KVORUM_VERSION}\n`);
    return 0;
  },
});
