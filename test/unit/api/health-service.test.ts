// grpc.health.v1.Health's handlers over a fake member: which status each
// condition gives, which names are known, and Watch's updates.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { healthService, servingStatus } from '../../../node/api/grpc/health-service.js';

function member(leader = 7, alarms: string[] = []) {
  const m = { lead: leader, alarmNames: alarms };
  return { m, source: { leader: () => m.lead, alarms: () => m.alarmNames.map((alarm) => ({ alarm })) } };
}

type Callback = (err: { code: number; details: string } | null, res?: { status: string }) => void;

function check(impl: ReturnType<typeof healthService>, service: string): Promise<{ err: { code: number; details: string } | null; res?: { status: string } }> {
  return new Promise((resolve) => (impl.Check as (call: unknown, cb: Callback) => void)({ request: { service } }, (err, res) => resolve({ err, ...(res && { res }) })));
}

test('servingStatus: SERVING with a leader and no NOSPACE/CORRUPT alarm', () => {
  assert.equal(servingStatus(member().source), 'SERVING');
  assert.equal(servingStatus(member(0).source), 'NOT_SERVING');
  assert.equal(servingStatus(member(7, ['NOSPACE']).source), 'NOT_SERVING');
  assert.equal(servingStatus(member(7, ['CORRUPT']).source), 'NOT_SERVING');
});

test('Check: "" and the served services answer the status; other names NOT_FOUND "unknown service"', async () => {
  const { m, source } = member();
  const impl = healthService(source);
  assert.deepEqual(await check(impl, ''), { err: null, res: { status: 'SERVING' } });
  assert.deepEqual(await check(impl, 'v3electionpb.Election'), { err: null, res: { status: 'SERVING' } });
  m.lead = 0;
  assert.deepEqual(await check(impl, 'etcdserverpb.KV'), { err: null, res: { status: 'NOT_SERVING' } });
  assert.deepEqual(await check(impl, 'no.Such'), { err: { code: 5, details: 'unknown service' } });
});

test('Watch: the status at once, then only changes, until the client leaves', async () => {
  const { m, source } = member();
  const impl = healthService(source, 5);
  const call = Object.assign(new EventEmitter(), { request: { service: '' }, sent: [] as string[], write(msg: { status: string }) { this.sent.push(msg.status); return true; } });
  (impl.Watch as (c: unknown) => void)(call);
  assert.deepEqual(call.sent, ['SERVING']);
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(call.sent, ['SERVING'], 'no repeats while nothing changes');
  m.alarmNames = ['NOSPACE'];
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(call.sent, ['SERVING', 'NOT_SERVING']);
  call.emit('cancelled');
  m.alarmNames = [];
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(call.sent, ['SERVING', 'NOT_SERVING'], 'nothing after the client left');

  const unknown = Object.assign(new EventEmitter(), { request: { service: 'no.Such' }, sent: [] as string[], write(msg: { status: string }) { this.sent.push(msg.status); return true; } });
  (impl.Watch as (c: unknown) => void)(unknown);
  unknown.emit('cancelled');
  assert.deepEqual(unknown.sent, ['SERVICE_UNKNOWN']);
});
