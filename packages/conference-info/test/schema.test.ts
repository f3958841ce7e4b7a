/**
 * The schema check used by every test file is real: it fails on invalid documents. (RFC 4575 section 5
 * schema in schema/conference-info.xsd, Conclave extension in schema/conclave-conference-info-ext.xsd.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serialize } from '../src/index.ts';
import { CONCLAVE_SCHEMA, RFC4575_SCHEMA, validateDocuments, validateWithSchema } from './support/xmllint.ts';
import { richDocument } from './support/fixtures.ts';

const valid = serialize(richDocument(1));

test('a serialised document validates against both schemas', () => {
  assert.deepEqual(validateDocuments([valid]), [{ valid: true, errors: [] }]);
});

test('invalid documents fail validation, each with an error naming the problem', () => {
  const mutations: [string, (xml: string) => string, RegExp][] = [
    ['unknown endpoint status', (x) => x.replace('<status>connected</status>', '<status>asleep</status>'), /asleep/],
    [
      'children out of schema order',
      (x) => x.replace(/(<status>connected<\/status>)\s*(<joining-method>dialed-in<\/joining-method>)/, '$2$1'),
      /status/,
    ],
    ['root without entity', (x) => x.replace(' entity="sip:conf-abc@example.com"', ''), /entity/],
    ['bad root state', (x) => x.replace('state="full"', 'state="complete"'), /complete/],
    ['version not an unsignedInt', (x) => x.replace('version="1"', 'version="-3"'), /-3/],
    [
      'element not in RFC 4575',
      (x) => x.replace('<locked>false</locked>', '<locked>false</locked><frozen>true</frozen>'),
      /frozen/,
    ],
    ['media without id', (x) => x.replace('<media id="2">', '<media>'), /id/],
    ['bad media status', (x) => x.replace('<status>recvonly</status>', '<status>receive</status>'), /receive/],
    ['bad dateTime', (x) => x.replace('2026-01-15T09:59:00Z', 'yesterday'), /yesterday/],
    ['user-count not a number', (x) => x.replace('<user-count>2</user-count>', '<user-count>two</user-count>'), /two/],
    ['empty roles', (x) => x.replace(/<roles>\s*<entry>participant<\/entry>\s*<\/roles>/, '<roles></roles>'), /roles/],
    [
      'wrong namespace',
      (x) => x.replace('urn:ietf:params:xml:ns:conference-info"', 'urn:example:conference-info"'),
      /conference-info/,
    ],
  ];
  const docs = mutations.map(([name, mutate]) => {
    const doc = mutate(valid);
    assert.notEqual(doc, valid, `mutation "${name}" did not apply`);
    return doc;
  });
  const results = validateWithSchema(docs, RFC4575_SCHEMA);
  mutations.forEach(([name, , pattern], i) => {
    const r = results[i];
    assert.equal(r?.valid, false, `"${name}" was accepted`);
    assert.match(r?.errors.join('\n') ?? '', pattern, name);
  });
});

test('the extension schema checks declared Conclave elements; the RFC schema alone skips them (lax)', () => {
  const badExtension = valid.replace('<cx:speaking>true</cx:speaking>', '<cx:speaking>loudly</cx:speaking>');
  const unknownExtension = valid.replace('<cx:speaking>true</cx:speaking>', '<cx:whispering>true</cx:whispering>');
  const [rfcBad] = validateWithSchema([badExtension], RFC4575_SCHEMA);
  const [extBad, extUnknown] = validateWithSchema([badExtension, unknownExtension], CONCLAVE_SCHEMA);
  assert.equal(rfcBad?.valid, true);
  assert.equal(extBad?.valid, false);
  assert.match(extBad?.errors.join('\n') ?? '', /loudly/);
  // Undeclared elements are skipped even in our namespace (lax wildcard): typos are caught by round trips.
  assert.equal(extUnknown?.valid, true);
});

test('not well-formed input fails validation', () => {
  const [r] = validateDocuments([valid.replace('</users>', '')]);
  assert.equal(r?.valid, false);
});
