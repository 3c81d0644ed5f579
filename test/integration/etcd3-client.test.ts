// The `etcd3` npm client (not written by us) against a 3-member Kvorum
// cluster: KV, watches, leases, locks and elections.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { ProcessCluster } from './process-cluster.js';

describe('the etcd3 npm client against Kvorum', () => {
  let c: ProcessCluster;
  let client: Etcd3;
  before(async () => {
    c = await ProcessCluster.create('kvorum', 3);
    await c.startAll();
    client = new Etcd3({ hosts: c.members.map((m) => m.clientUrl) });
  });
  after(async () => {
    client?.close();
    await c?.destroy();
  });

  test('KV: put, get, prefix listing, delete, transactions', async () => {
    await client.put('app/a').value('1');
    await client.put('app/b').value('2');
    assert.equal(await client.get('app/a').string(), '1');
    assert.deepEqual(await client.getAll().prefix('app/').strings(), { 'app/a': '1', 'app/b': '2' });
    const swapped = await client.if('app/a', 'Value', '==', '1').then(client.put('app/a').value('one')).else(client.put('app/a').value('never')).commit();
    assert.equal(swapped.succeeded, true);
    assert.equal(await client.get('app/a').string(), 'one');
    await client.delete().prefix('app/');
    assert.equal(await client.getAll().prefix('app/').count(), 0);
  });

  test('watch: events arrive in order with previous values', async () => {
    const watcher = await client.watch().key('w').withPreviousKV().create();
    const seen: string[] = [];
    const done = new Promise<void>((resolve) => {
      watcher.on('put', (kv, prev) => {
        seen.push(`put ${kv.value.toString()} prev=${prev?.value.toString() ?? ''}`);
        if (seen.length === 3) resolve();
      });
      watcher.on('delete', () => {
        seen.push('delete');
        if (seen.length === 3) resolve();
      });
    });
    await client.put('w').value('x');
    await client.put('w').value('y');
    await client.delete().key('w');
    await done;
    await watcher.cancel();
    assert.deepEqual(seen, ['put x prev=', 'put y prev=x', 'delete']);
  });

  test('leases: keys live with the lease and go when it is revoked', async () => {
    const lease = client.lease(30);
    await lease.put('leased').value('v');
    assert.equal(await client.get('leased').string(), 'v');
    const ttl = Number((await lease.keepaliveOnce()).TTL);
    assert.ok(ttl > 0 && ttl <= 30, `ttl ${ttl}`);
    await lease.revoke();
    assert.equal(await client.get('leased').string(), null);
  });

  test('locks exclude each other', async () => {
    const lock1 = client.lock('resource');
    await lock1.acquire();
    // etcd3's acquire does not wait: a held lock refuses at once.
    await assert.rejects(client.lock('resource').acquire(), /Failed to acquire a lock/);
    await lock1.release();
    const lock2 = client.lock('resource');
    await lock2.acquire();
    await lock2.release();
  });

  test('elections: one leader at a time, the next takes over on resign', async () => {
    const election = client.election('singleton');
    const a = election.campaign('a');
    await a.wait();
    assert.equal(await election.leader(), 'a');
    const b = election.campaign('b');
    const bWins = b.wait();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await election.leader(), 'a', 'b waits while a leads');
    await a.resign();
    await bWins;
    assert.equal(await election.leader(), 'b');
    await b.resign();
  });
});
