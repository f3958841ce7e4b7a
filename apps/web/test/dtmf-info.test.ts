import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DTMF_ACCEPT, dtmfFrequencies, playedDuration, readDtmfInfo } from '../src/phone/dtmf-info.ts';

test('incoming INFO: dtmf-relay and application/dtmf are keys; the rest refused', () => {
  assert.deepEqual(readDtmfInfo('application/dtmf-relay', 'Signal=5\r\nDuration=160'), {
    kind: 'digit',
    digit: '5',
    durationMs: 160,
  });
  assert.deepEqual(readDtmfInfo('application/dtmf-relay', 'Duration=300\nSignal=11\n'), {
    kind: 'digit',
    digit: '#',
    durationMs: 300,
  });
  assert.deepEqual(readDtmfInfo('application/dtmf', ' * '), { kind: 'digit', digit: '*', durationMs: 160 });
  assert.deepEqual(readDtmfInfo(undefined, undefined), { kind: 'empty' });
  const status = (ct: string | undefined, body: string) => {
    const r = readDtmfInfo(ct, body);
    return r.kind === 'refused' ? r.status : r.kind;
  };
  assert.equal(status('application/dtmf-relay', 'Signal=Q'), 400);
  assert.equal(status('application/dtmf-relay', 'Signal=1\nDuration=soon'), 400);
  assert.equal(status('application/dtmf', ''), 400);
  assert.equal(status('application/dtmf', '12'), 400);
  assert.equal(status('application/json', '{}'), 415);
  assert.equal(DTMF_ACCEPT, 'application/dtmf-relay, application/dtmf');
});

test('tone pairs (ITU-T Q.23) and played durations', () => {
  assert.deepEqual(dtmfFrequencies('1'), [697, 1209]);
  assert.deepEqual(dtmfFrequencies('0'), [941, 1336]);
  assert.deepEqual(dtmfFrequencies('#'), [941, 1477]);
  assert.deepEqual(dtmfFrequencies('d'), [941, 1633]);
  assert.equal(dtmfFrequencies('x'), undefined);
  assert.equal(dtmfFrequencies('12'), undefined);
  assert.equal(playedDuration(10), 60);
  assert.equal(playedDuration(160), 160);
  assert.equal(playedDuration(60_000), 2000);
});
