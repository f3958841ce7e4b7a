import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { ConfigError, defaultConfig, loadConfig } from '../src/config.ts';

function configFile(content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'conclave-config-'));
  const file = join(dir, 'conclave.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

test('defaults: loopback listeners, five users and an admin, intercepting REFERs', () => {
  const c = loadConfig(undefined);
  assert.equal(c.domain, '127.0.0.1');
  assert.deepEqual(
    c.users.map((u) => u.name),
    ['alice', 'bob', 'carol', 'dave', 'erin'],
  );
  assert.equal(c.users[0]!.password, 'alice-secret');
  assert.deepEqual(
    c.admins.map((a) => [a.name, a.password]),
    [['admin', 'admin-secret']],
  );
  assert.equal(c.sip.wsPort, 8088);
  assert.equal(c.drachtio.port, 9022);
  assert.equal(c.http.port, 8080);
  assert.equal(c.conference.referMode, 'intercept');
});

test('a partial file overrides only what it names', () => {
  const c = loadConfig(configFile({ http: { port: 9999 }, conference: { referMode: 'pass-through' } }));
  assert.equal(c.http.port, 9999);
  assert.equal(c.http.host, '127.0.0.1');
  assert.equal(c.conference.referMode, 'pass-through');
  assert.equal(c.sip.wsPort, defaultConfig().sip.wsPort);
});

test('default users on a non-loopback listener refuse to start, saying why', () => {
  assert.throws(
    () => loadConfig(configFile({ sip: { host: '0.0.0.0' } })),
    (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(
        err.message,
        /default users.*only accepted while every listener is on loopback.*sip\.host=0\.0\.0\.0/,
      );
      return true;
    },
  );
  // With their own passwords the same binding is accepted.
  const own = loadConfig(
    configFile({
      sip: { host: '0.0.0.0' },
      users: [{ name: 'alice', password: 'correct horse battery' }],
      admins: [{ name: 'root', password: 'another long secret' }],
    }),
  );
  assert.equal(own.sip.host, '0.0.0.0');
});

test('unknown options, wrong types, bad ports and broken JSON are clear errors', () => {
  assert.throws(() => loadConfig(configFile({ sipp: {} })), /unknown option "sipp"/);
  assert.throws(() => loadConfig(configFile({ http: { port: '80' } })), /"http.port" must be a number/);
  assert.throws(() => loadConfig(configFile({ http: { port: 70000 } })), /"http.port" must be a port number/);
  assert.throws(() => loadConfig(configFile({ conference: { referMode: 'yes' } })), /referMode/);
  assert.throws(() => loadConfig(configFile('{ not json')), /cannot read config file/);
  assert.throws(() => loadConfig(configFile({ users: [{ name: 'x', password: 'short' }] })), /at least 8 characters/);
});

test('the conclave command answers --help and refuses a bad config with its reason', () => {
  const main = join(import.meta.dirname, '../src/main.ts');
  const help = execFileSync(process.execPath, [main, '--help'], { encoding: 'utf8' });
  assert.match(help, /Usage: conclave/);
  assert.match(help, /--config/);
  const bad = spawnSync(process.execPath, [main, '--config', configFile({ http: { host: '192.0.2.1' } })], {
    encoding: 'utf8',
  });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /refusing to start/);
  const printed = spawnSync(process.execPath, [main, '--print-config'], { encoding: 'utf8' });
  const printedConfig = JSON.parse(printed.stdout) as { sip: { wsPort: number } };
  assert.equal(printedConfig.sip.wsPort, 8088);
});
