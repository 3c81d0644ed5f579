// The table of subcommands. Each entry loads its implementation lazily, so
// `kvorum node` does not load the operator's Kubernetes client and the other
// way round.
import { registerCommand } from './main.js';

registerCommand('version', {
  summary: 'print the Kvorum version',
  run: async () => {
    const { KVORUM_VERSION, ETCD_API_VERSION } = await import('../node/version.js');
    process.stdout.write(`kvorum ${KVORUM_VERSION} (etcd API ${ETCD_API_VERSION})\n`);
    return 0;
  },
});

registerCommand('node', {
  summary: 'run one member of a cluster (takes etcd’s flags; --help lists them)',
  run: async (args) => (await import('../node/cli/node-command.js')).runNode(args),
});

registerCommand('local', {
  summary: 'run a multi-member cluster on loopback for development (--members 3)',
  run: async (args) => (await import('../node/cli/local.js')).runLocal(args),
});

registerCommand('snapshot', {
  summary: 'save, inspect or restore snapshots (save | status | restore)',
  run: async (args) => (await import('../node/cli/snapshot-command.js')).runSnapshot(args),
});

registerCommand('backup', {
  summary: 'restore-init: build a member\'s data dir from a backup in S3 (the restore init container)',
  run: async (args) => {
    if (args[0] !== 'restore-init') {
      process.stderr.write('usage: kvorum backup restore-init --help\n');
      return 2;
    }
    return (await import('../node/cli/restore-init.js')).runRestoreInit(args.slice(1));
  },
});

registerCommand('operator', {
  summary: 'run the Kubernetes operator that reconciles KVClusters (--help lists flags)',
  run: async (args) => (await import('../operator/cli.js')).runOperator(args),
});
