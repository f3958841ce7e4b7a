import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DigestAuthenticator, computeDigestResponse, parseDigestParams, type DigestAlgorithm } from '../src/index.ts';

const passwords: Record<string, string> = { alice: 'alice-secret' };
const passwordOf = (u: string) => passwords[u];

function answer(challenge: string, opts: { password?: string; nc?: string; method?: string } = {}): string {
  const c = parseDigestParams(challenge)!;
  const algorithm = c['algorithm'] as DigestAlgorithm;
  const nc = opts.nc ?? '00000001';
  const uri = 'sip:127.0.0.1';
  const response = computeDigestResponse({
    algorithm,
    username: 'alice',
    realm: c['realm']!,
    password: opts.password ?? 'alice-secret',
    method: opts.method ?? 'REGISTER',
    uri,
    nonce: c['nonce']!,
    qop: 'auth',
    nc,
    cnonce: 'abc',
  });
  return `Digest username="alice", realm="${c['realm']}", nonce="${c['nonce']}", uri="${uri}", response="${response}", algorithm=${algorithm}, qop=auth, nc=${nc}, cnonce="abc"`;
}

test('RFC 2617 §3.5 example response (MD5, qop=auth) is reproduced', () => {
  const r = computeDigestResponse({
    algorithm: 'MD5',
    username: 'Mufasa',
    realm: 'testrealm@host.com',
    password: 'Circle Of Life',
    method: 'GET',
    uri: '/dir/index.html',
    nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
    qop: 'auth',
    nc: '00000001',
    cnonce: '0a4f113b',
  });
  assert.equal(r, '6629fae49393a05397450978507c4ef1');
});

test('RFC 7616 §3.9.1 example response (SHA-256) is reproduced', () => {
  const r = computeDigestResponse({
    algorithm: 'SHA-256',
    username: 'Mufasa',
    realm: 'http-auth@example.org',
    password: 'Circle of Life',
    method: 'GET',
    uri: '/dir/index.html',
    nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
    qop: 'auth',
    nc: '00000001',
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
  });
  assert.equal(r, '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
});

test('SHA-256 and MD5 answers are both accepted; SHA-256 is preferred except for MD5-only agents', () => {
  const auth = new DigestAuthenticator({ realm: '127.0.0.1' });
  const first = auth.challenge({ userAgent: 'Linphone/5.1' });
  const second = auth.challenge({ userAgent: 'JsSIP 3.13.8' });
  assert.match(first, /algorithm=SHA-256/);
  assert.match(second, /algorithm=MD5/);
  for (const c of [first, second]) {
    const r = auth.verify({ credentials: answer(c), method: 'REGISTER', passwordOf });
    assert.deepEqual(r, { ok: true, username: 'alice', algorithm: parseDigestParams(c)!['algorithm'] });
  }
});

test('wrong password, unknown user, forged nonce, replayed nc and malformed input are refused', () => {
  const auth = new DigestAuthenticator({ realm: '127.0.0.1' });
  const c = auth.challenge();
  assert.equal(auth.verify({ credentials: answer(c, { password: 'nope' }), method: 'REGISTER', passwordOf }).ok, false);
  assert.deepEqual(
    auth.verify({
      credentials: answer(c).replace('"alice"', '"mallory"'),
      method: 'REGISTER',
      passwordOf: () => undefined,
    }),
    { ok: false, reason: 'unknown-user', username: 'mallory' },
  );
  const forged = answer(c).replace(/nonce="([^"]+)"/, (_m, n: string) => `nonce="${n.slice(0, -2)}xx"`);
  assert.equal(
    (auth.verify({ credentials: forged, method: 'REGISTER', passwordOf }) as { reason: string }).reason,
    'bad-nonce',
  );
  assert.equal(auth.verify({ credentials: answer(c), method: 'REGISTER', passwordOf }).ok, true);
  assert.equal(
    (auth.verify({ credentials: answer(c), method: 'REGISTER', passwordOf }) as { reason: string }).reason,
    'replayed-nonce-count',
  );
  assert.equal(auth.verify({ credentials: answer(c, { nc: '00000002' }), method: 'REGISTER', passwordOf }).ok, true);
  assert.equal(
    (
      auth.verify({ credentials: answer(c, { method: 'INVITE' }), method: 'REGISTER', passwordOf }) as {
        reason: string;
      }
    ).reason,
    'wrong-password',
  );
  // Another scheme is not malformed Digest: it is no Digest credentials at all (challenged, see below).
  assert.equal(
    (auth.verify({ credentials: 'Basic YWxpY2U6eA==', method: 'REGISTER', passwordOf }) as { reason: string }).reason,
    'missing',
  );
  assert.equal(
    (auth.verify({ credentials: 'Digest username="a", ,,', method: 'REGISTER', passwordOf }) as { reason: string })
      .reason,
    'malformed',
  );
  assert.equal(
    (auth.verify({ credentials: undefined, method: 'REGISTER', passwordOf }) as { reason: string }).reason,
    'missing',
  );
});

test('an expired nonce with the right password is stale (re-challenge), not a failure', () => {
  let now = 1_000_000;
  const auth = new DigestAuthenticator({ realm: 'r', nonceLifetimeMs: 1000, now: () => now });
  const c = auth.challenge();
  now += 5000;
  assert.equal(
    (auth.verify({ credentials: answer(c), method: 'REGISTER', passwordOf }) as { reason: string }).reason,
    'stale-nonce',
  );
  assert.match(auth.challenge({ stale: true }), /stale=true/);
});

test('credentials in an unknown scheme count as no credentials (RFC 4475 §3.3.7 regaut01): challenge, not 400', () => {
  const auth = new DigestAuthenticator({ realm: '127.0.0.1' });
  for (const credentials of [
    'NoOneKnowsThisScheme opaque-data=here',
    'Basic YWxpY2U6YWxpY2Utc2VjcmV0',
    'Digestive username="alice"',
  ]) {
    assert.deepEqual(
      auth.verify({ credentials, method: 'REGISTER', passwordOf }),
      { ok: false, reason: 'missing' },
      credentials,
    );
  }
  // A broken Digest header is still malformed.
  assert.deepEqual(auth.verify({ credentials: 'Digest username=', method: 'REGISTER', passwordOf }), {
    ok: false,
    reason: 'malformed',
  });
});
