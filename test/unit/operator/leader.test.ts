import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { KubeApiError, type KubeClient, type KubeObject } from '../../../operator/kube/client.js';
import { LeaderElector } from '../../../operator/runtime/leader.js';

/** An in-memory Lease store with resourceVersion checks, like the API server's. */
class FakeLeases {
  obj: KubeObject | undefined;
  private rv = 0;
  async get(): Promise<KubeObject | undefined> {
    return this.obj && structuredClone(this.obj);
  }
  async create(_r: unknown, o: KubeObject): Promise<KubeObject> {
    if (this.obj) throw new KubeApiError(409, 'AlreadyExists', 'exists');
    this.obj = { ...structuredClone(o), metadata: { ...o.metadata, resourceVersion: String(++this.rv) } };
    return structuredClone(this.obj);
  }
  async update(_r: unknown, o: KubeObject): Promise<KubeObject> {
    if (o.metadata.resourceVersion !== this.obj?.metadata.resourceVersion) throw new KubeApiError(409, 'Conflict', 'conflict');
    this.obj = { ...structuredClone(o), metadata: { ...o.metadata, resourceVersion: String(++this.rv) } };
    return structuredClone(this.obj);
  }
}

const log = pino({ level: 'silent' });
const holder = (l: FakeLeases): unknown => (l.obj?.spec as { holderIdentity?: string }).holderIdentity;

test('the first candidate takes the Lease; a second one waits until it has not changed for the lease duration', async () => {
  const leases = new FakeLeases();
  let now = 1_000_000;
  const clock = (): number => now;
  const opts = { namespace: 'ops', name: 'lease', leaseDurationMs: 15_000 };
  const a = new LeaderElector(leases as unknown as KubeClient, log, { ...opts, identity: 'a' }, clock);
  const b = new LeaderElector(leases as unknown as KubeClient, log, { ...opts, identity: 'b' }, clock);
  assert.equal(await a.tryAcquireOrRenew(), true);
  assert.equal(await b.tryAcquireOrRenew(), false);
  now += 10_000;
  assert.equal(await a.tryAcquireOrRenew(), true, 'a renews');
  now += 10_000;
  assert.equal(await b.tryAcquireOrRenew(), false, 'b saw the renewal 10 s ago, not 20 s');
  assert.equal(holder(leases), 'a');
  now += 16_000; // a stopped renewing
  assert.equal(await b.tryAcquireOrRenew(), true);
  assert.equal(holder(leases), 'b');
  assert.equal((leases.obj?.spec as { leaseTransitions: number }).leaseTransitions, 1);
  assert.equal(await a.tryAcquireOrRenew(), false, 'the old holder now sees b as the holder');
});

test('release clears the holder so a standby can take over without waiting for expiry', async () => {
  const leases = new FakeLeases();
  const a = new LeaderElector(leases as unknown as KubeClient, log, { namespace: 'ops', name: 'l', identity: 'a', retryMs: 5 });
  let started = 0;
  a.start({ onStartedLeading: () => started++, onStoppedLeading: () => assert.fail('not lost') });
  for (let i = 0; i < 100 && !a.isLeader; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(started, 1);
  await a.release();
  assert.equal(holder(leases), null);
  const b = new LeaderElector(leases as unknown as KubeClient, log, { namespace: 'ops', name: 'l', identity: 'b' });
  assert.equal(await b.tryAcquireOrRenew(), true);
});
