/**
 * Drives the softphone's newer features against a running Conclave with headless Chromium (one
 * browser per user, each with its own tone as microphone) and writes screenshots:
 *
 *   node apps/web/scripts/softphone-check.ts --url http://127.0.0.1:36080 [--scenario all|dtmf|transfer|devices|video]
 *        [--out apps/web/screenshots] [--tones e2e/.tones]
 *
 * dtmf      alice calls bob, keys pressed and typed go out as SIP INFO in order and show on bob's line;
 *           bob's page plays a received "1" (697 + 1209 Hz) into what it plays.
 * transfer  alice calls bob, transfers bob to carol: bob's page calls carol, carol answers, alice's
 *           line ends "transferred bob to carol"; carol hears bob.
 * devices   the selects list Chromium's fake devices; the level meter moves with the tone and reads 0
 *           and "muted" when muted; switching the microphone mid-call keeps the call's audio.
 * video     1:1 video call: tiles for the remote camera and the local preview on both sides, camera switch.
 * conference-video  three video parties dial into one conference: two remote tiles + preview each;
 *           the roster's speaker and the outlined tile (checked against the tile's audio tone).
 *
 * Tones: <tones>/<user>-<hz>.wav (the e2e set-up makes them: alice 660, bob 1020, carol 1380 Hz).
 * Exits non-zero if a check fails.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium, type Browser, type Page } from '@playwright/test';
import { CHROMIUM, chromiumArgs } from '@conclave/test-peers';
import { dtmfLevels, tonesIn } from '../../../e2e/support/page-tones.ts';

const here = dirname(fileURLToPath(import.meta.url));
const webRoot = resolve(here, '..');

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:8080' },
    out: { type: 'string', default: join(webRoot, 'screenshots') },
    scenario: { type: 'string', default: 'all' },
    tones: { type: 'string', default: resolve(webRoot, '../../e2e/.tones') },
    'sip-trace': { type: 'boolean', default: false },
  },
});
const outDir = resolve(values.out);
mkdirSync(outDir, { recursive: true });
const BASE = values.url;
const DESKTOP = { width: 1100, height: 900 };
const PHONE = { width: 390, height: 844 };

type User = 'alice' | 'bob' | 'carol';
const HZ: Record<User, number> = { alice: 660, bob: 1020, carol: 1380 };

let failures = 0;
function check(ok: boolean, what: string): void {
  if (!ok) failures++;
  process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${what}\n`);
}

function toneFile(user: User): string {
  const dir = resolve(values.tones);
  const file = readdirSync(dir).find((f) => f.startsWith(`${user}-`) && f.endsWith('.wav'));
  if (!file) throw new Error(`no tone for ${user} in ${dir} (run the e2e set-up or make one with sox)`);
  return join(dir, file);
}

interface UserPage {
  user: User;
  browser: Browser;
  page: Page;
}

async function open(user: User, viewport = DESKTOP): Promise<UserPage> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: chromiumArgs({ audioFile: toneFile(user) }),
  });
  const context = await browser.newContext({ baseURL: BASE, viewport, permissions: ['microphone', 'camera'] });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') process.stdout.write(`  [${user} console] ${m.text()}\n`);
  });
  page.on('pageerror', (e) => process.stdout.write(`  [${user} pageerror] ${e.message}\n`));
  if (values['sip-trace']) {
    // First lines (+ Event / CSeq) of REFER / NOTIFY traffic and its answers.
    page.on('websocket', (ws) => {
      const show = (dir: string) => (frame: { payload: string | Buffer }) => {
        const text = String(frame.payload);
        if (!/^(REFER|NOTIFY|INVITE) |^SIP\/2\.0 \d+ [\s\S]*CSeq: \d+ (REFER|NOTIFY|INVITE)/.test(text)) return;
        const keep = text
          .split('\r\n')
          .filter(
            (l, i) =>
              i === 0 ||
              /^(Event|CSeq|Subscription-State|Refer-To):/i.test(l) ||
              /^SIP\/2\.0 \d+/.test(l) ||
              /^m=/.test(l),
          );
        process.stdout.write(`  [${user} ${dir}] ${keep.join(' | ')}\n`);
      };
      ws.on('framesent', show('>>'));
      ws.on('framereceived', show('<<'));
    });
  }
  await page.goto('/');
  await page.getByTestId('login-user').fill(user);
  await page.getByTestId('login-password').fill(`${user}-secret`);
  await page.getByTestId('login-submit').click();
  await page
    .getByTestId('registration-status')
    .filter({ hasText: /\bregistered\b/ })
    .waitFor({ timeout: 15_000 });
  return { user, browser, page };
}

const line = (p: UserPage, party: string) => p.page.locator(`[data-testid="line"][data-party*="${party}"]`);

async function shot(p: UserPage, name: string): Promise<void> {
  const file = join(outDir, `${name}.png`);
  await p.page.screenshot({ path: file, fullPage: true });
  process.stdout.write(`  wrote ${file}\n`);
}

async function waitAttr(
  p: UserPage,
  selector: ReturnType<Page['locator']>,
  attr: string,
  value: string,
  timeout = 15_000,
): Promise<boolean> {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if ((await selector.getAttribute(attr).catch(() => null)) === value) return true;
    await p.page.waitForTimeout(100);
  }
  return false;
}

async function call(from: UserPage, to: UserPage, opts: { video?: boolean } = {}): Promise<void> {
  if (opts.video) {
    await from.page.getByTestId('video-toggle').check();
    await to.page.getByTestId('video-toggle').check();
  }
  await from.page.getByTestId('dial-input').fill(to.user);
  await from.page.getByTestId('dial-button').click();
  await to.page.getByTestId('answer-button').click({ timeout: 15_000 });
  await waitAttr(from, line(from, to.user), 'data-state', 'active');
  await waitAttr(to, line(to, from.user), 'data-state', 'active');
}

/** Peaks (Hz) of everything the page receives, over `ms` (the e2e helper). */
function heard(p: UserPage, ms = 1500): Promise<number[]> {
  return tonesIn(p.page, 'remote-elements', ms);
}

const near = (peaks: number[], f: number, tol = 20) => peaks.some((p) => Math.abs(p - f) <= tol);

async function hangUpAll(...pages: UserPage[]): Promise<void> {
  for (const p of pages) {
    for (const b of await p.page.getByTestId('hangup-button').all()) await b.click().catch(() => {});
  }
}

// ---------------------------------------------------------------- scenarios

async function dtmf(): Promise<void> {
  const [alice, bob] = await Promise.all([open('alice'), open('bob')]);
  try {
    await call(alice, bob);
    const l = line(alice, 'bob');
    check((await l.getByTestId('dtmf-keypad').count()) === 1, 'active line shows the keypad');
    for (const key of ['1', '5', '#']) await l.locator(`[data-testid="dtmf-key"][data-key="${key}"]`).click();
    // Keyboard: focus the line (the keypad button keeps focus in it) and type.
    await l.getByTestId('keypad-button').focus();
    await alice.page.keyboard.type('9*');
    check(
      await waitAttr(alice, l.getByTestId('dtmf-sent'), 'data-digits', '15#9*', 8000),
      `keys clicked and typed play out in order: "${await l.getByTestId('dtmf-sent').getAttribute('data-digits')}"`,
    );
    check((await l.getByTestId('dtmf-error').count()) === 0, 'no keypad error');
    check(
      await waitAttr(bob, line(bob, 'alice').getByTestId('dtmf-received'), 'data-digits', '15#9*', 8000),
      'the focus relays the INFOs to bob in order: his line shows them',
    );
    await shot(alice, 'dtmf-keypad-desktop');
    // SIP INFO, not RFC 4733: mediasoup consumers drop telephone-event. Bob's page plays the key's tone
    // pair into its output; bob listens (no smoothing, every 40 ms) from just before alice presses "1".
    const listening = dtmfLevels(bob.page, 1500);
    await alice.page.waitForTimeout(200);
    await l.locator('[data-testid="dtmf-key"][data-key="1"]').click();
    const lv = await listening;
    const rise = Math.min(lv.low.peak - lv.low.before, lv.high.peak - lv.high.before);
    check(
      rise > 12,
      `bob hears DTMF "1" when alice presses it (697 Hz ${lv.low.before.toFixed(0)} → ${lv.low.peak.toFixed(0)} dB, 1209 Hz ${lv.high.before.toFixed(0)} → ${lv.high.peak.toFixed(0)} dB)`,
    );
    await alice.page.waitForTimeout(1200);
    const after = await heard(bob, 1200);
    check(
      near(after, HZ.alice) && !near(after, 1209),
      `after the tone bob hears alice's ${HZ.alice} Hz again: [${after.join(', ')}]`,
    );
    // Held call: the keypad is gone and typing does nothing.
    await l.getByTestId('hold-button').click();
    await waitAttr(alice, l, 'data-state', 'held');
    check((await l.getByTestId('dtmf-keypad').count()) === 0, 'held line: no keypad');
    await alice.page.setViewportSize(PHONE);
    await l.getByTestId('resume-button').click();
    await waitAttr(alice, l, 'data-state', 'active');
    await alice.page.waitForTimeout(500);
    await shot(alice, 'dtmf-keypad-phone');
    await hangUpAll(alice);
  } finally {
    await Promise.all([alice.browser.close(), bob.browser.close()]);
  }
}

async function transfer(): Promise<void> {
  const [alice, bob, carol] = await Promise.all([open('alice'), open('bob'), open('carol')]);
  try {
    await call(alice, bob);
    const l = line(alice, 'bob');
    await l.getByTestId('transfer-button').click();
    await l.getByTestId('transfer-input').fill('no such person!');
    await l.getByTestId('transfer-submit').click();
    check(
      (await l.getByTestId('transfer-error').count()) === 1,
      `bad target in words: "${await l.getByTestId('transfer-error').textContent()}"`,
    );
    await shot(alice, 'transfer-form-desktop');
    await l.getByTestId('transfer-input').fill('carol');
    await l.getByTestId('transfer-submit').click();
    const t0 = Date.now();
    const phases: string[] = [];
    const status = l.getByTestId('transfer-status');
    let incomingShot = false;
    while (Date.now() - t0 < 20_000) {
      const phase = await status.getAttribute('data-phase', { timeout: 200 }).catch(() => null);
      if (phase && phases[phases.length - 1] !== phase) phases.push(phase);
      if (!incomingShot && (await carol.page.getByTestId('incoming-call').count()) > 0) {
        incomingShot = true;
        await shot(alice, 'transfer-progress-desktop');
        await shot(carol, 'transfer-carol-incoming-desktop');
        const from = await carol.page.getByTestId('incoming-call').getAttribute('data-party');
        check(from?.includes('bob') === true, `carol is called by bob (incoming from ${from})`);
        await carol.page.getByTestId('answer-button').click();
      }
      if (
        (await l.getAttribute('data-state').catch(() => 'gone')) !== 'active' &&
        (await l.count()) > 0 &&
        (await l.getAttribute('data-state')) === 'ended'
      )
        break;
      await alice.page.waitForTimeout(100);
    }
    check(phases.length > 0, `alice saw the transfer progress: ${phases.join(' → ')}`);
    // Known gap (README): the focus relays the NOTIFYs with the other leg's event id; JsSIP answers 481.
    note(
      `NOTIFY progress reached alice: ${phases.some((x) => x === 'trying' || x === 'ringing' || x === 'succeeded') ? 'yes' : 'no (only the 202)'}`,
    );
    const endText = await l
      .getByTestId('line-detail')
      .textContent()
      .catch(() => null);
    check(
      (await l.getAttribute('data-state').catch(() => null)) === 'ended',
      `alice's line ended (${Date.now() - t0} ms): "${endText}"`,
    );
    await shot(alice, 'transfer-done-desktop');
    check(await waitAttr(bob, line(bob, 'carol'), 'data-state', 'active'), 'bob now talks to carol');
    check(await waitAttr(carol, line(carol, 'bob'), 'data-state', 'active'), 'carol talks to bob');
    const bobOld = await line(bob, 'alice')
      .getByTestId('line-detail')
      .textContent()
      .catch(() => '(gone)');
    process.stdout.write(`  bob's old line: "${bobOld}"\n`);
    await shot(bob, 'transfer-bob-desktop');
    let carolHears: number[] = [];
    for (let i = 0; i < 6 && !near(carolHears, HZ.bob); i++) carolHears = await heard(carol);
    check(near(carolHears, HZ.bob), `carol hears bob's ${HZ.bob} Hz: [${carolHears.join(', ')}]`);
    check(await waitAttr(alice, alice.page.getByTestId('phone'), 'data-idle', 'true'), 'alice is idle again');
    await hangUpAll(bob, carol);
  } finally {
    await Promise.all([alice.browser.close(), bob.browser.close(), carol.browser.close()]);
  }
}

async function level(p: UserPage): Promise<{ level: number; muted: string | null; source: string | null }> {
  const m = p.page.getByTestId('mic-level');
  return {
    level: Number(await m.getAttribute('data-level')),
    muted: await m.getAttribute('data-muted'),
    source: await m.getAttribute('data-source'),
  };
}

/** Highest data-level seen over `ms`. */
async function peakLevel(p: UserPage, ms = 1500): Promise<number> {
  let peak = 0;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    peak = Math.max(peak, (await level(p)).level);
    await p.page.waitForTimeout(100);
  }
  return peak;
}

async function options(p: UserPage, testId: string): Promise<string[]> {
  return p.page.getByTestId(testId).locator('option').allTextContents();
}

async function devices(): Promise<void> {
  const [alice, bob] = await Promise.all([open('alice'), open('bob')]);
  try {
    const mics = await options(alice, 'device-microphone');
    const cams = await options(alice, 'device-camera');
    const speakers = await options(alice, 'device-speaker');
    check(mics.length >= 2, `microphones: ${mics.join(' | ')}`);
    check(cams.length >= 2, `cameras: ${cams.join(' | ')}`);
    check(speakers.length >= 2, `speakers: ${speakers.join(' | ')}`);
    const idle = await level(alice);
    check(
      idle.level === 0 && idle.source === 'none',
      `idle, no test: meter off (level ${idle.level}, source ${idle.source})`,
    );
    await alice.page.getByTestId('mic-test').click();
    const testPeak = await peakLevel(alice);
    check(testPeak > 0.3, `microphone test: the meter moves with the tone (peak ${testPeak})`);
    await shot(alice, 'devices-mic-test-desktop');
    await alice.page.getByTestId('mic-test').click();
    await alice.page.waitForTimeout(300);
    check((await level(alice)).level === 0, 'test stopped: meter back to 0');

    await call(alice, bob);
    const inCall = await peakLevel(alice);
    const src = (await level(alice)).source;
    check(
      inCall > 0.3 && src === 'call',
      `in a call the meter follows the call's microphone (peak ${inCall}, source ${src})`,
    );
    await line(alice, 'bob').getByTestId('mute-button').click();
    await alice.page.waitForTimeout(400);
    const muted = await level(alice);
    const mutedPeak = await peakLevel(alice, 800);
    const mutedText = await alice.page.getByTestId('mic-level').textContent();
    check(
      muted.muted === 'true' && mutedPeak === 0 && /muted/.test(mutedText ?? ''),
      `muted: data-muted=${muted.muted}, peak ${mutedPeak}, text "${mutedText}"`,
    );
    await shot(alice, 'devices-muted-desktop');
    await line(alice, 'bob').getByTestId('mute-button').click();
    const unmutedPeak = await peakLevel(alice);
    check(unmutedPeak > 0.3, `unmuted: meter moves again (peak ${unmutedPeak})`);

    // Switch the microphone mid-call: replaceTrack, bob keeps hearing alice.
    const micSelect = alice.page.getByTestId('device-microphone');
    const ids = await micSelect
      .locator('option')
      .evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value).filter((v) => v !== ''));
    const before = await alice.page.evaluate(
      () => window.conclave!.phone.getSnapshot().lines[0]!.localAudioTrack?.label ?? '',
    );
    const target = ids[ids.length - 1]!;
    await micSelect.selectOption(target);
    await alice.page.waitForFunction(
      (t) => window.conclave!.phone.getSnapshot().lines[0]!.localAudioTrack?.label !== t,
      before,
      { timeout: 10_000 },
    );
    const after = await alice.page.evaluate(() => {
      const l = window.conclave!.phone.getSnapshot().lines[0]!;
      const pc = window.conclave!.phone.debugLine(l.id)!.session.connection;
      const sent = pc.getSenders().find((s) => s.track?.kind === 'audio')?.track;
      return { label: l.localAudioTrack?.label ?? '', senderIsNew: sent === l.localAudioTrack, enabled: sent?.enabled };
    });
    check(
      after.senderIsNew && after.label !== before,
      `microphone switched mid-call: "${before}" → "${after.label}" (sender carries the new track: ${after.senderIsNew})`,
    );
    let bobHears: number[] = [];
    for (let i = 0; i < 5 && !near(bobHears, HZ.alice); i++) bobHears = await heard(bob);
    check(near(bobHears, HZ.alice), `bob still hears alice after the switch: [${bobHears.join(', ')}]`);
    check((await peakLevel(alice)) > 0.3, 'the meter follows the new microphone');

    // Speaker: setSinkId on every remote audio element.
    const spkIds = await alice.page
      .getByTestId('device-speaker')
      .locator('option')
      .evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value).filter((v) => v !== ''));
    if (spkIds.length > 0) {
      await alice.page.getByTestId('device-speaker').selectOption(spkIds[spkIds.length - 1]!);
      await alice.page.waitForTimeout(500);
      const sinks = await alice.page
        .locator('audio[data-testid="remote-audio"]')
        .evaluateAll((els) => els.map((e) => (e as HTMLAudioElement & { sinkId: string }).sinkId));
      check(
        sinks.length > 0 && sinks.every((x) => x === spkIds[spkIds.length - 1]),
        `speaker applied to remote audio (sinkId ${sinks.map((x) => x.slice(0, 8)).join(', ')})`,
      );
      let aliceHears: number[] = [];
      for (let i = 0; i < 5 && !near(aliceHears, HZ.bob); i++) aliceHears = await heard(alice);
      check(
        near(aliceHears, HZ.bob),
        `alice's remote audio still plays (decoded) on the chosen speaker: [${aliceHears.join(', ')}]`,
      );
    }
    await shot(alice, 'devices-in-call-desktop');
    await alice.page.setViewportSize(PHONE);
    await shot(alice, 'devices-in-call-phone');
    await alice.page.setViewportSize(DESKTOP);
    await hangUpAll(alice);

    // Remembered: after a reload (and signing in again) the choices are still there.
    const stored = await alice.page.evaluate(() => localStorage.getItem('conclave.devices'));
    await alice.page.reload();
    await alice.page.getByTestId('login-user').fill('alice');
    await alice.page.getByTestId('login-password').fill('alice-secret');
    await alice.page.getByTestId('login-submit').click();
    await alice.page
      .getByTestId('registration-status')
      .filter({ hasText: /\bregistered\b/ })
      .waitFor();
    await alice.page.waitForTimeout(500);
    const micAfterReload = await micSelect.inputValue();
    check(micAfterReload === target, `choices remembered across a reload (${stored})`);
  } finally {
    await Promise.all([alice.browser.close(), bob.browser.close()]);
  }
}

async function tilesOf(p: UserPage) {
  return p.page.getByTestId('video-tile').evaluateAll((els) =>
    els.map((e) => ({
      party: e.getAttribute('data-party'),
      local: e.getAttribute('data-local'),
      live: e.getAttribute('data-live'),
      speaking: e.getAttribute('data-speaking'),
    })),
  );
}

async function video(): Promise<void> {
  const [alice, bob] = await Promise.all([open('alice'), open('bob', PHONE)]);
  try {
    await call(alice, bob, { video: true });
    // The focus may bring video in with a re-INVITE after the call is up.
    for (let i = 0; i < 40; i++) {
      const [x, y] = [await tilesOf(alice), await tilesOf(bob)];
      if (
        x.some((t) => t.local === 'false' && t.live === 'true') &&
        y.some((t) => t.local === 'false' && t.live === 'true')
      )
        break;
      await alice.page.waitForTimeout(250);
    }
    const a = await tilesOf(alice);
    const b = await tilesOf(bob);
    check(
      a.some((t) => t.local === 'true' && t.live === 'true' && t.party?.includes('alice')),
      `alice's own camera tile: ${JSON.stringify(a.filter((t) => t.local === 'true'))}`,
    );
    // Known gap (README): the focus offers the callee of a 1:1 call audio only, so no remote video.
    note(
      `1:1 remote video: alice has ${a.filter((t) => t.local === 'false').length} remote tile(s), bob ${b.filter((t) => t.local === 'false').length}`,
    );
    if (a.some((t) => t.local === 'false')) {
      const width = await alice.page
        .locator('[data-testid="video-tile"][data-local="false"] video')
        .first()
        .evaluate((v) => (v as HTMLVideoElement).videoWidth, undefined, { timeout: 2000 })
        .catch(() => 0);
      check(width > 0, `alice decodes bob's video (${width} px wide)`);
    }
    await shot(alice, 'video-call-desktop');
    await shot(bob, 'video-call-phone');
    // Camera switch mid-call: the local tile follows the new track.
    const camIds = await alice.page
      .getByTestId('device-camera')
      .locator('option')
      .evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value).filter((v) => v !== ''));
    if (camIds.length > 1) {
      const before = await alice.page.evaluate(
        () => window.conclave!.phone.getSnapshot().lines[0]!.localVideoTrack?.label,
      );
      await alice.page.getByTestId('device-camera').selectOption(camIds[camIds.length - 1]!);
      await alice.page
        .waitForFunction((t) => window.conclave!.phone.getSnapshot().lines[0]!.localVideoTrack?.label !== t, before, {
          timeout: 10_000,
        })
        .catch(() => {});
      const after = await alice.page.evaluate(
        () => window.conclave!.phone.getSnapshot().lines[0]!.localVideoTrack?.label,
      );
      check(after !== before, `camera switched mid-call: ${before} → ${after}`);
    }
    await hangUpAll(alice);
    await alice.page.waitForTimeout(500);
    check((await alice.page.getByTestId('video-tile').count()) === 0, 'tiles gone after the call');
  } finally {
    await Promise.all([alice.browser.close(), bob.browser.close()]);
  }
}

/** Three video parties dial into one conference: tiles for every remote camera, the speaker outlined. */
async function conferenceVideo(): Promise<void> {
  const [alice, bob, carol] = await Promise.all([open('alice'), open('bob'), open('carol', PHONE)]);
  try {
    for (const p of [alice, bob, carol]) await p.page.getByTestId('video-toggle').check();
    await alice.page.getByTestId('dial-input').fill('conference');
    await alice.page.getByTestId('dial-button').click();
    const conf = alice.page.getByTestId('conference');
    await conf.and(alice.page.locator('[data-phase="active"]')).waitFor({ timeout: 15_000 });
    const uri = (await conf.getAttribute('data-uri'))!;
    check(uri.startsWith('sip:conf-'), `conference created: ${uri}`);
    for (const p of [bob, carol]) {
      await p.page.getByTestId('dial-input').fill(uri);
      await p.page.getByTestId('dial-button').click();
      await p.page.locator('[data-testid="line"][data-state="active"]').waitFor({ timeout: 15_000 });
    }
    let last: Record<string, Awaited<ReturnType<typeof tilesOf>>> = {};
    for (let i = 0; i < 60; i++) {
      last = { alice: await tilesOf(alice), bob: await tilesOf(bob), carol: await tilesOf(carol) };
      if (Object.values(last).every((t) => t.filter((x) => x.local === 'false' && x.live === 'true').length >= 2))
        break;
      await alice.page.waitForTimeout(250);
    }
    for (const [who, tiles] of Object.entries(last)) {
      const remote = tiles.filter((t) => t.local === 'false');
      check(
        remote.length >= 2 && tiles.some((t) => t.local === 'true'),
        `${who}: ${remote.length} remote tile(s) (${remote.filter((t) => t.live === 'true').length} live) + own preview`,
      );
    }
    // Active speaker: the roster's speaking flag, and the tile outlined for it. With three equally loud
    // tones the page cannot tell whose stream is whose by level, so it may outline nothing, but never
    // a wrong tile. Then alice and carol mute: bob alone speaks, and his tile must be outlined.
    const outlinedIsSpeaker = async (): Promise<{
      speakers: string[];
      outlined: number;
      ok: boolean | null;
      hz: number;
    }> => {
      const speakers = await alice.page
        .locator('[data-testid="roster-entry"][data-speaking="true"]')
        .evaluateAll((els) => els.map((e) => e.getAttribute('data-entity') ?? ''));
      const tiles = alice.page.locator('[data-testid="video-tile"][data-local="false"][data-speaking="true"]');
      const outlined = await tiles.count();
      if (speakers.length !== 1 || outlined !== 1) return { speakers, outlined, ok: null, hz: 0 };
      const streamId = await tiles.getAttribute('data-stream-id');
      const hz = await alice.page.evaluate(async (sid) => {
        const phone = window.conclave!.phone;
        const l = phone.getSnapshot().lines.find((x) => x.role === 'conference' && x.state === 'active')!;
        const track = l.remoteTracks.find(
          (t) => t.kind === 'audio' && l.remoteTrackSources.get(t.id)?.streamId === sid,
        );
        if (!track) return -1;
        const ctx = new AudioContext();
        const an = ctx.createAnalyser();
        an.fftSize = 8192;
        ctx.createMediaStreamSource(new MediaStream([track])).connect(an);
        await new Promise((r) => setTimeout(r, 800));
        const d = new Float32Array(an.frequencyBinCount);
        an.getFloatFrequencyData(d);
        let best = 0;
        for (let i = 1; i < d.length; i++) if (d[i]! > d[best]!) best = i;
        const f = (best * ctx.sampleRate) / 8192;
        await ctx.close();
        return Math.round(f);
      }, streamId);
      const who = (['alice', 'bob', 'carol'] as const).find((u) => speakers[0]!.includes(u))!;
      return { speakers, outlined, ok: Math.abs(hz - HZ[who]) < 25, hz };
    };
    let everyone = await outlinedIsSpeaker();
    for (let i = 0; i < 8 && everyone.ok === null; i++) {
      await alice.page.waitForTimeout(250);
      everyone = await outlinedIsSpeaker();
    }
    check(
      everyone.ok !== false,
      `all talking: roster speaker [${everyone.speakers.join(', ')}], outlined ${everyone.outlined}${everyone.ok === null ? ' (levels too close to tell: nothing outlined)' : `, its stream carries ${everyone.hz} Hz`}`,
    );
    await line(alice, 'conf').getByTestId('mute-button').click();
    await carol.page.locator('[data-testid="line"][data-state="active"]').getByTestId('mute-button').click();
    let bobAlone = await outlinedIsSpeaker();
    for (let i = 0; i < 40 && !(bobAlone.ok === true && bobAlone.speakers[0]?.includes('bob')); i++) {
      await alice.page.waitForTimeout(250);
      bobAlone = await outlinedIsSpeaker();
    }
    check(
      bobAlone.ok === true && bobAlone.speakers[0]?.includes('bob') === true,
      `only bob talks: roster speaker [${bobAlone.speakers.join(', ')}], outlined ${bobAlone.outlined}, its stream carries ${bobAlone.hz} Hz (bob ${HZ.bob})`,
    );
    await shot(alice, 'video-conference-desktop');
    await shot(carol, 'video-conference-phone');
    await hangUpAll(alice, bob, carol);
  } finally {
    await Promise.all([alice.browser.close(), bob.browser.close(), carol.browser.close()]);
  }
}

function note(what: string): void {
  process.stdout.write(`note ${what}\n`);
}

async function main(): Promise<void> {
  const scenarios: Record<string, () => Promise<void>> = {
    dtmf,
    transfer,
    devices,
    video,
    'conference-video': conferenceVideo,
  };
  const wanted = values.scenario === 'all' ? Object.keys(scenarios) : values.scenario.split(',');
  for (const name of wanted) {
    const run = scenarios[name];
    if (!run) throw new Error(`unknown scenario ${name}`);
    process.stdout.write(`== ${name}\n`);
    await run();
  }
  process.stdout.write(failures === 0 ? 'all checks passed\n' : `${failures} check(s) failed\n`);
  process.exitCode = failures === 0 ? 0 : 1;
}

await main();
