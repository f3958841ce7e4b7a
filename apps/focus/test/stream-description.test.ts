import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeStreams } from '../src/conference/stream-description.ts';

test('every stream of a leg carries the msid stream id as label and its SSRC as src-id', () => {
  const media = describeStreams({
    streamId: 'leg-a',
    held: false,
    sources: [
      { kind: 'video', ssrc: 22, mid: '1' },
      { kind: 'audio', ssrc: 11, mid: '0' },
    ],
  });
  assert.deepEqual(media, [
    { id: 'audio', type: 'audio', label: 'leg-a', status: 'sendrecv', srcId: '11' },
    { id: 'video', type: 'video', label: 'leg-a', status: 'sendrecv', srcId: '22' },
  ]);
});

test('a held leg is inactive; a leg sending nothing yet is one audio stream; ids stay unique', () => {
  assert.deepEqual(describeStreams({ streamId: 'x', held: true, sources: [] }), [
    { id: 'audio', type: 'audio', label: 'x', status: 'inactive' },
  ]);
  const ids = describeStreams({
    streamId: 'x',
    held: false,
    sources: [
      { kind: 'audio', ssrc: 1, mid: '0' },
      { kind: 'audio', ssrc: undefined, mid: '2' },
    ],
  }).map((m) => [m.id, m.srcId]);
  assert.deepEqual(ids, [
    ['audio', '1'],
    ['audio-2', undefined],
  ]);
});
