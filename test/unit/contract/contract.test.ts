// The contract's spellings, and that the member still keeps them where its
// own code spells them (defaults, the /members path, the join refusal).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALARMS,
  DEFAULT_QUOTA_BACKEND_BYTES,
  JOIN_REFUSAL_TEXT,
  JOIN_REFUSED_EXIT_CODE,
  MEMBERS_PATH,
  MEMBER_PORTS,
  alarmsInStatusErrors,
  clientServiceName,
  clientURLAt,
  memberClientURL,
  memberHost,
  memberName,
  memberOrdinal,
  memberPeerURL,
  peerServiceName,
  pvcName,
  pvcOrdinal,
} from '../../../contract/index.js';
import { parseNodeConfig } from '../../../node/config.js';
import { JoinRefusedError } from '../../../node/server/join.js';
import { PATH_MEMBERS } from '../../../node/transport/protocol.js';

test('member, Service and claim names and URLs', () => {
  assert.equal(memberName('kv', 2), 'kv-2');
  assert.equal(peerServiceName('kv'), 'kv-peer');
  assert.equal(clientServiceName('kv'), 'kv-client');
  assert.equal(pvcName('kv', 2), 'data-kv-2');
  assert.equal(memberHost('kv', 'team', 'kv-2'), 'kv-2.kv-peer.team.svc');
  assert.equal(memberPeerURL('https', 'kv', 'team', 'kv-2'), 'https://kv-2.kv-peer.team.svc:2380');
  assert.equal(memberClientURL('http', 'kv', 'team', 'kv-0'), 'http://kv-0.kv-peer.team.svc:2379');
  assert.equal(clientURLAt('http', '10.0.0.7'), 'http://10.0.0.7:2379');
  assert.deepEqual(
    Object.values(MEMBER_PORTS).map((p) => [p.name, p.port]),
    [['client', 2379], ['peer', 2380], ['metrics', 2381]],
  );
});

test('ordinals are read back from member and claim names only', () => {
  assert.equal(memberOrdinal('kv', 'kv-12'), 12);
  assert.equal(memberOrdinal('kv', 'kv-peer'), undefined);
  assert.equal(memberOrdinal('kv', 'kv-1x'), undefined);
  assert.equal(pvcOrdinal('kv', 'data-kv-3'), 3);
  assert.equal(pvcOrdinal('kv', 'data-kvx-3'), undefined);
  assert.equal(pvcOrdinal('kv', undefined), undefined);
});

test('alarms are read from Maintenance.Status errors in etcd\'s spelling', () => {
  assert.deepEqual(alarmsInStatusErrors(['memberID:8e9e05c52164694d alarm:NOSPACE']), [ALARMS.noSpace]);
  assert.deepEqual(alarmsInStatusErrors(['memberID:1 alarm:NOSPACE', 'memberID:2 alarm:NOSPACE', 'memberID:1 alarm:CORRUPT']), ['CORRUPT', 'NOSPACE']);
  assert.deepEqual(alarmsInStatusErrors(['some other problem', 'noalarm:NOSPACE']), []);
  assert.deepEqual(alarmsInStatusErrors([]), []);
});

test('the member\'s defaults are the contract\'s ports and quota', () => {
  const cfg = parseNodeConfig([], {});
  assert.equal(new URL(cfg.listenClientUrls[0]!.toString()).port, String(MEMBER_PORTS.client.port));
  assert.equal(new URL(cfg.listenPeerUrls[0]!.toString()).port, String(MEMBER_PORTS.peer.port));
  assert.equal(cfg.quotaBackendBytes, DEFAULT_QUOTA_BACKEND_BYTES);
});

test('the member serves the join document at the contract\'s path and refuses a taken-over member in the contract\'s words', () => {
  assert.equal(PATH_MEMBERS, MEMBERS_PATH);
  const refusal = new JoinRefusedError('8e9e05c52164694d');
  assert.equal(refusal.exitCode, JOIN_REFUSED_EXIT_CODE);
  assert.ok(refusal.message.includes(JOIN_REFUSAL_TEXT), refusal.message);
});
