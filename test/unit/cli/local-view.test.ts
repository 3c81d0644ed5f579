// What `kvorum local` shows: the banner, readable warning/error lines from
// the members' JSON logs, the status line, and how the terminal draws it on
// a TTY and on a pipe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { localMembers } from '../../../node/cli/local.js';
import { LocalTerminal } from '../../../node/cli/local-terminal.js';
import { banner, readableLogLine, statusLine, type MemberProbe } from '../../../node/cli/local-view.js';

test('member ports follow etcd’s layout, shifted by the base port', () => {
  const [m1, m2, m3] = localMembers(3, '/d');
  assert.deepEqual(
    [m1!.clientUrl, m1!.peerUrl, m1!.metricsUrl, m2!.clientUrl, m3!.clientUrl, m3!.dataDir],
    ['http://127.0.0.1:2379', 'http://127.0.0.1:2380', 'http://127.0.0.1:2381', 'http://127.0.0.1:22379', 'http://127.0.0.1:32379', '/d/m3'],
  );
  assert.equal(localMembers(3, '/d', 10000)[1]!.peerUrl, 'http://127.0.0.1:30001');
});

test('the banner names every endpoint, the data and log locations, and commands to paste', () => {
  const members = localMembers(3, '/data');
  const text = banner({ members, dataDir: '/data', logFiles: ['/data/logs/m1.log', '/data/logs/m2.log', '/data/logs/m3.log'] });
  assert.match(text, /m2 {2}client http:\/\/127\.0\.0\.1:22379 {2}peer http:\/\/127\.0\.0\.1:22380 {2}metrics http:\/\/127\.0\.0\.1:22381\/metrics/);
  assert.match(text, /logs {2}\/data\/logs\/m1\.log, \/data\/logs\/m2\.log, \/data\/logs\/m3\.log/);
  assert.ok(text.includes('etcdctl --endpoints=127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379 put hello world'));
  // The gateway takes base64: these are "hello" and "world".
  assert.ok(text.includes(`curl -s 127.0.0.1:2379/v3/kv/put -d '{"key":"aGVsbG8=","value":"d29ybGQ="}'`));
  assert.ok(text.includes(`curl -s 127.0.0.1:2379/v3/kv/range -d '{"key":"aGVsbG8="}'`));
});

test('log lines: info and quieter are not shown; warnings and errors are one readable line', () => {
  assert.equal(readableLogLine('m1', JSON.stringify({ level: 30, time: 1, member: 'm1', msg: 'member started' })), undefined);
  assert.equal(readableLogLine('m1', ''), undefined);
  assert.deepEqual(readableLogLine('m2', JSON.stringify({ level: 40, time: 1, pid: 7, member: 'm2', component: 'transport', peer: 'ab12', msg: 'cannot reach the peer' })), {
    level: 'WARN',
    text: 'm2  WARN   cannot reach the peer (component=transport peer=ab12)',
  });
  assert.deepEqual(readableLogLine('m3', JSON.stringify({ level: 50, msg: 'error while stopping', err: { type: 'Error', message: 'disk gone', stack: 'Error: disk gone\n    at x' } })), {
    level: 'ERROR',
    text: 'm3  ERROR  error while stopping (err=disk gone)',
  });
  assert.equal(readableLogLine('m1', JSON.stringify({ level: 60, msg: 'boom' }))?.level, 'FATAL');
});

test('log lines: output that is not JSON (a CLI error, a crash) is shown as an error; long fields are cut', () => {
  assert.deepEqual(readableLogLine('m3', 'kvorum node: cannot listen for client requests on http://127.0.0.1:32379/: address already in use (EADDRINUSE)'), {
    level: 'ERROR',
    text: 'm3  ERROR  kvorum node: cannot listen for client requests on http://127.0.0.1:32379/: address already in use (EADDRINUSE)',
  });
  assert.equal(readableLogLine('m1', '{not json')?.level, 'ERROR');
  const long = readableLogLine('m1', JSON.stringify({ level: 40, msg: 'x', detail: 'y'.repeat(500) }))!;
  assert.ok(long.text.length < 200, `cut to one line: ${long.text.length} chars`);
  assert.ok(long.text.endsWith('…)'));
});

const probe = (name: string, id: string, leader: string, term: number, revision: number, healthy = true): MemberProbe => ({ name, healthy, status: { id, leader, term, revision } });

test('status line: leader by name, term, revision and members healthy', () => {
  assert.equal(
    statusLine([probe('m1', 'a', 'b', 2, 17), probe('m2', 'b', 'b', 2, 17), probe('m3', 'c', 'b', 2, 16)]),
    'leader m2 · term 2 · revision 17 · 3/3 members healthy',
  );
});

test('status line: members that do not answer or are unhealthy are named; no leader is said so', () => {
  assert.equal(
    statusLine([probe('m1', 'a', 'a', 3, 9), { name: 'm2', healthy: false }, probe('m3', 'c', 'a', 3, 9, false)]),
    'leader m1 · term 3 · revision 9 · 1/3 members healthy · m2 not answering · m3 unhealthy',
  );
  assert.equal(statusLine([probe('m1', 'a', '0', 4, 9, false), { name: 'm2', healthy: false }, { name: 'm3', healthy: false }]), 'no leader · term 4 · revision 9 · 0/3 members healthy · m2, m3 not answering · m1 unhealthy');
  assert.equal(statusLine([{ name: 'm1', healthy: false }]), 'waiting for members to answer · 0/1 members healthy');
});

class Capture extends Writable {
  text = '';
  constructor(
    readonly isTTY: boolean,
    readonly columns = 80,
  ) {
    super();
  }
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

test('terminal on a TTY: the status line is redrawn in place and stays below printed lines', () => {
  const out = new Capture(true, 40);
  const t = new LocalTerminal(out);
  t.setStatus('leader m1 · term 2');
  t.print('m2  WARN   slow disk', 'WARN');
  t.setStatus('leader m1 · term 3 · revision 123456789 · 3/3 members healthy');
  t.end();
  assert.equal(
    out.text,
    '\r\x1b[2Kleader m1 · term 2' +
      '\r\x1b[2K\x1b[33mm2  WARN   slow disk\x1b[0m\nleader m1 · term 2' +
      '\r\x1b[2Kleader m1 · term 3 · revision 12345678…' +
      '\n',
  );
});

test('terminal on a pipe: plain lines, a status line when it changes or every 10 s', () => {
  const out = new Capture(false);
  let now = Date.UTC(2025, 0, 1, 12, 0, 0);
  const t = new LocalTerminal(out, () => now);
  t.setStatus('leader m1');
  t.setStatus('leader m1');
  now += 5_000;
  t.setStatus('leader m1');
  t.print('m2  WARN   slow disk', 'WARN');
  now += 6_000;
  t.setStatus('leader m1');
  t.setStatus('leader m2');
  t.end();
  assert.equal(out.text, '12:00:00 status: leader m1\nm2  WARN   slow disk\n12:00:11 status: leader m1\n12:00:11 status: leader m2\n');
});
