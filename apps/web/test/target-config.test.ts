import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeTarget, userPart } from '../src/phone/target.ts';
import { DEFAULT_CONFIG, loadConfig, parseConfig } from '../src/phone/config.ts';
import { accountOf } from '../src/phone/agent.ts';

test('dial targets', () => {
  assert.deepEqual(normalizeTarget('bob', '127.0.0.1'), { ok: true, uri: 'sip:bob@127.0.0.1' });
  assert.deepEqual(normalizeTarget('  bob ', '127.0.0.1'), { ok: true, uri: 'sip:bob@127.0.0.1' });
  assert.deepEqual(normalizeTarget('bob@Example.ORG', '127.0.0.1'), { ok: true, uri: 'sip:bob@example.org' });
  assert.deepEqual(normalizeTarget('sip:conference@127.0.0.1', 'x'), { ok: true, uri: 'sip:conference@127.0.0.1' });
  assert.deepEqual(normalizeTarget('SIP:bob@h;transport=ws', 'x'), { ok: true, uri: 'sip:bob@h;transport=ws' });
  assert.deepEqual(normalizeTarget('+4930123', 'h'), { ok: true, uri: 'sip:+4930123@h' });
  for (const bad of ['', '   ', 'bob smith', 'tel:+123', 'bob@', 'b<ob', 'sip:']) {
    assert.equal(normalizeTarget(bad, 'h').ok, false, bad);
  }
});

test('userPart', () => {
  assert.equal(userPart('sip:bob@127.0.0.1;transport=ws'), 'bob');
  assert.equal(userPart('sip:conf-1;x@h'), 'conf-1');
  assert.equal(userPart('sip:host.only'), 'host.only');
});

test('accountOf', () => {
  assert.deepEqual(accountOf('alice', '127.0.0.1'), { user: 'alice', domain: '127.0.0.1', uri: 'sip:alice@127.0.0.1' });
  assert.deepEqual(accountOf('alice@example.org', '127.0.0.1'), {
    user: 'alice',
    domain: 'example.org',
    uri: 'sip:alice@example.org',
  });
});

test('config: partial and malformed values fall back to defaults', () => {
  assert.deepEqual(parseConfig({ wsUri: 'wss://x.example/ws', domain: 'x.example' }), {
    ...DEFAULT_CONFIG,
    wsUri: 'wss://x.example/ws',
    domain: 'x.example',
  });
  assert.deepEqual(
    parseConfig({ wsUri: 'http://nope', domain: 42, conferenceFactoryUri: 'conference' }),
    DEFAULT_CONFIG,
  );
  assert.deepEqual(parseConfig(null), DEFAULT_CONFIG);
});

test('loadConfig never throws: 404, SPA fallback HTML, network error', async () => {
  const respond = (status: number, body: string) => () => Promise.resolve(new Response(body, { status }));
  assert.equal((await loadConfig('/config.json', respond(404, 'no'))).warning?.includes('404'), true);
  const html = await loadConfig('/config.json', respond(200, '<!doctype html><html></html>'));
  assert.deepEqual(html.config, DEFAULT_CONFIG);
  assert.match(html.warning ?? '', /not JSON/);
  const down = await loadConfig('/config.json', () => Promise.reject(new TypeError('fetch failed')));
  assert.deepEqual(down.config, DEFAULT_CONFIG);
  const ok = await loadConfig('/config.json', respond(200, JSON.stringify({ domain: 'd.example' })));
  assert.equal(ok.config.domain, 'd.example');
  assert.equal(ok.warning, null);
});
