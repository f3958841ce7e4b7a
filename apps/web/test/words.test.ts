import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  describeCallEnd,
  describeRegistrationFailure,
  describeStatus,
  warningText,
  type AgentStatus,
  type CallEnd,
} from '../src/phone/words.ts';

const out = { direction: 'outgoing', partyName: 'bob', conference: false } as const;

function failed(statusCode: number | null, extra: Partial<CallEnd> = {}): CallEnd {
  return {
    originator: 'remote',
    cause: 'SIP Failure Code',
    statusCode,
    reasonPhrase: null,
    warning: null,
    failed: true,
    ...extra,
  };
}

test('final responses to an INVITE become sentences', () => {
  assert.equal(describeCallEnd(failed(404), out).text, 'bob does not exist (no such user)');
  assert.equal(describeCallEnd(failed(480), out).text, 'bob is offline (not registered)');
  assert.equal(describeCallEnd(failed(486), out).text, 'bob is busy');
  assert.equal(describeCallEnd(failed(600), out).text, 'bob is busy');
  assert.equal(describeCallEnd(failed(603), out).text, 'bob declined the call');
  assert.equal(describeCallEnd(failed(487), out).text, 'cancelled');
  assert.equal(
    describeCallEnd(failed(503, { reasonPhrase: 'Service Unavailable' }), out).text,
    'server error: 503 Service Unavailable',
  );
});

test('488 shows the Warning text', () => {
  const end = failed(488, {
    reasonPhrase: 'Not Acceptable Here',
    warning: '399 conclave "no common audio codec (offered: PCMU)"',
  });
  const d = describeCallEnd(end, out);
  assert.equal(d.text, 'media could not be negotiated: no common audio codec (offered: PCMU)');
  assert.equal(d.isError, true);
});

test('403 on a conference means locked', () => {
  assert.equal(
    describeCallEnd(failed(403, { reasonPhrase: 'Forbidden' }), { ...out, conference: true }).text,
    'the conference is locked',
  );
  assert.equal(
    describeCallEnd(failed(403, { reasonPhrase: 'Conference Locked' }), out).text,
    'the conference is locked',
  );
});

test('local cancel and remote cancel', () => {
  assert.deepEqual(describeCallEnd({ ...failed(null), originator: 'local', cause: 'Canceled' }, out), {
    text: 'cancelled',
    isError: false,
  });
  assert.equal(
    describeCallEnd({ ...failed(487), cause: 'Canceled' }, { ...out, direction: 'incoming' }).text,
    'missed call from bob',
  );
});

test('established calls: who hung up, transport loss', () => {
  const bye = {
    originator: 'remote',
    cause: 'Terminated',
    statusCode: null,
    reasonPhrase: null,
    warning: null,
    failed: false,
  } as const;
  assert.deepEqual(describeCallEnd(bye, out), { text: 'bob hung up', isError: false });
  assert.equal(describeCallEnd({ ...bye, originator: 'local' }, out).text, 'you hung up');
  assert.equal(describeCallEnd({ ...bye, cause: 'RTP Timeout' }, out).isError, true);
});

test('transport failures before an answer', () => {
  assert.equal(
    describeCallEnd({ ...failed(null), originator: 'system', cause: 'Connection Error' }, out).text,
    'call failed: the server is unreachable',
  );
});

test('warningText handles several and escaped warnings', () => {
  assert.equal(warningText('399 a "one", 399 b "two \\"quoted\\""'), 'one; two "quoted"');
  assert.equal(warningText('garbage'), 'garbage');
  assert.equal(warningText(null), null);
  assert.equal(warningText(''), null);
});

test('REGISTER failures', () => {
  assert.equal(describeRegistrationFailure(401, null, null), 'registration failed: wrong user name or password');
  assert.equal(describeRegistrationFailure(403, null, null), 'registration failed: wrong user name or password');
  assert.equal(
    describeRegistrationFailure(null, 'Authentication Error', null),
    'registration failed: wrong user name or password',
  );
  assert.match(describeRegistrationFailure(404, null, null), /^registration failed: wrong user name or password/);
  assert.equal(describeRegistrationFailure(500, null, 'Oops'), 'registration failed: 500 Oops');
});

test('status text contains "registered" only when registered', () => {
  const base: AgentStatus = {
    connection: 'connected',
    registration: 'registered',
    failure: null,
    aor: 'alice@127.0.0.1',
    attempts: 0,
    everConnected: true,
  };
  const ws = 'ws://127.0.0.1:8088';
  assert.equal(describeStatus(base, ws), 'registered as alice@127.0.0.1');
  const others: AgentStatus[] = [
    { ...base, registration: 'none', connection: 'offline' },
    { ...base, registration: 'none', connection: 'connecting', everConnected: false },
    { ...base, registration: 'none', connection: 'reconnecting' },
    { ...base, registration: 'none', connection: 'reconnecting', everConnected: false, attempts: 3 },
    { ...base, registration: 'registering' },
    { ...base, registration: 'failed', failure: describeRegistrationFailure(401, null, null) },
  ];
  for (const s of others) assert.doesNotMatch(describeStatus(s, ws), /registered/, JSON.stringify(s));
  assert.match(describeStatus(others[1]!, ws), /connecting/);
  assert.match(describeStatus(others[2]!, ws), /reconnecting…/);
  assert.match(describeStatus(others[3]!, ws), /server unreachable.*reconnecting…/);
});
