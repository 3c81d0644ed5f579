import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkDataDir, DATA_FORMAT_FILE, DATA_FORMAT_VERSION } from '../../../node/storage/data-format.js';
import { DataFormatError } from '../../../node/storage/errors.js';
import { withTempDir } from './helpers.js';

test('an empty data dir is stamped with the current format', async () => {
  await withTempDir(async (dir) => {
    await mkdir(join(dir, 'lost+found'));
    const first = await checkDataDir(dir);
    assert.equal(first.created, true);
    const stamped = JSON.parse(await readFile(join(dir, DATA_FORMAT_FILE), 'utf8')) as { dataFormatVersion: number };
    assert.equal(stamped.dataFormatVersion, DATA_FORMAT_VERSION);
    const second = await checkDataDir(dir);
    assert.equal(second.created, false);
    assert.equal(second.format.dataFormatVersion, DATA_FORMAT_VERSION);
  });
});

test('a data dir written by a newer format is refused with a clear error', async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, DATA_FORMAT_FILE), JSON.stringify({ dataFormatVersion: DATA_FORMAT_VERSION + 1, createdBy: 'kvorum 9.0.0' }));
    await assert.rejects(checkDataDir(dir), (err: unknown) => {
      assert.ok(err instanceof DataFormatError);
      assert.match(err.message, new RegExp(`data format ${DATA_FORMAT_VERSION + 1} \\(written by kvorum 9.0.0\\)`));
      assert.match(err.message, new RegExp(`reads formats up to ${DATA_FORMAT_VERSION}`));
      return true;
    });
  });
});

test('a garbled or missing format file next to existing data is refused', async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, DATA_FORMAT_FILE), '{ not json');
    await assert.rejects(checkDataDir(dir), /not valid JSON/);
  });
  await withTempDir(async (dir) => {
    await mkdir(join(dir, 'wal'));
    await assert.rejects(checkDataDir(dir), /has wal but no meta.json/);
  });
});

test('a format 1 data dir is upgraded in place: its stamp is raised so older releases refuse it', async () => {
  await withTempDir(async (dir) => {
    await mkdir(join(dir, 'wal'));
    await writeFile(join(dir, DATA_FORMAT_FILE), JSON.stringify({ dataFormatVersion: 1, createdBy: 'kvorum 0.0.9' }));
    const checked = await checkDataDir(dir);
    assert.equal(checked.created, false);
    assert.equal(checked.format.dataFormatVersion, DATA_FORMAT_VERSION);
    const stamped = JSON.parse(await readFile(join(dir, DATA_FORMAT_FILE), 'utf8')) as { dataFormatVersion: number; createdBy: string; upgradedBy: string };
    assert.equal(stamped.dataFormatVersion, DATA_FORMAT_VERSION);
    assert.equal(stamped.createdBy, 'kvorum 0.0.9', 'the creator is kept');
    assert.match(stamped.upgradedBy, /^kvorum /);
  });
});
