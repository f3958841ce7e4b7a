import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readXml, XML_NAMESPACE } from '../src/xml-reader.ts';
import { ConferenceInfoParseError } from '../src/index.ts';

function refused(xml: string, code: ConferenceInfoParseError['code']): void {
  assert.throws(
    () => readXml(xml),
    (e: unknown) => e instanceof ConferenceInfoParseError && e.code === code,
    `expected ${code} for ${JSON.stringify(xml.slice(0, 80))}`,
  );
}

test('resolves default and prefixed namespaces, inherits scope, leaves unprefixed attributes in no namespace', () => {
  const root = readXml(
    `<?xml version="1.0" encoding="utf-8"?>\n<!-- c --><?pi x?><a:r xmlns:a="urn:a" xmlns="urn:d" a:x="1" y='2'><c><a:d/></c><e xmlns=""/></a:r>`,
  );
  assert.equal(root.namespace, 'urn:a');
  assert.equal(root.localName, 'r');
  assert.deepEqual(root.attributes, [
    { namespace: 'urn:a', localName: 'x', value: '1' },
    { namespace: '', localName: 'y', value: '2' },
  ]);
  const [c, e] = root.children;
  assert.equal(c?.namespace, 'urn:d');
  assert.equal(c?.children[0]?.namespace, 'urn:a');
  assert.equal(e?.namespace, '');
});

test('decodes predefined entities, character references, CDATA; normalises newlines and attribute whitespace', () => {
  const root = readXml(
    `<r a="x&#10;y\tz&amp;&lt;&quot;">a &amp; b &lt;c&gt; &#233;&#x1F600; <![CDATA[<raw & stuff>]]>\r\nend<!-- skip --></r>`,
  );
  assert.equal(root.text, 'a & b <c> é😀 <raw & stuff>\nend');
  assert.equal(root.attributes[0]?.value, 'x\ny z&<"');
});

test('the xml prefix is predeclared', () => {
  const root = readXml('<r xml:lang="en"/>');
  assert.deepEqual(root.attributes[0], { namespace: XML_NAMESPACE, localName: 'lang', value: 'en' });
});

test('accepts a byte order mark and trailing comments/whitespace', () => {
  assert.equal(readXml('\uFEFF<r/>\n<!-- end -->\n').localName, 'r');
});

test('refuses malformed documents with typed errors', () => {
  const cases: [string, ConferenceInfoParseError['code']][] = [
    ['', 'malformed'],
    ['just text', 'malformed'],
    ['<r>', 'malformed'],
    ['<r></s>', 'malformed'],
    ['<r><a></r></a>', 'malformed'],
    ['<r/><r/>', 'malformed'],
    ['<r/>text', 'malformed'],
    ['<r a=1/>', 'malformed'],
    ['<r a="1" a="2"/>', 'malformed'],
    ['<r xmlns:p="urn:x" xmlns:q="urn:x" p:a="1" q:a="2"/>', 'malformed'],
    ['<r a="1"b="2"/>', 'malformed'],
    ['<r a="<"/>', 'malformed'],
    ['<p:r/>', 'malformed'],
    ['<r xmlns:p=""/>', 'malformed'],
    ['<r>&amp</r>', 'malformed'],
    ['<r>&#0;</r>', 'malformed'],
    ['<r>&#xD800;</r>', 'malformed'],
    ['<r>&#99999999999;</r>', 'malformed'],
    ['<r>&nbsp;</r>', 'undefined-entity'],
    ['<r a="&foo;"/>', 'undefined-entity'],
    ['<r>\u0001</r>', 'malformed'],
    ['<r>\uD800</r>', 'malformed'],
    ['<r>]]></r>', 'malformed'],
    ['<r><!-- open </r>', 'malformed'],
    ['<r><![CDATA[ open </r>', 'malformed'],
    ['<r><?xml version="1.0"?></r>', 'malformed'],
    ['<!DOCTYPE r><r/>', 'doctype-forbidden'],
    ['<r><!DOCTYPE r></r>', 'doctype-forbidden'],
    ['<?xml version="1.0" encoding="ISO-8859-1"?><r/>', 'bad-encoding'],
    ['<?xml encoding="UTF-8"?><r/>', 'malformed'],
  ];
  for (const [xml, code] of cases) refused(xml, code);
});

test('limits: length, depth, element count, attributes per element', () => {
  assert.throws(() => readXml('<r/>', { maxLength: 3, maxDepth: 8, maxElements: 10, maxAttributes: 4 }), {
    code: 'too-large',
  });
  assert.throws(
    () => readXml('<a><a><a/></a></a>', { maxLength: 100, maxDepth: 2, maxElements: 10, maxAttributes: 4 }),
    { code: 'too-deep' },
  );
  assert.equal(
    readXml('<a><a/></a>', { maxLength: 100, maxDepth: 2, maxElements: 10, maxAttributes: 4 }).children.length,
    1,
  );
  assert.throws(
    () => readXml('<r><a/><a/><a/></r>', { maxLength: 100, maxDepth: 8, maxElements: 3, maxAttributes: 4 }),
    { code: 'too-many-nodes' },
  );
  assert.throws(
    () => readXml('<r a="1" b="2" c="3"/>', { maxLength: 100, maxDepth: 8, maxElements: 3, maxAttributes: 2 }),
    { code: 'too-many-nodes' },
  );
});
