// The same etcdctl script against a 3-member etcd cluster (Debian's 3.4, or
// 3.5 built from Go where packages cannot be installed) and a 3-member
// Kvorum cluster gives the same output once IDs, terms, addresses and times
// are masked. Both clusters start empty, so revisions must match exactly.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessCluster, requireTools } from './process-cluster.js';

interface Step {
  args: string[];
  input?: string;
  /** Write each leased command's lease ID into later steps as {LEASE}. */
  capturesLease?: boolean;
  /** Watch commands run until a timeout; their output is what arrived. */
  timeoutMs?: number;
}

const SCRIPT: Step[] = [
  { args: ['put', 'foo', 'bar'] },
  { args: ['put', 'foo2', 'bar2', '-w', 'json'] },
  { args: ['put', 'fop', 'x', '--prev-kv'] },
  { args: ['put', 'foo', 'baz', '--prev-kv'] },
  { args: ['get', 'foo'] },
  { args: ['get', 'fo', '--prefix'] },
  { args: ['get', 'fo', '--prefix', '--limit=2', '-w', 'json'] },
  { args: ['get', 'fo', '--prefix', '--keys-only'] },
  { args: ['get', 'fo', '--prefix', '--sort-by=MODIFY', '--order=DESCEND'] },
  { args: ['get', 'foo', '--rev=2'] },
  { args: ['get', 'fo', '--from-key'] },
  { args: ['get', 'nothing'] },
  { args: ['get', 'foo', '--rev=1000'] },
  { args: ['txn'], input: 'value("foo") = "baz"\n\nput foo qux\n\nget foo\n\n' },
  { args: ['txn'], input: 'mod("foo") > "1000"\n\nput foo never\n\nget foo\n\n' },
  { args: ['txn', '-w', 'json'], input: 'version("foo2") = "1"\n\ndel foo2\n\n\n' },
  { args: ['del', 'fo', '--prefix', '--prev-kv'] },
  { args: ['del', 'absent'] },
  { args: ['watch', 'foo', '--rev=1'], timeoutMs: 2500 },
  { args: ['watch', 'fo', '--prefix', '--rev=2', '--prev-kv'], timeoutMs: 2500 },
  { args: ['lease', 'grant', '100'], capturesLease: true },
  { args: ['put', 'leased', 'v', '--lease={LEASE}'] },
  { args: ['lease', 'timetolive', '{LEASE}', '--keys'] },
  { args: ['lease', 'keep-alive', '--once', '{LEASE}'] },
  { args: ['lease', 'revoke', '{LEASE}'] },
  { args: ['get', 'leased'] },
  { args: ['put', 'k', 'v', '--lease=1234abcd'] },
  { args: ['compaction', '3'] },
  { args: ['get', 'foo', '--rev=2'] },
  { args: ['compaction', '2'] },
  { args: ['put', 'after', 'compaction', '-w', 'json'] },
  // etcdctl's lock and elect (clientv3's concurrency recipes: a session lease, txns, watches).
  { args: ['lock', 'mylock', 'echo', 'held-the-lock'] },
  { args: ['get', 'mylock', '--prefix', '--keys-only'] },
  { args: ['elect', 'myelection', 'alice'], timeoutMs: 2500 },
  { args: ['elect', '--listen', 'myelection'], timeoutMs: 2000 },
  { args: ['get', 'myelection', '--prefix'] },
  { args: ['lock', 'heldlock'], timeoutMs: 2000 },
  { args: ['get', 'heldlock', '--prefix', '--keys-only'] },
  { args: ['member', 'list'] },
  { args: ['endpoint', 'health'] },
  ...authSteps(),
];

/** etcd's Auth API: users, roles, permissions, enabling, and what a permitted and a refused user may do. */
function authSteps(): Step[] {
  const alice = (...args: string[]): Step => ({ args: ['--user=alice:pw', ...args] });
  const root = (...args: string[]): Step => ({ args: ['--user=root:pw', ...args] });
  return [
    { args: ['user', 'add', 'root:pw'] },
    { args: ['role', 'add', 'r1'] },
    { args: ['role', 'grant-permission', 'r1', 'readwrite', '/a', '/b'] },
    { args: ['role', 'grant-permission', 'r1', 'read', '--prefix', '/p/'] },
    { args: ['role', 'add', 'r2'] },
    { args: ['role', 'grant-permission', 'r2', 'write', '--from-key', '/w'] },
    { args: ['role', 'add', 'r1'] },
    { args: ['user', 'add', 'alice:pw'] },
    { args: ['user', 'add', 'alice:pw'] },
    { args: ['user', 'grant-role', 'alice', 'r1'] },
    { args: ['user', 'grant-role', 'alice', 'nope'] },
    { args: ['user', 'grant-role', 'nobody', 'r1'] },
    { args: ['auth', 'enable'] },
    { args: ['put', '/a/1', 'x'] },
    alice('put', '/a/1', 'x'),
    alice('get', '/a', '--prefix'),
    alice('put', '/z', 'x'),
    alice('get', '/z'),
    alice('put', '/p/1', 'y'),
    root('put', '/p/1', 'y'),
    alice('get', '/p/', '--prefix'),
    { args: ['--user=alice:pw', 'txn'], input: 'version("/a/1") = "1"\n\nput /a/2 two\n\nget /a/1\n\n' },
    { args: ['--user=alice:pw', 'txn'], input: 'version("/a/1") = "1"\n\nput /a/3 three\n\nput /z z\n\n' },
    { args: ['--user=alice:pw', 'txn'], input: 'version("/q") = "1"\n\nput /a/3 three\n\n\n' },
    alice('del', '/a/2', '--prev-kv'),
    alice('user', 'list'),
    alice('user', 'get', 'alice'),
    alice('role', 'get', 'r1'),
    alice('role', 'get', 'r2'),
    alice('user', 'add', 'mallory:pw'),
    { args: ['--user=alice:wrong', 'get', '/a/1'] },
    { args: ['--user=nobody:pw', 'get', '/a/1'] },
    root('user', 'list'),
    root('role', 'list'),
    root('role', 'get', 'r1'),
    root('role', 'get', 'r2'),
    root('user', 'get', 'alice'),
    root('user', 'grant-role', 'alice', 'r2'),
    alice('put', '/wx', 'w'),
    root('role', 'revoke-permission', 'r1', '/p/', '--prefix'),
    root('role', 'revoke-permission', 'r1', '/nothing'),
    alice('get', '/p/1'),
    root('user', 'revoke-role', 'alice', 'r2'),
    root('user', 'revoke-role', 'alice', 'r2'),
    root('user', 'delete', 'root'),
    root('user', 'revoke-role', 'root', 'root'),
    root('role', 'delete', 'root'),
    { args: ['--user=root:pw', 'user', 'passwd', 'alice', '--interactive=false'], input: 'pw2\n' },
    alice('get', '/a/1'),
    { args: ['--user=alice:pw2', 'get', '/a/1'] },
    root('get', '/a', '--prefix'),
    root('auth', 'disable'),
    { args: ['get', '/a', '--prefix', '--keys-only'] },
    { args: ['user', 'delete', 'alice'] },
    { args: ['role', 'delete', 'r2'] },
    { args: ['user', 'list'] },
  ];
}

/** Hides what legitimately differs between two clusters: IDs, terms, addresses, times. */
export function mask(text: string): string {
  return text
    .replace(/"(cluster_id|member_id|ID|id|leader)":\s*"?\d+"?/g, '"$1":<ID>')
    .replace(/"raft_term":\s*\d+/g, '"raft_term":<TERM>')
    // Kvorum's IDs are 52-bit, so printed without leading zeros they can be
    // shorter than etcd's; the script's own 8-digit lease ID stays visible.
    .replace(/\b[0-9a-f]{9,16}\b/g, '<ID>')
    .replace(/\b(cluster|Member|lease)\s+<ID>/g, '$1 <ID>')
    .replace(/127\.0\.0\.1:\d+/g, '<ADDR>')
    .replace(/\b(m\d|default)\b/g, '<NAME>')
    .replace(/took = [0-9.]+[µm]?s/g, 'took = <T>')
    .replace(/remaining\(\d+s\)/g, 'remaining(<N>s)')
    .replace(/^\{"level":.*$/gm, '')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .sort((a, b) => (a.includes('<ADDR>') && b.includes('<ADDR>') ? a.localeCompare(b) : 0))
    .join('\n');
}

async function runScript(c: ProcessCluster): Promise<string[]> {
  const out: string[] = [];
  let lease = '';
  for (const step of SCRIPT) {
    const args = step.args.map((a) => a.replace('{LEASE}', lease));
    const r = c.etcdctl(args, { ...(step.input !== undefined && { input: step.input }), ...(step.timeoutMs !== undefined && { timeoutMs: step.timeoutMs }) });
    if (step.capturesLease) lease = /lease ([0-9a-f]+) granted/.exec(r.stdout)?.[1] ?? '';
    out.push(`$ etcdctl ${step.args.join(' ')}\n${mask(r.stdout + r.stderr)}`);
  }
  return out;
}

describe('differential: etcd and Kvorum answer the same etcdctl script the same way', () => {
  // npm test provides them (scripts/etcd-tools.sh); a run without them fails rather than skips.
  before(() => requireTools('etcd', 'etcdctl'));
  let etcdOut: string[] = [];
  let kvorumOut: string[] = [];
  before(async () => {
    const etcd = await ProcessCluster.create('etcd', 3);
    try {
      await etcd.startAll();
      etcdOut = await runScript(etcd);
    } finally {
      await etcd.destroy();
    }
    const kvorum = await ProcessCluster.create('kvorum', 3);
    try {
      await kvorum.startAll();
      kvorumOut = await runScript(kvorum);
    } finally {
      await kvorum.destroy();
    }
  });
  after(() => {});

  test('every step prints the same masked output', () => {
    assert.equal(kvorumOut.length, SCRIPT.length);
    // Anchors, so that two clusters failing the same way cannot pass.
    assert.equal(etcdOut[4], '$ etcdctl get foo\nfoo\nbaz');
    assert.match(etcdOut[12]!, /required revision is a future revision/);
    assert.match(etcdOut[18]!, /PUT\nfoo\nbar\nPUT\nfoo\nbaz\nPUT\nfoo\nqux\nDELETE\nfoo/);
    assert.equal(etcdOut[SCRIPT.findIndex((st) => st.args[0] === 'lock')], '$ etcdctl lock mylock echo held-the-lock\nheld-the-lock');
    assert.match(etcdOut[SCRIPT.findIndex((st) => st.args[0] === 'elect')]!, /myelection\/<ID>\nalice/);
    // The Auth script ran and meant something: a refusal, a permitted write, the cluster opened again.
    const step = (...args: string[]): string => etcdOut[SCRIPT.findIndex((st) => st.args.join(' ') === args.join(' '))]!;
    assert.equal(step('auth', 'enable'), '$ etcdctl auth enable\nAuthentication Enabled');
    assert.equal(step('--user=alice:pw', 'put', '/z', 'x'), '$ etcdctl --user=alice:pw put /z x\nError: etcdserver: permission denied');
    assert.equal(step('--user=alice:pw', 'put', '/a/1', 'x'), '$ etcdctl --user=alice:pw put /a/1 x\nOK');
    assert.equal(step('put', '/a/1', 'x'), '$ etcdctl put /a/1 x\nError: etcdserver: user name is empty');
    assert.equal(step('user', 'list'), '$ etcdctl user list\nroot');
    for (let i = 0; i < SCRIPT.length; i++) {
      assert.equal(kvorumOut[i], etcdOut[i], `step ${i + 1} differs (Kvorum vs etcd)`);
    }
  });
});
