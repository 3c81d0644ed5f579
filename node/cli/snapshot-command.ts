// `kvorum snapshot save|status|restore`, after etcdctl's and etcdutl's
// commands of the same names.
//   save FILE --endpoints=URL     stream a member's state into FILE (checked)
//   status FILE [-w json]         revision, keys, size and hash of a file
//   restore FILE --name ... --data-dir ... --initial-cluster ...
//                [--initial-cluster-token T] [--initial-advertise-peer-urls U]
//                [--skip-hash-check]      build a fresh member data dir
import { credentials, type ServiceClientConstructor } from '@grpc/grpc-js';
import { parseArgs } from 'node:util';
import { loadEtcdProtos } from '../api/proto/load.js';
import { backupStatus, decodeBackup, readBackupFile, writeBackupFile } from '../backup/backup-file.js';
import { parseInitialCluster, restoreSnapshot } from '../backup/restore.js';

const USAGE = `usage:
  kvorum snapshot save FILE [--endpoints=http://127.0.0.1:2379]
  kvorum snapshot status FILE [-w json|table]
  kvorum snapshot restore FILE --name NAME --data-dir DIR --initial-cluster NAME=URL,...
                          [--initial-cluster-token TOKEN] [--initial-advertise-peer-urls URL] [--skip-hash-check]
`;

export async function runSnapshot(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case 'save':
        return await save(rest);
      case 'status':
        return await status(rest);
      case 'restore':
        return await restore(rest);
      default:
        process.stderr.write(USAGE);
        return 2;
    }
  } catch (err) {
    process.stderr.write(`kvorum snapshot ${sub}: ${(err as Error).message}\n`);
    return 1;
  }
}

async function save(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { endpoints: { type: 'string', default: 'http://127.0.0.1:2379' } } });
  const file = positionals[0];
  if (!file) throw new Error('a destination FILE is required');
  const endpoint = values.endpoints.split(',')[0]!.replace(/^https?:\/\//, '');
  const Maintenance = (loadEtcdProtos().grpcObject.etcdserverpb as Record<string, ServiceClientConstructor>).Maintenance!;
  const client = new Maintenance(endpoint, credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 });
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const stream = client.Snapshot({});
    stream.on('data', (msg: { blob: Buffer }) => chunks.push(msg.blob));
    stream.on('end', () => resolve());
    stream.on('error', reject);
  });
  client.close();
  // The stream is the file format itself; check it before writing it out.
  const payload = decodeBackup(Buffer.concat(chunks));
  const written = await writeBackupFile(file, payload);
  process.stdout.write(`Snapshot saved at ${file} (${written.size} bytes, sha256 ${written.sha256})\n`);
  return 0;
}

async function status(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { write: { type: 'string', short: 'w', default: 'table' } } });
  const file = positionals[0];
  if (!file) throw new Error('a snapshot FILE is required');
  await readBackupFile(file);
  const st = await backupStatus(file);
  if (values.write === 'json') {
    process.stdout.write(`${JSON.stringify({ hash: st.hash, revision: st.revision, totalKey: st.totalKeys, totalSize: st.totalSize })}\n`);
  } else {
    process.stdout.write(`HASH      REVISION  TOTAL KEYS  TOTAL SIZE\n${st.hash}  ${String(st.revision).padEnd(8)}  ${String(st.totalKeys).padEnd(10)}  ${st.totalSize}\n`);
  }
  return 0;
}

async function restore(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string', default: 'default' },
      'data-dir': { type: 'string' },
      'initial-cluster': { type: 'string' },
      'initial-cluster-token': { type: 'string', default: 'etcd-cluster' },
      'initial-advertise-peer-urls': { type: 'string', default: 'http://localhost:2380' },
      'skip-hash-check': { type: 'boolean', default: false },
    },
  });
  const file = positionals[0];
  if (!file) throw new Error('a snapshot FILE is required');
  const name = values.name;
  const advertise = values['initial-advertise-peer-urls'].split(',');
  const initial = values['initial-cluster'] ?? `${name}=${advertise.join(`,${name}=`)}`;
  const result = await restoreSnapshot({
    snapshotPath: file,
    dataDir: values['data-dir'] ?? `${name}.etcd`,
    name,
    initialCluster: parseInitialCluster(initial),
    initialClusterToken: values['initial-cluster-token'],
    initialAdvertisePeerUrls: advertise.map((u) => u.replace(/\/+$/, '')),
    skipHashCheck: values['skip-hash-check'],
  });
  process.stdout.write(
    `restored snapshot at revision ${result.revision} into ${values['data-dir'] ?? `${name}.etcd`} (member ${result.memberId.toString(16)}, cluster ${result.clusterId.toString(16)})\n`,
  );
  return 0;
}
