// The data directory's format version, kept in `meta.json` at its root. A
// release reads every format up to its own and refuses newer ones, which it
// could only misread (for example after rolling back an upgrade).
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomically } from './durable-fs.js';
import { DataFormatError } from './errors.js';
import { KVORUM_VERSION } from '../version.js';

/**
 * 1: the first format. 2: snapshot files may be of file format 2 (data
 * digest streamed), which releases reading only format 1 would set aside
 * as corrupt; opening a format 1 dir upgrades its stamp before anything is
 * written.
 */
export const DATA_FORMAT_VERSION = 2;
export const DATA_FORMAT_FILE = 'meta.json';
/** Sub-directories that only a Kvorum data dir contains. */
const OWNED_DIRS = ['wal', 'snap'];

export interface DataFormat {
  dataFormatVersion: number;
  /** The release that created the directory, for people reading it. */
  createdBy: string;
  /** The release that last raised its format, if any. */
  upgradedBy?: string;
}

export interface CheckedDataDir {
  format: DataFormat;
  /** True when this call initialised the directory. */
  created: boolean;
}

/**
 * Checks that `dataDir` holds data this release can read, initialising an
 * empty (or missing) directory with the current format. Unrelated entries
 * such as `lost+found` on a fresh volume are left alone.
 */
export async function checkDataDir(dataDir: string): Promise<CheckedDataDir> {
  await mkdir(dataDir, { recursive: true });
  const raw = await readFile(join(dataDir, DATA_FORMAT_FILE), 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (raw === undefined) {
    const present = (await readdir(dataDir)).filter((name) => OWNED_DIRS.includes(name));
    if (present.length > 0) {
      throw new DataFormatError(`data dir ${dataDir} has ${present.join(' and ')} but no ${DATA_FORMAT_FILE}; refusing to guess its format`);
    }
    const format: DataFormat = { dataFormatVersion: DATA_FORMAT_VERSION, createdBy: `kvorum ${KVORUM_VERSION}` };
    await writeDataFormat(dataDir, format);
    return { format, created: true };
  }
  const format = parseDataFormat(raw, dataDir);
  if (format.dataFormatVersion > DATA_FORMAT_VERSION) {
    throw new DataFormatError(
      `data dir ${dataDir} uses data format ${format.dataFormatVersion} (written by ${format.createdBy}), ` +
        `but kvorum ${KVORUM_VERSION} reads formats up to ${DATA_FORMAT_VERSION}; run a newer release or restore from a backup`,
    );
  }
  if (format.dataFormatVersion < DATA_FORMAT_VERSION) {
    // Every older format is readable as it is; the stamp says that from now
    // on older releases must not open the directory.
    const upgraded: DataFormat = { ...format, dataFormatVersion: DATA_FORMAT_VERSION, upgradedBy: `kvorum ${KVORUM_VERSION}` };
    await writeDataFormat(dataDir, upgraded);
    return { format: upgraded, created: false };
  }
  return { format, created: false };
}

async function writeDataFormat(dataDir: string, format: DataFormat): Promise<void> {
  await writeFileAtomically(dataDir, DATA_FORMAT_FILE, [Buffer.from(JSON.stringify(format, null, 2) + '\n')]);
}

function parseDataFormat(raw: string, dataDir: string): DataFormat {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new DataFormatError(`data dir ${dataDir}: ${DATA_FORMAT_FILE} is not valid JSON`);
  }
  const version = (value as { dataFormatVersion?: unknown } | null)?.dataFormatVersion;
  if (!Number.isSafeInteger(version) || (version as number) < 1) {
    throw new DataFormatError(`data dir ${dataDir}: ${DATA_FORMAT_FILE} has no valid dataFormatVersion`);
  }
  const { createdBy, upgradedBy } = value as { createdBy?: unknown; upgradedBy?: unknown };
  return {
    dataFormatVersion: version as number,
    createdBy: typeof createdBy === 'string' ? createdBy : 'an unknown release',
    ...(typeof upgradedBy === 'string' && { upgradedBy }),
  };
}
