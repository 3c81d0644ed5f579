import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  int64ToBigInt,
  int64ToNumber,
  int64ToString,
  isInt64String,
  isUint64String,
  uint64ToBigInt,
  uint64ToString,
} from '../../../node/api/proto/int64.js';

test('int64: conversions to strings check the range', () => {
  assert.equal(int64ToString(5), '5');
  assert.equal(int64ToString(-5n), '-5');
  assert.equal(int64ToString('0009'), '9');
  assert.equal(int64ToString('-9223372036854775808'), '-9223372036854775808');
  assert.throws(() => int64ToString('9223372036854775808'), RangeError);
  assert.equal(uint64ToString(2n ** 64n - 1n), '18446744073709551615');
  assert.throws(() => uint64ToString(-1), RangeError);
  assert.throws(() => uint64ToString(2n ** 64n), RangeError);
});

test('int64: numbers are only accepted or produced when exact', () => {
  assert.equal(int64ToNumber('9007199254740991'), Number.MAX_SAFE_INTEGER);
  assert.throws(() => int64ToNumber('9007199254740992'), /cannot be represented exactly/);
  assert.throws(() => int64ToString(2 ** 60), /may have lost precision/);
  assert.throws(() => int64ToString(1.5), /not an integer/);
  assert.equal(int64ToBigInt('7587862072907233406'), 7587862072907233406n);
  assert.equal(uint64ToBigInt('18446744073709551615'), 18446744073709551615n);
});

test('int64: malformed strings are refused', () => {
  for (const bad of ['', ' 1', '1 ', '+1', '1e3', '0x10', '1.0', 'abc']) {
    assert.throws(() => int64ToBigInt(bad), TypeError, JSON.stringify(bad));
  }
  assert.throws(() => int64ToBigInt(null as never), /expected a string, number or bigint, got null/);
});

test('int64: canonical string predicates', () => {
  assert.equal(isInt64String('-12'), true);
  assert.equal(isInt64String('012'), false);
  assert.equal(isInt64String('-0'), false);
  assert.equal(isInt64String('9223372036854775808'), false);
  assert.equal(isInt64String(12), false);
  assert.equal(isUint64String('18446744073709551615'), true);
  assert.equal(isUint64String('-1'), false);
  assert.equal(isUint64String('18446744073709551616'), false);
});
