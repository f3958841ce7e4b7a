import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../src/index.ts';

test('child loggers carry scope and call-id, and levels filter', () => {
  const lines: string[] = [];
  const log = createLogger('focus', { level: 'info', sink: (l) => lines.push(l) });
  const call = log.child('call', { callId: 'abc@127.0.0.1' });
  call.debug('hidden');
  call.info('answered', { status: 200, reason: 'OK then' });
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /INFO {2}\[focus\/call\] answered callId=abc@127.0.0.1 status=200 reason="OK then"$/);
});
