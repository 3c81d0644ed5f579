// The bench harness's parsing of benchmark errors, its row selection and the
// ratio text of the backup and rolling-restart rows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseErrors } from '../../../bench/parse.js';
import { ratioText } from '../../../bench/report.js';
import { expandRows, rowDefs, suiteConfig, type RowDef } from '../../../bench/suite.js';

const REPORT = `
Summary:
  Total:	30.0012 secs.
  Requests/sec:	799.9

Response time histogram:
  0.0010 [1]	|
  0.0200 [23998]	|∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎

Latency distribution:
  10% in 0.0012 secs.
  99% in 0.0150 secs.

Error distribution:
  [20]	etcdserver: leader changed
  [3]	rpc error: code = Unavailable desc = transport is closing
`;

test('parseErrors counts each error message of the report', () => {
  const errs = parseErrors(REPORT);
  assert.equal(errs.get('etcdserver: leader changed'), 20);
  assert.equal(errs.get('rpc error: code = Unavailable desc = transport is closing'), 3);
  assert.equal(errs.size, 2);
});

test('parseErrors finds nothing in a report without failures', () => {
  assert.equal(parseErrors(REPORT.slice(0, REPORT.indexOf('Error distribution'))).size, 0);
});

test('expandRows adds the rows a row needs, takes key prefixes and refuses names that match no row', () => {
  const cfg = suiteConfig(true);
  assert.deepEqual([...expandRows(cfg, ['backup-s3', 'rolling-restart'])].sort(), ['backup-s3', 'rolling-restart', 'rss-per-m', 'snapshot']);
  assert.deepEqual([...expandRows(cfg, ['put-1'])], ['put-1'], 'an exact key is that row only, not put-1000 or put-1-single');
  assert.deepEqual([...expandRows(cfg, ['put'])].sort(), ['put-1', 'put-1-single', 'put-100', 'put-100-single', 'put-1000', 'put-1000-single']);
  assert.throws(() => expandRows(cfg, ['nosuchrow']), /no row key is or starts with "nosuchrow"/);
});

function row(key: string): RowDef {
  const r = rowDefs(suiteConfig(false)).find((x) => x.key === key);
  assert.ok(r, key);
  return r;
}

test('the rolling-restart ratio says whether Kvorum failed no more requests than etcd', () => {
  const r = row('rolling-restart');
  assert.match(ratioText(r, { ok: true, value: 4 }, { ok: true, value: 2 }), /target met/);
  assert.match(ratioText(r, { ok: true, value: 4 }, { ok: true, value: 4 }), /target met/);
  assert.match(ratioText(r, { ok: true, value: 0 }, { ok: true, value: 1 }), /target missed/);
});

test('the backup ratio compares with both etcd figures', () => {
  const text = ratioText(row('backup-s3'), { ok: true, value: 100, ref: 200 }, { ok: true, value: 50 });
  assert.match(text, /^0\.50×/);
  assert.match(text, /0\.25× vs etcd snapshot save to disk/);
});
