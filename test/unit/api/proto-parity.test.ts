// Drift detection: every service, method, message, field and enum in the
// etcd3 package's copy of etcd's .proto files must exist in ours with the
// same shape. Fields we have beyond that copy (added in later etcd 3.5
// releases) are listed explicitly, so any other difference fails.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PackageDefinition } from '@grpc/proto-loader';
import { loadEtcdProtos } from '../../../node/api/proto/load.js';
import { buildSchema } from '../../../node/api/proto/schema.js';
import { loadReference, type MethodDef } from './etcd3-reference.js';

const ours = loadEtcdProtos().packageDefinition;
const ref = loadReference();

/** Fields present in ours but not in the etcd3 package's (older) copy. */
const KNOWN_EXTRA_FIELDS = new Set([
  'etcdserverpb.HashKVResponse.hash_revision',
  'etcdserverpb.AuthUserAddRequest.hashedPassword',
  'etcdserverpb.AuthUserChangePasswordRequest.hashedPassword',
]);

interface FieldDesc {
  name: string;
  number: number;
  label: string;
  type: string;
  typeName: string;
  oneofIndex: number;
}
interface MessageDesc {
  name: string;
  field: FieldDesc[];
  oneofDecl: Array<{ name: string }>;
}

function entries(def: PackageDefinition, kind: 'service' | 'message'): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [name, v] of Object.entries(def)) {
    const format = (v as { format?: string }).format;
    const isKind = kind === 'service' ? format === undefined : format === 'Protocol Buffer 3 DescriptorProto';
    if (isKind) out.set(name, v);
  }
  return out;
}

test('parity: every service and method of etcd matches ours (types and streaming)', () => {
  const theirServices = entries(ref, 'service');
  assert.deepEqual([...theirServices.keys()].sort(), [...entries(ours, 'service').keys()].sort());
  assert.equal(theirServices.size, 6);
  let methods = 0;
  for (const [svcName, svc] of theirServices) {
    const ourSvc = ours[svcName] as unknown as Record<string, MethodDef>;
    const theirMethods = svc as Record<string, MethodDef>;
    assert.deepEqual(Object.keys(ourSvc).sort(), Object.keys(theirMethods).sort(), `${svcName} methods`);
    for (const [name, m] of Object.entries(theirMethods)) {
      const o = ourSvc[name]!;
      const where = `${svcName}/${name}`;
      assert.equal(o.path, m.path, `${where} path`);
      assert.equal(o.requestStream, m.requestStream, `${where} requestStream`);
      assert.equal(o.responseStream, m.responseStream, `${where} responseStream`);
      assert.equal(o.requestType.type.name, m.requestType.type.name, `${where} request type`);
      assert.equal(o.responseType.type.name, m.responseType.type.name, `${where} response type`);
      methods++;
    }
  }
  assert.equal(methods, 5 + 1 + 5 + 5 + 8 + 17);
});

test('parity: every message of etcd has the same fields (number, label, type, oneof) in ours', () => {
  const theirs = entries(ref, 'message');
  const mine = entries(ours, 'message');
  assert.ok(theirs.size > 90, `the reference has ${theirs.size} messages`);
  assert.deepEqual([...mine.keys()].filter((k) => !theirs.has(k)), [], 'no messages beyond etcd');
  const extras: string[] = [];
  for (const [name, t] of theirs) {
    const o = mine.get(name) as { type: MessageDesc } | undefined;
    assert.ok(o, `${name} exists in ours`);
    const theirType = (t as { type: MessageDesc }).type;
    assert.deepEqual(
      o.type.oneofDecl.map((d) => d.name),
      theirType.oneofDecl.map((d) => d.name),
      `${name} oneofs`,
    );
    const ourFields = new Map(o.type.field.map((f) => [f.name, f]));
    for (const f of theirType.field) {
      const g = ourFields.get(f.name);
      assert.ok(g, `${name}.${f.name} exists in ours`);
      const pick = (x: FieldDesc) => ({ number: x.number, label: x.label, type: x.type, typeName: x.typeName, oneofIndex: x.oneofIndex });
      assert.deepEqual(pick(g), pick(f), `${name}.${f.name}`);
      ourFields.delete(f.name);
    }
    for (const extra of ourFields.keys()) extras.push(`${name}.${extra}`);
  }
  assert.deepEqual(new Set(extras), KNOWN_EXTRA_FIELDS, 'fields beyond the reference are exactly the known later additions');
});

test('parity: oneof membership of every field agrees (read from the encoded descriptors)', () => {
  const theirs = buildSchema(ref);
  const mine = buildSchema(ours);
  let members = 0;
  for (const [name, t] of theirs.messages) {
    const o = mine.messages.get(name)!;
    for (const f of t.fields) {
      assert.equal(o.byName.get(f.name)?.oneof, f.oneof, `${name}.${f.name} oneof`);
      if (f.oneof) members++;
    }
  }
  // RequestOp 4 + ResponseOp 4 + Compare 5 + WatchRequest 3.
  assert.equal(members, 16);
});

test('parity: every enum, nested ones included, has the same values by number', () => {
  const theirs = buildSchema(ref).enums;
  const mine = buildSchema(ours).enums;
  assert.deepEqual([...mine.keys()].sort(), [...theirs.keys()].sort());
  assert.ok(theirs.has('mvccpb.Event.EventType') && theirs.has('etcdserverpb.WatchCreateRequest.FilterType'));
  // The etcd3 package respells value names (Put for PUT, NotEqual for
  // NOT_EQUAL); only numbers reach the wire, so compare names loosely.
  const norm = (s: string) => s.toLowerCase().replace(/_/g, '');
  for (const [name, t] of theirs) {
    const theirValues = [...t.byNumber].map(([n, v]) => [n, norm(v)]);
    const ourValues = [...mine.get(name)!.byNumber].map(([n, v]) => [n, norm(v)]);
    assert.deepEqual(ourValues, theirValues, name);
  }
  // Ours keep etcd's upper-case spellings, which its JSON gateway prints.
  assert.deepEqual([...mine.get('mvccpb.Event.EventType')!.byName.keys()], ['PUT', 'DELETE']);
  assert.deepEqual([...mine.get('etcdserverpb.Compare.CompareResult')!.byName.keys()], ['EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL']);
});
