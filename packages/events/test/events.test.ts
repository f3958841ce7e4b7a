import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EnhancedEventEmitter, SerialQueue } from '../src/index.ts';

type Events = { ping: [n: number]; done: [] };

test('emit calls listeners in order; once() listeners run once and can be removed with off()', () => {
  const e = new EnhancedEventEmitter<Events>();
  const seen: string[] = [];
  const onceListener = (n: number): void => void seen.push(`once ${n}`);
  const removed = (n: number): void => void seen.push(`removed ${n}`);
  e.on('ping', (n) => seen.push(`a ${n}`))
    .once('ping', onceListener)
    .on('ping', (n) => seen.push(`b ${n}`));
  e.once('ping', removed).off('ping', removed);
  assert.equal(e.listenerCount('ping'), 3);
  assert.equal(e.emit('ping', 1), true);
  assert.equal(e.emit('ping', 2), true);
  assert.deepEqual(seen, ['a 1', 'once 1', 'b 1', 'a 2', 'b 2']);
  assert.equal(e.emit('done'), false);
  e.removeAllListeners('ping');
  assert.equal(e.listenerCount('ping'), 0);
});

test('a once() listener runs once even when the event is emitted again from a listener', () => {
  const e = new EnhancedEventEmitter<Events>();
  let calls = 0;
  e.on('ping', (n) => {
    if (n === 1) e.emit('ping', 2);
  });
  e.once('ping', () => calls++);
  e.emit('ping', 1);
  assert.equal(calls, 1);
});

test('emit lets a throwing listener reach the caller; safeEmit reports it and runs the others', () => {
  const reported: Array<[unknown, string]> = [];
  const e = new EnhancedEventEmitter<Events>((error, event) => reported.push([error, event]));
  const seen: number[] = [];
  e.on('ping', () => {
    throw new Error('boom');
  });
  e.on('ping', (n) => seen.push(n));
  assert.throws(() => e.emit('ping', 1), /boom/);
  assert.deepEqual(seen, []);
  e.safeEmit('ping', 2);
  assert.deepEqual(seen, [2]);
  assert.equal(reported.length, 1);
  assert.equal(reported[0]![1], 'ping');
});

test('a logger as the reporter logs "event listener threw"', () => {
  const lines: Array<[string, Record<string, unknown> | undefined]> = [];
  const e = new EnhancedEventEmitter<Events>({ error: (message, fields) => void lines.push([message, fields]) });
  const err = new Error('boom');
  e.on('done', () => {
    throw err;
  });
  e.safeEmit('done');
  assert.deepEqual(lines, [['event listener threw', { event: 'done', err }]]);
});

test('SerialQueue runs tasks one after another; a failing task does not stop the queue', async () => {
  const q = new SerialQueue();
  const order: string[] = [];
  const a = q.push(async () => {
    order.push('a start');
    await new Promise((r) => setTimeout(r, 10));
    order.push('a end');
    return 1;
  });
  const b = q.push(() => {
    order.push('b');
    return Promise.reject(new Error('b failed'));
  });
  const c = q.push(() => {
    order.push('c');
    return 'c';
  });
  assert.equal(await a, 1);
  await assert.rejects(b, /b failed/);
  assert.equal(await c, 'c');
  assert.deepEqual(order, ['a start', 'a end', 'b', 'c']);
});

test('SerialQueue: the first task waits for the gate, settled either way', async () => {
  let open!: () => void;
  const q = new SerialQueue(new Promise<void>((r) => (open = r)));
  let ran = false;
  const t = q.push(() => {
    ran = true;
    return Promise.resolve();
  });
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(ran, false);
  open();
  await t;
  assert.equal(ran, true);
});
