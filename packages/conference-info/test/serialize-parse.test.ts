import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CONFERENCE_INFO_NAMESPACE,
  ConferenceInfoParseError,
  ConferenceInfoSerializeError,
  parse,
  serialize,
  type ConferenceInfo,
  type SerializeOptions,
} from '../src/index.ts';
import { SchemaValidator } from './support/xmllint.ts';
import { CONF, endpoint, richDocument, user } from './support/fixtures.ts';

const validator = new SchemaValidator();
const ser = (info: ConferenceInfo, options?: SerializeOptions): string => validator.record(serialize(info, options));

test('round trip of a document using every modelled element', () => {
  const doc = richDocument(7);
  const xml = ser(doc);
  assert.deepEqual(parse(xml), doc);
  assert.match(
    xml,
    /^<\?xml version="1.0" encoding="UTF-8"\?>\n<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" xmlns:cx="urn:conclave:params:xml:ns:conference-info-ext" entity="sip:conf-abc@example.com" state="full" version="7">/,
  );
  // Compact output parses to the same model.
  const compact = ser(doc, { pretty: false, declaration: false });
  assert.ok(!compact.includes('\n  <'));
  assert.deepEqual(parse(compact), doc);
});

test('round trip of a minimal document and of an empty users element', () => {
  const minimal: ConferenceInfo = { entity: CONF, state: 'full', version: 0 };
  assert.deepEqual(parse(ser(minimal)), minimal);
  const empty: ConferenceInfo = { entity: CONF, state: 'full', version: 4294967295, users: { entries: [] } };
  const xml = ser(empty);
  assert.match(xml, /<users\/>/);
  assert.deepEqual(parse(xml), empty);
});

test('round trip of a partial document with nested states', () => {
  const doc: ConferenceInfo = {
    entity: CONF,
    state: 'partial',
    version: 12,
    conferenceState: { userCount: 1 },
    users: {
      state: 'partial',
      entries: [
        {
          entity: 'sip:alice@example.com',
          state: 'partial',
          endpoints: [{ entity: 'a1', state: 'partial', status: 'on-hold', media: [] }],
        },
        { entity: 'sip:bob@example.com', state: 'deleted', endpoints: [] },
        user('sip:carol@example.com', { state: 'full' }),
      ],
    },
  };
  const xml = ser(doc);
  assert.match(xml, /<user entity="sip:bob@example.com" state="deleted"\/>/);
  assert.deepEqual(parse(xml), doc);
});

test('escapes markup and quotes, keeps whitespace and non-ASCII text exactly', () => {
  const nasty = `<script>alert("x")</script> & 'quotes' ]]> \t tab\r\nCRLF  ünïcødé 😀`;
  const doc: ConferenceInfo = {
    entity: CONF,
    state: 'full',
    version: 1,
    description: { subject: nasty, displayText: '  padded  ' },
    users: {
      entries: [
        user('sip:x@example.com', {
          displayText: nasty,
          endpoints: [endpoint('ep "1" <&>\t\n', { displayText: nasty })],
        }),
      ],
    },
  };
  const xml = ser(doc);
  assert.ok(!xml.includes('<script>'));
  assert.deepEqual(parse(xml), doc);
  // And the bytes are UTF-8: parse accepts them as a Uint8Array too.
  assert.deepEqual(parse(new TextEncoder().encode(xml)), doc);
});

test('characters XML cannot carry are replaced, never thrown on', () => {
  const doc: ConferenceInfo = {
    entity: CONF,
    state: 'full',
    version: 1,
    description: { subject: 'a\u0000b\u001bc\uD800d\uFFFEe' },
  };
  const parsed = parse(ser(doc));
  assert.equal(parsed.description?.subject, 'a\uFFFDb\uFFFDc\uFFFDd\uFFFDe');
});

test('URIs that strict anyURI validators refuse are percent-encoded so the document stays valid', () => {
  const entities = [
    'sip:alice@[2001:db8::1]:5060',
    'sip:a%zz@x',
    'sip:a b@x',
    'sip:a@b#c#d',
    '::weird',
    'sip:ünï@x',
    'sip:a|b^{}@x',
    'sip:"quoted"@x',
  ];
  for (const entity of entities) {
    const doc: ConferenceInfo = { entity: CONF, state: 'full', version: 1, users: { entries: [user(entity)] } };
    ser(doc);
  }
  const parsed = parse(ser({ entity: 'sip:conf@[::1]', state: 'full', version: 1 }));
  assert.equal(parsed.entity, 'sip:conf@%5B::1%5D');
});

test('random URI-like strings in every anyURI position still give schema-valid documents', () => {
  let seed = 99;
  const rnd = (): number => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296;
  const parts = [
    'sip:',
    'https://',
    '//',
    '/',
    ':',
    '@',
    '[',
    ']',
    '::1',
    '%',
    '%2F',
    '%z',
    '#',
    '?',
    ';',
    '=',
    'a',
    'b.example.com',
    '5060',
    ' ',
    'é',
    '|',
    '<',
    '"',
    '\t',
    '+',
    '~',
    '.',
    '-',
    'x:y',
  ];
  const randomUri = (): string =>
    Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => parts[Math.floor(rnd() * parts.length)]).join('');
  for (let i = 0; i < 600; i++) {
    const uri = randomUri();
    ser({
      entity: uri.trim() === '' ? 'sip:c@x' : uri,
      state: 'full',
      version: i,
      hostInfo: {
        webPage: randomUri(),
        uris: { entries: [{ uri: randomUri() || 'x', modified: { by: randomUri() } }] },
      },
      users: { entries: [user(randomUri() || 'sip:u@x', { cascadedFocus: randomUri() })] },
    });
  }
});

test('parses documents written by other implementations: prefixes, foreign extensions, lenient values', () => {
  const xml = `<?xml version="1.0"?>
<ci:conference-info xmlns:ci="${CONFERENCE_INFO_NAMESPACE}" xmlns:ms="http://schemas.microsoft.com/rtc/2005/08/confinfoextensions"
    entity="sips:conf233@example.com" state="full" version=" 1 " ms:foo="bar">
  <ci:conference-description>
    <ci:subject>Agenda: status of the project</ci:subject>
    <ci:maximum-user-count>not a number</ci:maximum-user-count>
    <ms:whatever><ci:subject>ignored, foreign parent</ci:subject></ms:whatever>
  </ci:conference-description>
  <ci:conference-state><ci:user-count>33</ci:user-count><ci:active> 1 </ci:active><ci:locked>maybe</ci:locked></ci:conference-state>
  <ci:users>
    <ci:user entity="sip:bob@example.com" state="full">
      <ci:display-text>Bob Hoskins</ci:display-text>
      <ci:endpoint entity="sip:bob@pc33.example.com">
        <ci:display-text>Bob's Laptop</ci:display-text>
        <ci:status>disconnecting-ish</ci:status>
        <ci:media id="1"><ci:type>audio</ci:type><ci:status>sendrecv</ci:status></ci:media>
        <ci:media><ci:type>no id: skipped</ci:type></ci:media>
        <ms:extension/>
      </ci:endpoint>
      <ci:endpoint><ci:status>connected</ci:status></ci:endpoint>
    </ci:user>
    <ci:user><ci:display-text>no entity: skipped</ci:display-text></ci:user>
  </ci:users>
  <ci:sidebars-by-ref><ci:entry><ci:uri>sip:sidebar@example.com</ci:uri></ci:entry></ci:sidebars-by-ref>
</ci:conference-info>`;
  assert.deepEqual(parse(xml), {
    entity: 'sips:conf233@example.com',
    state: 'full',
    version: 1,
    description: { subject: 'Agenda: status of the project' },
    conferenceState: { userCount: 33, active: true },
    users: {
      entries: [
        {
          entity: 'sip:bob@example.com',
          state: 'full',
          displayText: 'Bob Hoskins',
          endpoints: [
            {
              entity: 'sip:bob@pc33.example.com',
              displayText: "Bob's Laptop",
              media: [{ id: '1', type: 'audio', status: 'sendrecv' }],
            },
          ],
        },
      ],
    },
  });
});

test('state defaults to full when the root has no state attribute', () => {
  assert.equal(
    parse(`<conference-info xmlns="${CONFERENCE_INFO_NAMESPACE}" entity="sip:c@x" version="3"/>`).state,
    'full',
  );
});

test('refuses wrong roots and bad envelopes with typed errors', () => {
  const cases: [string, ConferenceInfoParseError['code']][] = [
    ['<conference-info entity="sip:c@x" version="1"/>', 'wrong-root'],
    [`<users xmlns="${CONFERENCE_INFO_NAMESPACE}"/>`, 'wrong-root'],
    [`<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@x"/>`, 'wrong-root'],
    [`<conference-info xmlns="${CONFERENCE_INFO_NAMESPACE}" version="1"/>`, 'missing-entity'],
    [`<conference-info xmlns="${CONFERENCE_INFO_NAMESPACE}" entity=" " version="1"/>`, 'missing-entity'],
    [`<conference-info xmlns="${CONFERENCE_INFO_NAMESPACE}" entity="sip:c@x"/>`, 'bad-version'],
    [`<conference-info xmlns="${CONFERENCE_INFO_NAMESPACE}" entity="sip:c@x" version="-1"/>`, 'bad-version'],
    [`<conference-info xmlns="${CONFERENCE_INFO_NAMESPACE}" entity="sip:c@x" version="1.5"/>`, 'bad-version'],
    [`<conference-info xmlns="${CONFERENCE_INFO_NAMESPACE}" entity="sip:c@x" version="4294967296"/>`, 'bad-version'],
    [`<conference-info xmlns="${CONFERENCE_INFO_NAMESPACE}" entity="sip:c@x" version="0x10"/>`, 'bad-version'],
    [`<conference-info xmlns="${CONFERENCE_INFO_NAMESPACE}" entity="sip:c@x" version="1" state="gone"/>`, 'bad-state'],
    ['<conference-info', 'malformed'],
  ];
  for (const [xml, code] of cases) {
    assert.throws(
      () => parse(xml),
      (e: unknown) => e instanceof ConferenceInfoParseError && e.code === code,
      `${code}: ${xml}`,
    );
  }
});

test('refuses bodies that are not UTF-8', () => {
  const latin1 = Uint8Array.from(
    [
      ...'<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:c@x" version="1"><conference-description><subject>',
    ]
      .map((c) => c.charCodeAt(0))
      .concat([0xe9, 0x3c]),
  );
  assert.throws(() => parse(latin1), { name: 'ConferenceInfoParseError', code: 'bad-encoding' });
});

test('anything unexpected is still a ConferenceInfoParseError', () => {
  assert.throws(
    () => parse(42 as unknown as string),
    (e: unknown) => e instanceof ConferenceInfoParseError,
  );
  assert.throws(
    () => parse(null as unknown as string),
    (e: unknown) => e instanceof ConferenceInfoParseError,
  );
});

test('serialize refuses unusable keys and numbers with the path of the problem', () => {
  const base = richDocument(1);
  const cases: [ConferenceInfo, string][] = [
    [{ ...base, entity: '' }, 'entity'],
    [{ ...base, version: -1 }, 'version'],
    [{ ...base, version: 2 ** 32 }, 'version'],
    [{ ...base, version: 1.5 }, 'version'],
    [{ ...base, conferenceState: { userCount: NaN } }, 'conferenceState.userCount'],
    [{ ...base, users: { entries: [{ entity: '', endpoints: [] }] } }, 'users.entries[0].entity'],
    [
      { ...base, users: { entries: [user('sip:a@x', { endpoints: [endpoint('e', { media: [{ id: '' }] })] })] } },
      'users.entries[0].endpoints[0].media[0].id',
    ],
    [
      {
        ...base,
        users: { entries: [user('sip:a@x', { endpoints: [endpoint('e', { status: 'sleeping' as 'connected' })] })] },
      },
      'users.entries[0].endpoints[0].status',
    ],
    [
      {
        ...base,
        users: { entries: [user('sip:a@x', { endpoints: [endpoint('e', { joiningInfo: { when: 'yesterday' } })] })] },
      },
      'users.entries[0].endpoints[0].joiningInfo.when',
    ],
    [{ ...base, state: 'half' as 'full' }, 'state'],
  ];
  for (const [doc, path] of cases) {
    assert.throws(
      () => serialize(doc),
      (e: unknown) => e instanceof ConferenceInfoSerializeError && e.path === path,
      path,
    );
  }
});

test('every document serialised in this file is valid against the RFC 4575 schema and the extension schema', (t) => {
  const count = validator.pending;
  assert.ok(count >= 600, `only ${count} documents recorded`);
  assert.deepEqual(validator.validateRecorded(), []);
  t.diagnostic(`${count} documents validated with xmllint`);
});
