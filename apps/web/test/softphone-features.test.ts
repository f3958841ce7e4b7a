import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeDtmfProblem, describeTransfer, describeTransferEnd } from '../src/phone/words.ts';
import { DEVICES_KEY, DeviceManager, groupDevices, parseDeviceChoice } from '../src/phone/devices.ts';
import { levelFromRms, rmsOf, smoothLevel } from '../src/phone/level-meter.ts';
import { videoTiles } from '../src/phone/video-tiles.ts';
import type { LineSnapshot } from '../src/phone/line.ts';
import type { ConferenceRoster, RosterEntry } from '../src/phone/roster.ts';

const base = { partyName: 'bob', targetName: 'carol' };

test('transfer progress in words', () => {
  assert.equal(describeTransfer({ ...base, phase: 'requesting' }), 'transferring bob to carol…');
  assert.equal(describeTransfer({ ...base, phase: 'accepted' }), 'bob accepted the transfer to carol…');
  assert.equal(describeTransfer({ ...base, phase: 'trying' }), 'bob is calling carol…');
  assert.equal(describeTransfer({ ...base, phase: 'ringing' }), 'carol is ringing…');
  assert.equal(describeTransfer({ ...base, phase: 'succeeded' }), 'transferred bob to carol');
});

test('transfer failures say why and that the call is still there', () => {
  const failed = (extra: object) => describeTransfer({ ...base, phase: 'failed', ...extra });
  assert.equal(
    failed({ failure: 'notify', statusCode: 486, reasonPhrase: 'Busy Here' }),
    'transfer failed: bob could not reach carol: carol is busy (you are still connected to bob)',
  );
  assert.equal(
    failed({ failure: 'notify', statusCode: 480 }),
    'transfer failed: bob could not reach carol: carol is offline (not registered) (you are still connected to bob)',
  );
  assert.equal(
    failed({ failure: 'refer-rejected', statusCode: 501, reasonPhrase: 'Not Implemented' }),
    "transfer failed: bob's phone does not support transfers (501 Not Implemented) (you are still connected to bob)",
  );
  assert.equal(
    failed({ failure: 'refer-rejected', statusCode: 403, reasonPhrase: 'Forbidden' }),
    'transfer failed: the server does not allow this transfer (403 Forbidden) (you are still connected to bob)',
  );
  assert.equal(
    failed({ failure: 'refer-rejected', statusCode: 603 }),
    'transfer failed: bob declined the transfer (you are still connected to bob)',
  );
  assert.equal(
    failed({ failure: 'refer-rejected', statusCode: null, cause: 'Request Timeout' }),
    'transfer failed: the server did not answer the transfer request (you are still connected to bob)',
  );
  assert.equal(
    failed({ failure: 'timeout' }),
    'transfer failed: no word from bob about calling carol (you are still connected to bob)',
  );
  assert.equal(describeTransferEnd('succeeded', 'bob', 'carol'), 'transferred bob to carol');
  assert.equal(describeTransferEnd('trying', 'bob', 'carol'), 'bob hung up during the transfer to carol');
});

test('keypad problems in words', () => {
  assert.equal(describeDtmfProblem('not-connected'), 'keypad tones cannot be sent: the call is not connected');
  assert.equal(describeDtmfProblem('bad-key', 'x'), '"x" is not a keypad key (0-9, * and # are)');
  assert.equal(describeDtmfProblem('held'), 'keypad tones cannot be sent while the call is on hold');
});

test('device choice: stored JSON read defensively', () => {
  assert.deepEqual(parseDeviceChoice(null), { microphone: '', camera: '', speaker: '' });
  assert.deepEqual(parseDeviceChoice('{"microphone":"m1","speaker":7,"x":"y"}'), {
    microphone: 'm1',
    camera: '',
    speaker: '',
  });
  assert.deepEqual(parseDeviceChoice('not json'), { microphone: '', camera: '', speaker: '' });
  assert.deepEqual(parseDeviceChoice('null'), { microphone: '', camera: '', speaker: '' });
});

test('device lists: pseudo-devices dropped, unlabelled ones named, duplicates once', () => {
  const lists = groupDevices([
    { kind: 'audioinput', deviceId: 'default', label: 'Default - Mic' },
    { kind: 'audioinput', deviceId: 'a1', label: 'USB Mic' },
    { kind: 'audioinput', deviceId: 'a2', label: '' },
    { kind: 'audioinput', deviceId: 'a2', label: '' },
    { kind: 'audiooutput', deviceId: 'communications', label: 'Comms' },
    { kind: 'audiooutput', deviceId: 'o1', label: 'Headphones' },
    { kind: 'videoinput', deviceId: '', label: '' },
  ]);
  assert.deepEqual(lists.microphone, [
    { id: 'a1', label: 'USB Mic' },
    { id: 'a2', label: 'Microphone 2' },
  ]);
  assert.deepEqual(lists.speaker, [{ id: 'o1', label: 'Headphones' }]);
  assert.deepEqual(lists.camera, []);
});

test('device manager remembers a choice and builds exact constraints', () => {
  const store = new Map<string, string>();
  const storage = {
    getItem: (k: string) => store.get(k) ?? null,
    setItem: (k: string, v: string) => void store.set(k, v),
  } as unknown as Storage;
  const devices = new DeviceManager(storage);
  assert.equal(devices.constraint('microphone'), true);
  let changes = 0;
  devices.events.on('change', () => changes++);
  devices.select('microphone', 'm1');
  devices.select('microphone', 'm1');
  assert.equal(changes, 1);
  assert.deepEqual(devices.constraint('microphone'), { deviceId: { exact: 'm1' } });
  assert.deepEqual(JSON.parse(store.get(DEVICES_KEY)!), { microphone: 'm1', camera: '', speaker: '' });
  assert.equal(new DeviceManager(storage).selected.microphone, 'm1');
});

test('level meter maths: dBFS -60..0 to 0..1, falls gently, rises at once', () => {
  assert.equal(levelFromRms(0), 0);
  assert.equal(levelFromRms(1), 1);
  assert.equal(levelFromRms(0.001), 0); // -60 dBFS
  assert.ok(Math.abs(levelFromRms(0.5 / Math.SQRT2) - 0.85) < 0.01); // the e2e tones: -9 dBFS
  assert.ok(Math.abs(rmsOf([1, -1, 1, -1]) - 1) < 1e-9);
  assert.equal(rmsOf([]), 0);
  assert.equal(smoothLevel(0.2, 0.8), 0.8);
  assert.ok(Math.abs(smoothLevel(0.8, 0) - 0.68) < 1e-9);
  assert.equal(smoothLevel(0.05, 0), 0);
});

function track(id: string, kind: 'audio' | 'video'): MediaStreamTrack {
  return { id, kind, readyState: 'live', label: id } as unknown as MediaStreamTrack;
}

function lineSnap(extra: Partial<LineSnapshot>): LineSnapshot {
  return {
    id: 'line-1',
    direction: 'outgoing',
    party: 'sip:bob@h',
    displayName: 'bob',
    state: 'active',
    phase: 'connected',
    role: 'call',
    createdAt: 0,
    answeredAt: 0,
    endedAt: null,
    muted: false,
    localHold: false,
    remoteHold: false,
    holdPending: false,
    remoteRinging: false,
    offersVideo: false,
    video: false,
    end: null,
    error: null,
    focusUri: null,
    remoteTracks: [],
    remoteTrackSources: new Map(),
    localStream: null,
    localAudioTrack: null,
    localVideoTrack: null,
    dtmfSent: '',
    dtmfReceived: '',
    dtmfError: null,
    transfer: null,
    ...extra,
  };
}

function entry(name: string, extra: Partial<RosterEntry> = {}): RosterEntry {
  return {
    entity: `sip:${name}@h`,
    displayText: name,
    status: 'connected',
    roles: [],
    media: [],
    speaking: false,
    mutedByFocus: false,
    ...extra,
  };
}

function roster(entries: RosterEntry[]): ConferenceRoster {
  return {
    entity: 'sip:conf-x@h',
    version: 1,
    deleted: false,
    subject: null,
    displayText: null,
    userCount: null,
    locked: null,
    active: true,
    entries,
  };
}

const self = { uri: 'sip:alice@h', name: 'alice' };

test('video tiles of a 1:1 call: the remote camera and our preview', () => {
  const tiles = videoTiles(
    lineSnap({
      remoteTracks: [track('ra', 'audio'), track('rv', 'video')],
      video: true,
      localVideoTrack: track('lv', 'video'),
    }),
    { self, roster: null },
  );
  assert.deepEqual(
    tiles.map((t) => [t.party, t.local, t.speaking]),
    [
      ['sip:bob@h', false, false],
      ['sip:alice@h', true, false],
    ],
  );
  assert.deepEqual(
    videoTiles(lineSnap({ state: 'ended', remoteTracks: [track('rv', 'video')] }), { self, roster: null }),
    [],
  );
});

test('conference tiles: matched by RFC 4575 label (msid stream id) or src-id, speaker from the roster', () => {
  const sources = new Map([
    ['v1', { streamId: 'leg-bob', mid: '2' }],
    ['v2', { streamId: 'leg-carol', mid: '3' }],
    ['v3', { streamId: 'leg-dave', mid: '4' }],
  ]);
  const line = lineSnap({
    role: 'conference',
    party: 'sip:conf-x@h',
    remoteTracks: [track('v1', 'video'), track('v2', 'video'), track('v3', 'video')],
    remoteTrackSources: sources,
  });
  const r = roster([
    entry('alice', { speaking: false }),
    entry('bob', { media: [{ id: 'v', type: 'video', status: 'sendrecv', label: 'leg-bob', srcId: null }] }),
    entry('carol', {
      speaking: true,
      media: [{ id: 'v', type: 'video', status: 'sendrecv', label: null, srcId: '1234' }],
    }),
  ]);
  const tiles = videoTiles(line, { self, roster: r, ssrcs: new Map([['v2', 1234]]) });
  assert.deepEqual(
    tiles.map((t) => [t.party, t.name, t.speaking]),
    [
      ['sip:bob@h', 'bob', false],
      ['sip:carol@h', 'carol', true],
      ['sip:conf-x@h', 'Participant', false],
    ],
  );
});

test('conference tiles without labels: the loudest stream is outlined while someone else speaks', () => {
  const sources = new Map([
    ['v1', { streamId: 's1', mid: '2' }],
    ['v2', { streamId: 's2', mid: '3' }],
  ]);
  const line = lineSnap({
    role: 'conference',
    remoteTracks: [track('v1', 'video'), track('v2', 'video')],
    remoteTrackSources: sources,
  });
  const speaking = roster([entry('bob', { speaking: true }), entry('alice')]);
  assert.deepEqual(
    videoTiles(line, { self, roster: speaking, loudestStreamId: 's2' }).map((t) => t.speaking),
    [false, true],
  );
  // We are the speaker: nothing remote is outlined.
  const weSpeak = roster([entry('bob'), entry('alice', { speaking: true })]);
  assert.deepEqual(
    videoTiles(line, { self, roster: weSpeak, loudestStreamId: 's2' }).map((t) => t.speaking),
    [false, false],
  );
});
