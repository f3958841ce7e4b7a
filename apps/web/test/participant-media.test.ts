import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gainOf, initialsOf, parseListening, participantOfTrack } from '../src/phone/participant-media.ts';
import { msidByMid } from '../src/phone/sdp-msid.ts';
import { mainTileKey, type VideoTile } from '../src/phone/video-tiles.ts';
import type { RosterEntry } from '../src/phone/roster.ts';

const entry = (entity: string, label: string, status = 'connected'): RosterEntry => ({
  entity,
  displayText: null,
  status,
  roles: [],
  speaking: false,
  mutedByFocus: false,
  media: [
    { id: 'audio', type: 'audio', status: 'sendrecv', label, srcId: '111' },
    { id: 'video', type: 'video', status: 'sendrecv', label, srcId: '222' },
  ],
});

test('a remote track belongs to the roster entry whose <label> is its msid stream id', () => {
  const entries = [entry('sip:bob@x', 'leg-bob'), entry('sip:carol@x', 'leg-carol')];
  assert.equal(participantOfTrack(entries, { streamId: 'leg-carol', mid: 'c1' })?.entity, 'sip:carol@x');
  assert.equal(participantOfTrack(entries, { streamId: 'leg-bob', mid: 'c2' })?.entity, 'sip:bob@x');
  assert.equal(participantOfTrack(entries, { streamId: 'other', mid: 'c3' }), null);
  // A departed entry keeps its media in the document but owns no live track.
  assert.equal(
    participantOfTrack([entry('sip:bob@x', 'leg-bob', 'disconnected')], { streamId: 'leg-bob', mid: null }),
    null,
  );
});

test('msid stream ids by mid, from the SDP the focus sent', () => {
  const sdp = [
    'v=0',
    's=-',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111',
    'a=mid:0',
    'a=sendrecv',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111',
    'a=mid:c1',
    'a=msid:leg-bob cons-1',
    'a=ssrc:5 msid:leg-bob cons-1',
    'm=video 9 UDP/TLS/RTP/SAVPF 96',
    'a=mid:c2',
    'a=ssrc:7 msid:leg-carol cons-2',
    '',
  ].join('\r\n');
  assert.deepEqual(
    [...msidByMid(sdp)],
    [
      ['c1', 'leg-bob'],
      ['c2', 'leg-carol'],
    ],
  );
  assert.equal(msidByMid(undefined).size, 0);
});

test('initials, gains and stored listening values', () => {
  assert.equal(initialsOf('Alice Liddell'), 'AL');
  assert.equal(initialsOf('bob'), 'B');
  assert.equal(initialsOf('  '), '?');
  assert.equal(gainOf({ volume: 50, muted: false }), 0.5);
  assert.equal(gainOf({ volume: 100, muted: true }), 0);
  assert.deepEqual(parseListening({ volume: 140, muted: false }), { volume: 100, muted: false });
  assert.equal(parseListening({ volume: '5', muted: false }), null);
  assert.equal(parseListening(null), null);
});

test('speaker view: the speaking remote tile is large, else the previous one, else the first remote', () => {
  const tile = (key: string, speaking = false, local = false): VideoTile => ({
    key,
    local,
    speaking,
    party: key,
    name: key,
    streamId: key,
    track: {} as MediaStreamTrack,
  });
  assert.equal(mainTileKey([tile('me', false, true), tile('a'), tile('b', true)], 'a'), 'b');
  assert.equal(mainTileKey([tile('a'), tile('b')], 'b'), 'b');
  assert.equal(mainTileKey([tile('me', true, true), tile('a'), tile('b')], 'gone'), 'a');
  assert.equal(mainTileKey([], null), null);
});
