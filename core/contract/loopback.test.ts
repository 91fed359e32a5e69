// The loopback rule of docs/security.md §2 (Transport): only this computer's own addresses count.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLoopbackHost } from './loopback.js';

test('localhost, 127.0.0.0/8 and ::1 are loopback; any other address or name is not', () => {
  for (const h of ['localhost', 'LOCALHOST', 'hub.localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]', '::ffff:127.0.0.1'])
    assert.equal(isLoopbackHost(h), true, h);
  for (const h of ['0.0.0.0', '::', '[::]', '10.0.0.1', '192.168.1.5', 'hub.example.org', 'localhost.example.org', '128.0.0.1', '::ffff:10.0.0.1', ''])
    assert.equal(isLoopbackHost(h), false, h);
});
