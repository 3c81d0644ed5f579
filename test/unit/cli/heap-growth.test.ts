// The heap growth a member sets for itself at start (node/cli/heap-growth.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_HEAP_GROWING_PERCENT, HEAP_GROWING_ENV, heapGrowingPercent } from '../../../node/cli/heap-growth.js';

test('a member sets the default growth unless told otherwise', () => {
  assert.equal(heapGrowingPercent({}, []), DEFAULT_HEAP_GROWING_PERCENT);
  assert.equal(heapGrowingPercent({ [HEAP_GROWING_ENV]: ' ' }, []), DEFAULT_HEAP_GROWING_PERCENT);
  assert.equal(heapGrowingPercent({ [HEAP_GROWING_ENV]: '50' }, []), 50);
});

test('0 in the env, or node’s own flag, leaves V8’s heuristic alone', () => {
  assert.equal(heapGrowingPercent({ [HEAP_GROWING_ENV]: '0' }, []), undefined);
  assert.equal(heapGrowingPercent({}, ['--heap-growing-percent=300']), undefined);
  assert.equal(heapGrowingPercent({ [HEAP_GROWING_ENV]: '50' }, ['--heap_growing_percent=300']), undefined);
});

test('a value that is not a percentage is refused', () => {
  for (const bad of ['-1', '1.5', 'lots', '5000']) {
    assert.throws(() => heapGrowingPercent({ [HEAP_GROWING_ENV]: bad }, []), new RegExp(HEAP_GROWING_ENV));
  }
});
