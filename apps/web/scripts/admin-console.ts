/**
 * Drives the admin console (/admin) in headless Chromium against a real Conclave, checks what it
 * shows and takes screenshots (apps/web/screenshots/admin-*.png). Not a test suite (e2e/ is);
 * a smoke run while working on the console.
 *
 *   node apps/web/scripts/admin-console.ts --config /tmp/conclave.json [--tones /tmp/webtest]
 *   node apps/web/scripts/admin-console.ts --url http://127.0.0.1:8080        (already running)
 *
 * With --config the script starts Conclave itself (node apps/conclave/src/main.ts --config …) and
 * also checks the console through a server restart (event stream and SIP reconnecting, then the
 * lost session). Tones: `sox -n -r 48000 -c 1 -b 16 tone-1000.wav synth 30 sine 1000 vol 0.5`
 * (also 600, 1500 and 800 Hz) in --tones. Admin credentials: --admin admin --admin-password admin-secret.
 *
 * Scenario: alice calls bob, holds, calls carol, presses Conference; the console must list the
 * conference within a second, show the roster from the conference event package (statuses, hold),
 * mute/unmute (muted-via-focus), lock (dave is refused) / unlock, kick carol, end (with confirm, by
 * keyboard) and drop the conference. Then login errors (wrong password, server unreachable, 429).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Browser, Page } from '@playwright/test';
import { launch, mergeThree, signIn } from './page-steps.ts';

const here = dirname(fileURLToPath(import.meta.url));
const webRoot = resolve(here, '..');
const repoRoot = resolve(webRoot, '../..');

const { values } = parseArgs({
  options: {
    help: { type: 'boolean', short: 'h' },
    url: { type: 'string' },
    config: { type: 'string' },
    out: { type: 'string', default: join(webRoot, 'screenshots') },
    tones: { type: 'string', default: join(tmpdir(), 'webtest') },
    admin: { type: 'string', default: 'admin' },
    'admin-password': { type: 'string', default: 'admin-secret' },
  },
});
if (values.help) {
  process.stdout
    .write(`usage: node apps/web/scripts/admin-console.ts (--config FILE | --url URL) [--tones DIR] [--out DIR]
         [--admin NAME --admin-password SECRET]
Drives the admin console in headless Chromium against a real Conclave, checks it and takes screenshots.
`);
  process.exit(0);
}
const outDir = resolve(values.out);
mkdirSync(outDir, { recursive: true });

const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
const browsers: Browser[] = [];
let conclave: ChildProcess | null = null;

function check(ok: boolean, what: string): void {
  process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${what}\n`);
  if (!ok) process.exitCode = 1;
}

async function expect(what: string, p: Promise<unknown>): Promise<boolean> {
  return p.then(
    () => (check(true, what), true),
    (e: unknown) => (check(false, `${what} (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`), false),
  );
}

/** The API token in the console's stored session (src/admin/session-store.ts), '' when there is none. */
function storedToken(raw: string): string {
  const session = JSON.parse(raw) as { token?: unknown };
  return typeof session.token === 'string' ? session.token : '';
}

async function shot(page: Page, name: string): Promise<void> {
  const file = join(outDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  process.stdout.write(`     wrote ${file}\n`);
}

async function startConclave(configFile: string): Promise<string> {
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as { http?: { port?: number } };
  const url = `http://127.0.0.1:${config.http?.port ?? 8080}`;
  if (
    await fetch(`${url}/config.json`).then(
      () => true,
      () => false,
    )
  )
    throw new Error(`something already answers at ${url}`);
  conclave = spawn(process.execPath, [join(repoRoot, 'apps/conclave/src/main.ts'), '--config', configFile], {
    cwd: repoRoot,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const child = conclave;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`Conclave exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/config.json`)).ok) return url;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('Conclave did not start');
}

async function stopConclave(): Promise<void> {
  const child = conclave;
  conclave = null;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 8000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

async function softphone(url: string, user: string, tone: string, viewport = DESKTOP): Promise<Page> {
  const browser = await launch(join(resolve(values.tones), tone));
  browsers.push(browser);
  const page = await browser.newPage({ viewport });
  page.on('pageerror', (e) => process.stderr.write(`[${user}] pageerror: ${e.message}\n`));
  await page.goto(url);
  await signIn(page, user);
  return page;
}

async function adminLogin(page: Page, password = values['admin-password']): Promise<void> {
  await page.getByTestId('admin-login-user').fill(values.admin);
  await page.getByTestId('admin-login-password').fill(password);
  await page.getByTestId('admin-login-submit').click();
}

/** Records (in the page) when each conference-item first appears, by URI. */
async function watchArrivals(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { arrivals: Record<string, number> };
    w.arrivals = {};
    const note = (): void => {
      for (const el of document.querySelectorAll('[data-testid="conference-item"]')) {
        const uri = el.getAttribute('data-conference-uri') ?? '';
        w.arrivals[uri] ??= Date.now();
      }
    };
    new MutationObserver(note).observe(document.body, { subtree: true, childList: true, attributes: true });
  });
}

async function main(): Promise<void> {
  const url = values.config ? await startConclave(resolve(values.config)) : (values.url ?? 'http://127.0.0.1:8080');
  const adminBrowser = await launch();
  browsers.push(adminBrowser);
  const admin = await adminBrowser.newPage({ viewport: DESKTOP, colorScheme: 'light' });
  admin.on('pageerror', (e) => process.stderr.write(`[admin] pageerror: ${e.message}\n`));
  await admin.goto(`${url}/admin`);
  await admin.getByTestId('admin-login-submit').waitFor();
  check((await admin.getByTestId('phone').count()) === 0, '/admin shows the console, not the softphone');
  await shot(admin, 'admin-login-desktop');

  // ---- login errors ----
  await adminLogin(admin, 'wrong-password');
  const loginError = admin.getByTestId('admin-login-error');
  await expect(
    'wrong password: "wrong user name or password"',
    loginError.filter({ hasText: 'wrong user name or password' }).waitFor({ timeout: 5000 }),
  );
  await shot(admin, 'admin-login-wrong-password-desktop');
  await admin.route('**/api/session', (route) => route.abort('connectionrefused'));
  await adminLogin(admin);
  await expect(
    'API down: "server unreachable"',
    loginError.filter({ hasText: 'server unreachable' }).waitFor({ timeout: 5000 }),
  );
  await shot(admin, 'admin-login-unreachable-desktop');
  await admin.unroute('**/api/session');

  // ---- sign in ----
  await adminLogin(admin);
  await expect(
    'signed in: empty conference list',
    admin.getByTestId('conference-list-empty').filter({ hasText: 'No conference' }).waitFor({ timeout: 10000 }),
  );
  await expect(
    'event stream live',
    admin.locator('[data-testid="admin-feed-status"][data-state="live"]').waitFor({ timeout: 5000 }),
  );
  await expect(
    'SIP agent connected',
    admin.locator('[data-testid="admin-sip-status"][data-state="connected"]').waitFor({ timeout: 10000 }),
  );
  const stored = await admin.evaluate(() => sessionStorage.getItem('conclave.admin.session'));
  check(stored !== null && storedToken(stored).length > 20, 'token kept in sessionStorage');
  await shot(admin, 'admin-empty-desktop');
  await watchArrivals(admin);

  // ---- alice makes a conference ----
  const alice = await softphone(url, 'alice', 'tone-1000.wav');
  const bob = await softphone(url, 'bob', 'tone-600.wav');
  const carol = await softphone(url, 'carol', 'tone-1500.wav');
  const domain = (await alice.evaluate(() => window.conclave?.phone.config.domain)) ?? '127.0.0.1';
  const uri = (u: string) => `sip:${u}@${domain}`;
  const line = (page: Page, user: string, state?: string) =>
    page.locator(`[data-testid="line"][data-party="${uri(user)}"]${state ? `[data-state="${state}"]` : ''}`);
  await mergeThree(alice, bob, carol, line);
  const confUri = await alice
    .waitForFunction(
      () => document.querySelector('[data-testid="conference"]')?.getAttribute('data-uri') || null,
      undefined,
      { timeout: 15000 },
    )
    .then((h) => h.jsonValue() as Promise<string>);
  const createdSeenByAlice = Date.now();
  check(confUri.startsWith('sip:conf-'), `conference created: ${confUri}`);

  const item = admin.locator(`[data-testid="conference-item"][data-conference-uri="${confUri}"]`);
  await expect('conference appears in the console', item.waitFor({ timeout: 5000 }));
  const arrived = await admin.evaluate(
    (u) => (window as unknown as { arrivals: Record<string, number> }).arrivals[u] ?? 0,
    confUri,
  );
  check(
    arrived > 0 && arrived - createdSeenByAlice < 1000,
    `…within a second of alice learning its URI (${arrived - createdSeenByAlice} ms; negative = before)`,
  );
  check(
    (await item.getByTestId('conference-creator').textContent())?.includes(uri('alice')) === true,
    'creator is alice',
  );
  const d1 = (await item.getByTestId('conference-duration').textContent()) ?? '';
  await admin.waitForTimeout(2100);
  const d2 = (await item.getByTestId('conference-duration').textContent()) ?? '';
  const secondsOf = (d: string) => d.split(':').reduce((a, x) => a * 60 + Number(x), 0);
  check(/^\d+:\d\d$/.test(d1) && secondsOf(d2) - secondsOf(d1) >= 2, `running duration ticks (${d1} -> ${d2})`);
  check((await item.getByTestId('conference-started').getAttribute('datetime')) !== null, 'start time shown');

  const entry = (user: string) => item.locator(`[data-testid="roster-entry"][data-entity="${uri(user)}"]`);
  const status = (user: string, s: string, timeout = 10000) =>
    item.locator(`[data-testid="roster-entry"][data-entity="${uri(user)}"][data-status="${s}"]`).waitFor({ timeout });
  for (const u of ['alice', 'bob', 'carol']) await expect(`roster: ${u} connected`, status(u, 'connected', 15000));
  check(
    (await item.getAttribute('data-participant-count')) === '3',
    `participant count 3 (${await item.getAttribute('data-participant-count')})`,
  );
  check(
    (await entry('bob').getAttribute('data-participant-id'))?.startsWith('p') === true,
    'roster entry matched to its API participant id',
  );
  const joining = await Promise.all(
    ['alice', 'bob', 'carol'].map(
      async (u) => `${u}: ${await entry(u).getByTestId('roster-entry-joining').textContent()}`,
    ),
  );
  check(
    joining.every((j) => !j.endsWith(': joined')),
    `joining methods from the API: ${joining.join(', ')}`,
  );
  check((await entry('bob').getByTestId('roster-entry-duration').count()) === 1, 'time in conference shown');
  const subscription = await item.getByTestId('admin-roster').getAttribute('data-subscription');
  check(subscription === 'active', `roster from the conference event package (subscription ${subscription})`);
  await admin.waitForTimeout(1500);
  const speaking = await item.locator('[data-testid="roster-entry"][data-speaking="true"]').count();
  process.stdout.write(`     speaking entries now: ${speaking}\n`);
  await shot(admin, 'admin-conference-desktop');

  // ---- hold shows up as on-hold ----
  const carolConf = carol.locator('[data-testid="line"][data-state="active"]').first();
  await carolConf.getByTestId('hold-button').click();
  await expect('carol holds: on-hold', status('carol', 'on-hold'));
  await carol.locator('[data-testid="line"][data-state="held"]').first().getByTestId('resume-button').click();
  await expect('carol resumes: connected', status('carol', 'connected'));

  // ---- mute / unmute ----
  const muteBob = entry('bob').getByTestId('mute-participant-button');
  check((await muteBob.textContent()) === 'Mute', 'mute button says "Mute"');
  let t0 = Date.now();
  await muteBob.click();
  await expect('mute: bob muted-via-focus', status('bob', 'muted-via-focus'));
  check(Date.now() - t0 < 1500, `…in ${Date.now() - t0} ms`);
  check(
    (await muteBob.textContent()) === 'Unmute' && (await muteBob.getAttribute('aria-pressed')) === 'true',
    'button now says "Unmute" (aria-pressed)',
  );
  await shot(admin, 'admin-muted-desktop');
  await muteBob.click();
  await expect('unmute: bob connected', status('bob', 'connected'));

  // ---- lock / unlock (by keyboard) ----
  const lock = item.getByTestId('lock-button');
  await lock.focus();
  await admin.keyboard.press('Enter');
  await expect(
    'lock (keyboard): data-locked=true',
    item.and(admin.locator('[data-locked="true"]')).waitFor({ timeout: 3000 }),
  );
  check((await lock.textContent())?.includes('Unlock') === true, 'lock button now says "Unlock"');
  const dave = await softphone(url, 'dave', 'tone-800.wav');
  await dave.getByTestId('dial-input').fill(confUri);
  await dave.getByTestId('dial-button').click();
  await expect(
    'locked: dave is refused ("locked")',
    dave.locator('[data-testid="line"][data-state="ended"]').filter({ hasText: 'locked' }).waitFor({ timeout: 10000 }),
  );
  await shot(admin, 'admin-locked-desktop');
  await lock.press('Space');
  await expect(
    'unlock (keyboard): data-locked=false',
    item.and(admin.locator('[data-locked="false"]')).waitFor({ timeout: 3000 }),
  );

  // ---- kick ----
  t0 = Date.now();
  await entry('carol').getByTestId('kick-button').click();
  await expect(
    'kick: carol no longer present in the roster',
    admin.waitForFunction(
      ([conf, who]) => {
        const el = document.querySelector(
          `[data-testid="conference-item"][data-conference-uri="${conf}"] [data-testid="roster-entry"][data-entity="${who}"]`,
        );
        return el === null || el.getAttribute('data-present') === 'false';
      },
      [confUri, uri('carol')] as const,
      { timeout: 5000 },
    ),
  );
  process.stdout.write(
    `     carol's entry after kick: ${(await entry('carol').count()) ? `status=${await entry('carol').getAttribute('data-status')}` : 'removed'} (${Date.now() - t0} ms)\n`,
  );
  await expect(
    "kick: carol's call ended",
    carol.locator('[data-testid="phone"][data-idle="true"]').waitFor({ timeout: 10000 }),
  );
  await expect(
    'participant count 2',
    item.and(admin.locator('[data-participant-count="2"]')).waitFor({ timeout: 3000 }),
  );
  check((await entry('carol').getByTestId('kick-button').count()) === 0, 'no buttons on a participant who left');
  await shot(admin, 'admin-kicked-desktop');

  // ---- action error in words (bob's pid made stale on purpose) ----
  await admin.route('**/participants/*/mute', (route) =>
    route.fulfill({
      status: 404,
      contentType: 'application/json',
      body: JSON.stringify({ error: { code: 'participant-not-found', message: 'no participant p_x' } }),
    }),
  );
  await muteBob.click();
  await expect(
    'action error in words',
    item.getByTestId('conference-action-error').filter({ hasText: 'could not mute' }).waitFor({ timeout: 3000 }),
  );
  process.stdout.write(`     "${await item.getByTestId('conference-action-error').textContent()}"\n`);
  await shot(admin, 'admin-action-error-desktop');
  await admin.unroute('**/participants/*/mute');

  // ---- phone width ----
  await admin.setViewportSize(PHONE);
  await shot(admin, 'admin-conference-phone');
  await admin.setViewportSize(DESKTOP);

  // ---- end, with confirmation, by keyboard ----
  const end = item.getByTestId('end-button');
  await end.focus();
  await admin.keyboard.press('Enter');
  await expect('end asks first', item.getByTestId('end-confirm').waitFor({ timeout: 2000 }));
  check(await item.getByTestId('end-cancel-button').evaluate((el) => el === document.activeElement), 'focus on Cancel');
  await shot(admin, 'admin-end-confirm-desktop');
  await admin.keyboard.press('Escape');
  check(
    (await item.getByTestId('end-confirm').count()) === 0 &&
      (await end.evaluate((el) => el === document.activeElement)),
    'Escape cancels, focus back on End',
  );
  await admin.keyboard.press('Enter');
  await admin.keyboard.press('Shift+Tab');
  await admin.keyboard.press('Enter');
  await expect('end: the conference disappears', item.waitFor({ state: 'detached', timeout: 5000 }));
  await expect(
    "end: alice's conference call ended",
    alice.waitForFunction(
      () =>
        document.querySelectorAll('[data-testid="line"][data-role="conference"]:not([data-state="ended"])').length ===
        0,
      undefined,
      { timeout: 10000 },
    ),
  );
  if (!(await alice.locator('[data-testid="phone"][data-idle="true"]').count())) {
    const lines = await alice
      .locator('[data-testid="line"]')
      .evaluateAll((els) =>
        els.map(
          (e) => `${e.getAttribute('data-party')}:${e.getAttribute('data-state')}:${e.getAttribute('data-role')}`,
        ),
      );
    process.stdout.write(
      `     note: alice still has other lines (not the console's business): ${JSON.stringify(lines)}\n`,
    );
  }
  await expect(
    "end: bob's call ended",
    bob.locator('[data-testid="phone"][data-idle="true"]').waitFor({ timeout: 10000 }),
  );
  check(
    ((await admin.getByTestId('admin-notice').textContent()) ?? '').includes('ended'),
    `notice: "${await admin.getByTestId('admin-notice').textContent()}"`,
  );
  await shot(admin, 'admin-ended-desktop');

  // ---- factory dial-in: a conference made by dialling sip:conference@ directly ----
  await bob.getByTestId('dial-input').fill(`sip:conference@${domain}`);
  await bob.getByTestId('dial-button').click();
  const second = admin.locator('[data-testid="conference-item"]');
  await expect('factory dial-in: a conference appears', second.first().waitFor({ timeout: 5000 }));
  await expect(
    '…with bob connected',
    second
      .first()
      .locator(`[data-testid="roster-entry"][data-entity="${uri('bob')}"][data-status="connected"]`)
      .waitFor({ timeout: 10000 }),
  );
  if (!values.config) {
    await bob.locator('[data-testid="line"]').first().getByTestId('hangup-button').click();
    await expect(
      'last participant leaves: the conference disappears',
      second.first().waitFor({ state: 'detached', timeout: 5000 }),
    );
  } else {
    // ---- the server goes away (with bob's conference running) and comes back ----
    for (const p of [alice, carol, dave]) await p.close();
    await stopConclave();
    await expect(
      'server stopped: event stream reconnecting',
      admin.locator('[data-testid="admin-feed-status"][data-state="reconnecting"]').waitFor({ timeout: 5000 }),
    );
    await expect(
      '…and the list is marked out of date',
      admin.locator('[data-testid="conference-list"][data-stale="true"]').waitFor({ timeout: 2000 }),
    );
    await admin.waitForTimeout(1200);
    process.stdout.write(
      `     "${await admin.getByTestId('admin-feed-status').textContent()}" / "${await admin.getByTestId('admin-sip-status').textContent()}"\n`,
    );
    await shot(admin, 'admin-reconnecting-desktop');
    await startConclave(resolve(values.config));
    // A restarted focus forgot every token (kept in memory).
    await expect(
      'restarted server: session lost, back to login with a reason',
      admin.getByTestId('admin-login-error').filter({ hasText: 'session' }).waitFor({ timeout: 20000 }),
    );
    await shot(admin, 'admin-session-lost-desktop');
    await adminLogin(admin);
    await expect(
      'signed in again',
      admin.locator('[data-testid="admin-feed-status"][data-state="live"]').waitFor({ timeout: 10000 }),
    );
    await admin.reload();
    await expect(
      'reload: still signed in (session kept in this tab)',
      admin.locator('[data-testid="admin-feed-status"][data-state="live"]').waitFor({ timeout: 10000 }),
    );
    await expect(
      'reload: rosters connected again',
      admin.locator('[data-testid="admin-sip-status"][data-state="connected"]').waitFor({ timeout: 10000 }),
    );
    await admin.getByTestId('admin-logout-button').click();
    await expect('sign out', admin.getByTestId('admin-login-submit').waitFor({ timeout: 5000 }));
    check(
      (await admin.evaluate(() => sessionStorage.getItem('conclave.admin.session'))) === null,
      'sign out forgets the session',
    );
  }

  // ---- throttling (last: it blocks logins from this address for a minute) ----
  for (let i = 0; i < 6; i++) {
    await adminLogin(admin, `wrong-${i}`);
    await admin.waitForFunction(() => {
      const b = document.querySelector<HTMLButtonElement>('[data-testid="admin-login-submit"]');
      return b !== null && b.getAttribute('aria-busy') !== 'true';
    });
    if (await admin.getByTestId('admin-login-error').filter({ hasText: 'too many attempts' }).count()) break;
  }
  const throttled = (await admin.getByTestId('admin-login-error').textContent()) ?? '';
  check(/too many attempts, try again in \d+ s/.test(throttled), `throttled: "${throttled}"`);
  check(await admin.getByTestId('admin-login-submit').isDisabled(), 'submit waits while throttled');
  await admin.waitForTimeout(2100);
  const later = (await admin.getByTestId('admin-login-error').textContent()) ?? '';
  const secs = (t: string) => Number(/in (\d+) s/.exec(t)?.[1] ?? NaN);
  check(secs(later) < secs(throttled), `…counting down: "${later}"`);
  await admin.setViewportSize(PHONE);
  await shot(admin, 'admin-login-throttled-phone');
}

try {
  await main();
} catch (error) {
  check(false, `scenario aborted: ${error instanceof Error ? error.stack : String(error)}`);
} finally {
  for (const b of browsers) await b.close().catch(() => {});
  await stopConclave();
}
