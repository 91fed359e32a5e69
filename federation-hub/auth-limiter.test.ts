// The failed-attempt limiter of docs/security.md §6 on a controlled clock: the bucket, its refill, the
// sampled audit rows and the one summary per interval, IPv6 by /64, and a bounded address table.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressKey, AuthLimiter } from './auth-limiter.js';

function limiter(o: Partial<ConstructorParameters<typeof AuthLimiter>[0]> = {}) {
  let t = 0;
  const reports: string[] = [];
  const l = new AuthLimiter({ burst: 3, perMinute: 6, intervalMs: 60_000, fullRowsPerInterval: 100, ...o }, (s) => reports.push(s), () => t);
  return { l, reports, advance: (ms: number) => (t += ms) };
}

test('an address is refused once its burst of failures is spent, and regains one per 60/perMinute s', () => {
  const { l, advance } = limiter();
  assert.equal(l.refuse('10.0.0.1'), false, 'an unknown address is never refused');
  assert.deepEqual([1, 2, 3].map(() => l.failure('10.0.0.1')), [
    { full: true, nowLimited: false }, { full: true, nowLimited: false }, { full: true, nowLimited: true },
  ]);
  assert.equal(l.refuse('10.0.0.1'), true);
  assert.equal(l.refuse('10.0.0.2'), false, 'another address is not');
  advance(9_999);
  assert.equal(l.refuse('10.0.0.1'), true, 'not yet a whole failure regained (6 per minute = one per 10 s)');
  advance(1);
  assert.equal(l.refuse('10.0.0.1'), false);
  assert.deepEqual(l.failure('10.0.0.1'), { full: true, nowLimited: true });
  // A failure without a token left (a connection accepted before the bucket ran dry) is not written in full.
  assert.deepEqual(l.failure('10.0.0.1'), { full: false, nowLimited: false });
});

test('refusals and unlogged failures become one summary per interval; a quiet interval writes none', () => {
  const { l, reports } = limiter({ fullRowsPerInterval: 4 });
  for (let i = 0; i < 3; i++) l.failure('10.0.0.1');
  for (let i = 0; i < 500; i++) l.refuse('10.0.0.1');
  // The hub-wide budget of full rows: the 4th full row is the last one this interval.
  assert.deepEqual([l.failure('10.0.0.2').full, l.failure('10.0.0.3').full], [true, false]);
  l.flush();
  assert.equal(reports.length, 1);
  assert.match(reports[0]!, /^500 connection\(s\) refused as rate limited and 1 failed attempt\(s\) not logged one by one/);
  assert.match(reports[0]!, /from 2 address\(es\): 10\.0\.0\.1 500, 10\.0\.0\.3 1$/);
  l.flush();
  assert.equal(reports.length, 1);
  assert.equal(l.failure('10.0.0.4').full, true, 'a new interval has a new budget of full rows');
});

test('IPv6 addresses share a bucket per /64; IPv4-mapped ones are their IPv4 address', () => {
  assert.equal(addressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(addressKey('::1'), '0:0:0:0::/64');
  const { l } = limiter();
  for (let i = 0; i < 3; i++) l.failure(`2001:db8:1:2::${i + 1}`);
  assert.equal(l.refuse('2001:db8:1:2:ffff::9'), true, 'another host of the same /64');
  assert.equal(l.refuse('2001:db8:1:3::1'), false, 'the next /64');
});

test('the address table is bounded: the oldest address is forgotten first', () => {
  const { l } = limiter({ maxAddresses: 2 });
  for (let i = 0; i < 3; i++) l.failure('10.0.0.1');
  l.failure('10.0.0.2');
  l.failure('10.0.0.3');
  assert.equal(l.refuse('10.0.0.1'), false, 'forgotten (its bucket starts full again)');
});
