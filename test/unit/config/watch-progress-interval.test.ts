// --experimental-watch-progress-notify-interval takes a Go duration, as etcd's does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseGoDurationMs } from '../../../node/config.js';

test('Go durations become milliseconds; anything else is refused naming the flag', () => {
  assert.equal(parseGoDurationMs('1s', '--x'), 1000);
  assert.equal(parseGoDurationMs('500ms', '--x'), 500);
  assert.equal(parseGoDurationMs('10m0s', '--x'), 600_000);
  assert.equal(parseGoDurationMs('1h1m1.5s', '--x'), 3_661_500);
  for (const bad of ['', '10', '1x', 's', '0s', '1s ', '-1s']) {
    assert.throws(() => parseGoDurationMs(bad, '--experimental-watch-progress-notify-interval'), (e: unknown) => e instanceof ConfigError && e.message.startsWith('--experimental-watch-progress-notify-interval'));
  }
});
