/**
 * Screenshots of the page in headless Chromium (Debian's /usr/bin/chromium), for eyeballing the UI.
 *
 *   node apps/web/scripts/screenshots.ts [--url http://127.0.0.1:8080] [--out apps/web/screenshots]
 *        [--scenario login|registered|call] [--tones /tmp/tones]
 *
 * Without --url a `vite preview` of apps/web/dist is started on port 4199 (run `vite build` first;
 * CONCLAVE_WS_URI points it at another SIP server, e.g. scripts/dev-sip-relay.ts).
 * "registered" and "call" need a SIP server (node apps/conclave/src/main.ts, or the dev relay).
 * "call" also checks what the e2e tests will: remote-audio elements carry the caller's tone
 * (tone-1000.wav for alice, tone-600.wav for bob in --tones; made with sox), hold, mute, errors.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Browser, Page } from '@playwright/test';
import { launch, mergeThree, signIn } from './page-steps.ts';

const here = dirname(fileURLToPath(import.meta.url));
const webRoot = resolve(here, '..');

const { values } = parseArgs({
  options: {
    help: { type: 'boolean', short: 'h' },
    url: { type: 'string' },
    out: { type: 'string', default: join(webRoot, 'screenshots') },
    scenario: { type: 'string', default: 'login' },
    tones: { type: 'string', default: join(tmpdir(), 'webtest') },
  },
});
if (values.help) {
  process.stdout
    .write(`usage: node apps/web/scripts/screenshots.ts [--url URL] [--out DIR] [--scenario login|registered|call] [--tones DIR]
Screenshots of the page in headless Chromium. Without --url a vite preview of apps/web/dist is started.
`);
  process.exit(0);
}
const outDir = resolve(values.out);
mkdirSync(outDir, { recursive: true });

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

async function startPreview(): Promise<{ url: string; child: ChildProcess }> {
  const port = 4199;
  const child = spawn(
    process.execPath,
    [join(webRoot, 'node_modules/vite/bin/vite.js'), 'preview', '--port', String(port), '--strictPort'],
    {
      cwd: webRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 50; i++) {
    try {
      const r = await fetch(url);
      if (r.ok) return { url, child };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill();
  throw new Error('vite preview did not start');
}

async function shot(page: Page, name: string): Promise<void> {
  const file = join(outDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  process.stdout.write(`wrote ${file}\n`);
}

async function main(): Promise<void> {
  const preview = values.url ? null : await startPreview();
  const url = values.url ?? preview!.url;
  const browsers: Browser[] = [];
  try {
    if (values.scenario === 'call') {
      await callScenario(url, browsers);
      return;
    }
    if (values.scenario === 'reinvite') {
      await reinviteScenario(url, browsers);
      return;
    }
    if (values.scenario === 'conference') {
      await conferenceScenario(url, browsers);
      return;
    }
    if (values.scenario === 'multi') {
      await multiScenario(url, browsers);
      return;
    }
    const browser = await launch();
    browsers.push(browser);
    for (const [label, viewport] of [
      ['desktop', DESKTOP],
      ['phone', PHONE],
    ] as const) {
      const page = await browser.newPage({ viewport, colorScheme: 'light' });
      page.on('pageerror', (e) => process.stderr.write(`pageerror: ${e.message}\n`));
      await page.goto(url);
      await page.getByTestId('login-submit').waitFor();
      if (values.scenario === 'login') {
        await shot(page, `login-${label}`);
        await page.getByTestId('login-user').fill('mallory');
        await page.getByTestId('login-password').fill('nope');
        await page.getByTestId('login-submit').click();
        await page.waitForTimeout(2500);
        await shot(page, `login-attempt-${label}`);
      } else if (values.scenario === 'registered') {
        await signIn(page, 'alice');
        await shot(page, `registered-${label}`);
      }
      await page.close();
    }
  } finally {
    for (const b of browsers) await b.close();
    preview?.child.kill();
  }
}

/** Dominant frequency of the first remote-audio element for `party` (Hz), measured in the page. */
async function remoteTone(page: Page, party: string): Promise<number[]> {
  return page.evaluate(async (p) => {
    const els = [...document.querySelectorAll<HTMLAudioElement>(`[data-testid="remote-audio"][data-party="${p}"]`)];
    const ctx = new AudioContext();
    const result: number[] = [];
    for (const el of els) {
      const src = ctx.createMediaStreamSource(el.srcObject as MediaStream);
      const an = ctx.createAnalyser();
      an.fftSize = 8192;
      src.connect(an);
      await new Promise((r) => setTimeout(r, 1200));
      const bins = new Float32Array(an.frequencyBinCount);
      an.getFloatFrequencyData(bins);
      let best = 0;
      for (let i = 1; i < bins.length; i++) if ((bins[i] ?? -Infinity) > (bins[best] ?? -Infinity)) best = i;
      result.push(Math.round((best * ctx.sampleRate) / an.fftSize));
    }
    await ctx.close();
    return result;
  }, party);
}

function check(ok: boolean, what: string): void {
  process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${what}\n`);
  if (!ok) process.exitCode = 1;
}

function opener(url: string, browsers: Browser[]) {
  const tones = resolve(values.tones);
  return async (user: string, tone: string, viewport: { width: number; height: number } = DESKTOP): Promise<Page> => {
    const browser = await launch(join(tones, tone));
    browsers.push(browser);
    const page = await browser.newPage({ viewport });
    page.on('pageerror', (e) => process.stderr.write(`[${user}] pageerror: ${e.message}\n`));
    await page.goto(url);
    await signIn(page, user);
    return page;
  };
}

/**
 * What a conference focus does to a call: a re-INVITE that adds an audio m-line (a second remote
 * track must get its own remote-audio element), then one that removes it again (port 0).
 * Bob's page plays the focus here: it adds a 1500 Hz oscillator track and renegotiates.
 */
async function reinviteScenario(url: string, browsers: Browser[]): Promise<void> {
  const open = opener(url, browsers);
  const alice = await open('alice', 'tone-1000.wav');
  const bob = await open('bob', 'tone-600.wav');
  const domain = (await alice.evaluate(() => window.conclave?.phone.config.domain)) ?? '127.0.0.1';
  const bobUri = `sip:bob@${domain}`;
  await alice.getByTestId('dial-input').fill('bob');
  await alice.getByTestId('dial-button').click();
  await bob.getByTestId('answer-button').click();
  await alice.locator(`[data-testid="line"][data-party="${bobUri}"][data-state="active"]`).waitFor();
  const audios = alice.locator(`[data-testid="remote-audio"][data-party="${bobUri}"]`);
  await audios.first().waitFor({ state: 'attached' });
  check((await audios.count()) === 1, 'one remote-audio element before the re-INVITE');

  await bob.evaluate(() => {
    const snap = window.conclave!.phone.getSnapshot();
    const line = window.conclave!.phone.debugLine(snap.lines[0]!.id)!;
    const pc = line.session.connection;
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    osc.frequency.value = 1500;
    const dst = ctx.createMediaStreamDestination();
    osc.connect(dst);
    osc.start();
    const track = dst.stream.getAudioTracks()[0]!;
    (window as unknown as { extraSender: RTCRtpSender }).extraSender = pc.addTransceiver(track, {
      direction: 'sendonly',
      streams: [dst.stream],
    }).sender;
    line.session.renegotiate();
  });
  await audios.nth(1).waitFor({ state: 'attached', timeout: 10000 });
  await alice.waitForTimeout(1500);
  const heard = await remoteTone(alice, bobUri);
  check(
    heard.length === 2 && heard.some((f) => Math.abs(f - 600) < 15) && heard.some((f) => Math.abs(f - 1500) < 15),
    `re-INVITE adding an m-line: two remote-audio elements, tones ${heard.join(', ')} Hz`,
  );
  await shot(alice, 'reinvite-two-tracks-desktop');

  await bob.evaluate(() => {
    const snap = window.conclave!.phone.getSnapshot();
    const line = window.conclave!.phone.debugLine(snap.lines[0]!.id)!;
    const pc = line.session.connection;
    const sender = (window as unknown as { extraSender: RTCRtpSender }).extraSender;
    pc.getTransceivers()
      .find((t) => t.sender === sender)
      ?.stop();
    line.session.renegotiate();
  });
  await alice.waitForFunction(
    (party) => document.querySelectorAll(`[data-testid="remote-audio"][data-party="${party}"]`).length === 1,
    bobUri,
    { timeout: 10000 },
  );
  check(true, 're-INVITE removing the m-line (port 0): back to one remote-audio element');
  const after = await remoteTone(alice, bobUri);
  check(after.length === 1 && Math.abs((after[0] ?? 0) - 600) < 15, `still hearing bob (${after.join(', ')} Hz)`);
  await alice.locator(`[data-testid="line"][data-party="${bobUri}"]`).getByTestId('hangup-button').click();
  await alice.locator('[data-testid="phone"][data-idle="true"]').waitFor();
}

/** All tones heard on a page, over every remote-audio element. */
async function allTones(page: Page): Promise<number[]> {
  const parties = await page
    .locator('[data-testid="remote-audio"]')
    .evaluateAll((els) => [...new Set(els.map((e) => e.getAttribute('data-party') ?? ''))]);
  const out: number[] = [];
  for (const p of parties) out.push(...(await remoteTone(page, p)));
  return out.sort((a, b) => a - b);
}

/** alice calls bob, holds, calls carol, merges: RFC 4579 conference through the focus. */
async function conferenceScenario(url: string, browsers: Browser[]): Promise<void> {
  const open = opener(url, browsers);
  const alice = await open('alice', 'tone-1000.wav');
  const bob = await open('bob', 'tone-600.wav');
  const carol = await open('carol', 'tone-1500.wav', PHONE);
  const domain = (await alice.evaluate(() => window.conclave?.phone.config.domain)) ?? '127.0.0.1';
  const line = (page: Page, user: string, state?: string) =>
    page.locator(`[data-testid="line"][data-party="sip:${user}@${domain}"]${state ? `[data-state="${state}"]` : ''}`);

  await mergeThree(alice, bob, carol, line);
  const confLine = alice.locator('[data-testid="line"][data-role="conference"][data-state="active"]');
  await confLine.waitFor({ timeout: 15000 });
  check(true, `conference line active (party ${await confLine.getAttribute('data-party')})`);
  const conferenceUri = await alice.getByTestId('conference').getAttribute('data-uri');
  check(Boolean(conferenceUri), `conference URI from the ;isfocus Contact: ${conferenceUri}`);
  await line(alice, 'bob')
    .waitFor({ state: 'detached', timeout: 15000 })
    .then(
      () => check(true, "alice's 1:1 line to bob is gone"),
      () => check(false, "alice's 1:1 line to bob is gone"),
    );
  await line(alice, 'carol')
    .waitFor({ state: 'detached', timeout: 15000 })
    .then(
      () => check(true, "alice's 1:1 line to carol is gone"),
      () => check(false, "alice's 1:1 line to carol is gone"),
    );
  await alice
    .waitForFunction(
      () => document.querySelectorAll('[data-testid="roster-entry"][data-status="connected"]').length >= 3,
      undefined,
      { timeout: 15000 },
    )
    .then(
      () => check(true, 'roster shows 3 connected entries'),
      () => check(false, 'roster shows 3 connected entries'),
    );
  const roster = await alice
    .locator('[data-testid="roster-entry"]')
    .evaluateAll((els) => els.map((e) => `${e.getAttribute('data-entity')}=${e.getAttribute('data-status')}`));
  process.stdout.write(`     roster: ${roster.join(' ')}\n`);
  await alice.waitForTimeout(2000);
  const a = await allTones(alice);
  const b = await allTones(bob);
  const c = await allTones(carol);
  const has = (list: number[], f: number) => list.some((x) => Math.abs(x - f) < 15);
  check(has(a, 600) && has(a, 1500), `alice hears bob and carol (${a.join(', ')} Hz)`);
  check(has(b, 1000) && has(b, 1500), `bob hears alice and carol (${b.join(', ')} Hz)`);
  check(has(c, 1000) && has(c, 600), `carol hears alice and bob (${c.join(', ')} Hz)`);
  process.stdout.write(
    `     bob's lines: ${JSON.stringify(await bob.locator('[data-testid="line"]').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-party')}:${e.getAttribute('data-state')}:${e.getAttribute('data-role')}`)))}\n`,
  );
  await shot(alice, 'conference-creator-desktop');
  await shot(bob, 'conference-participant-desktop');
  await shot(carol, 'conference-participant-phone');
  await confLine.getByTestId('hangup-button').click();
  await alice.locator('[data-testid="phone"][data-idle="true"]').waitFor();
  check(true, 'alice leaves: idle');
}

/** Two calls at once: answer a second call with "hold current & answer", then the conference button. */
async function multiScenario(url: string, browsers: Browser[]): Promise<void> {
  const open = opener(url, browsers);
  const alice = await open('alice', 'tone-1000.wav');
  const bob = await open('bob', 'tone-600.wav');
  const carol = await open('carol', 'tone-1500.wav');
  const domain = (await alice.evaluate(() => window.conclave?.phone.config.domain)) ?? '127.0.0.1';
  const line = (page: Page, user: string, state?: string) =>
    page.locator(`[data-testid="line"][data-party="sip:${user}@${domain}"]${state ? `[data-state="${state}"]` : ''}`);

  await alice.getByTestId('dial-input').fill('bob');
  await alice.getByTestId('dial-button').click();
  await bob.getByTestId('answer-button').click();
  await line(alice, 'bob', 'active').waitFor();
  await carol.getByTestId('dial-input').fill('alice');
  await carol.getByTestId('dial-button').click();
  await alice.getByTestId('incoming-call').waitFor();
  check(
    await alice.getByTestId('hold-and-answer-button').isVisible(),
    'second incoming call offers "hold current & answer"',
  );
  await shot(alice, 'multi-second-incoming-desktop');
  await alice.getByTestId('hold-and-answer-button').click();
  await line(alice, 'carol', 'active').waitFor();
  await line(alice, 'bob', 'held').waitFor();
  check(true, 'bob held, carol active');
  // Only when hold reaches bob: a media-anchoring B2BUA (the Conclave focus) may keep it to itself.
  const remoteHeld = await bob
    .locator('[data-testid="line"][data-remote-hold="true"]')
    .waitFor({ timeout: 3000 })
    .then(
      () => true,
      () => false,
    );
  process.stdout.write(`     bob ${remoteHeld ? 'sees' : 'does not see'} the remote hold (data-remote-hold)\n`);
  check(await alice.getByTestId('conference-button').isEnabled(), 'conference-button enabled with 1 held + 1 active');
  const tones = await remoteTone(alice, `sip:carol@${domain}`);
  check(
    tones.some((f) => Math.abs(f - 1500) < 15),
    `alice hears carol's 1500 Hz tone (${tones.join(', ')} Hz)`,
  );
  await shot(alice, 'multi-held-and-active-desktop');
  await shot(bob, 'multi-remote-held-desktop');
  await line(alice, 'carol').getByTestId('hangup-button').click();
  await line(alice, 'bob').getByTestId('resume-button').click();
  await line(alice, 'bob', 'active').waitFor();
  await line(alice, 'bob').getByTestId('hangup-button').click();
  await alice.locator('[data-testid="phone"][data-idle="true"]').waitFor();
  check(true, 'idle after hanging up both');
}

async function callScenario(url: string, browsers: Browser[]): Promise<void> {
  const open = opener(url, browsers);
  const alice = await open('alice', 'tone-1000.wav');
  const bob = await open('bob', 'tone-600.wav', PHONE);
  const domain = (await alice.evaluate(() => window.conclave?.phone.config.domain)) ?? '127.0.0.1';
  const aliceUri = `sip:alice@${domain}`;
  const bobUri = `sip:bob@${domain}`;

  await alice.getByTestId('dial-input').fill('bob');
  await alice.getByTestId('dial-button').click();
  await bob.getByTestId('incoming-call').waitFor();
  check(
    (await bob.getByTestId('incoming-call').getAttribute('data-party')) === aliceUri,
    'incoming-call data-party is the caller URI',
  );
  check(
    (await bob.getByTestId('incoming-call').textContent())?.includes('Alice') === true,
    'incoming call shows the display name',
  );
  await alice.locator(`[data-testid="line"][data-party="${bobUri}"][data-state="ringing"]`).waitFor();
  await shot(alice, 'call-ringing-caller-desktop');
  await shot(bob, 'call-incoming-phone');
  await bob.getByTestId('answer-button').click();
  await alice.locator(`[data-testid="line"][data-party="${bobUri}"][data-state="active"]`).waitFor();
  await bob.locator(`[data-testid="line"][data-party="${aliceUri}"][data-state="active"]`).waitFor();
  check((await alice.getByTestId('phone').getAttribute('data-idle')) === 'false', 'phone is not idle during a call');
  await alice.locator(`[data-testid="remote-audio"][data-party="${bobUri}"]`).first().waitFor({ state: 'attached' });
  await alice.waitForTimeout(1500);
  const heardByAlice = await remoteTone(alice, bobUri);
  const heardByBob = await remoteTone(bob, aliceUri);
  check(
    heardByAlice.some((f) => Math.abs(f - 600) < 15),
    `alice hears bob's 600 Hz tone (${heardByAlice.join(', ')} Hz)`,
  );
  check(
    heardByBob.some((f) => Math.abs(f - 1000) < 15),
    `bob hears alice's 1000 Hz tone (${heardByBob.join(', ')} Hz)`,
  );
  await shot(alice, 'call-active-desktop');
  await shot(bob, 'call-active-phone');

  const aliceLine = alice.locator(`[data-testid="line"][data-party="${bobUri}"]`);
  await aliceLine.getByTestId('mute-button').click();
  await alice.locator(`[data-testid="line"][data-muted="true"]`).waitFor();
  check(true, 'mute sets data-muted=true');
  await aliceLine.getByTestId('mute-button').click();
  await aliceLine.getByTestId('hold-button').click();
  await alice.locator(`[data-testid="line"][data-party="${bobUri}"][data-state="held"]`).waitFor();
  check(true, 'hold: line data-state=held');
  check(
    (await alice.getByTestId('conference-button').isDisabled()) === true,
    'conference-button disabled with only one (held) call',
  );

  // Second call while the first is held, then errors.
  await alice.getByTestId('dial-input').fill('carol');
  await alice.getByTestId('dial-button').click();
  await alice.locator(`[data-testid="line"][data-party="sip:carol@${domain}"][data-state="ended"]`).waitFor();
  for (const who of ['busy', 'nomedia']) {
    await alice.getByTestId('dial-input').fill(who);
    await alice.getByTestId('dial-button').click();
  }
  await alice.locator(`[data-testid="line"][data-state="ended"]`).nth(1).waitFor();
  await shot(alice, 'call-held-and-errors-desktop');
  const texts = await alice.locator('[data-testid="line"][data-state="ended"]').allTextContents();
  process.stdout.write(`     ended lines: ${JSON.stringify(texts)}\n`);

  await alice.locator(`[data-testid="line"][data-party="${bobUri}"]`).getByTestId('resume-button').click();
  await alice.locator(`[data-testid="line"][data-party="${bobUri}"][data-state="active"]`).waitFor();
  check(true, 'resume: line data-state=active');
  await bob.locator(`[data-testid="line"][data-party="${aliceUri}"]`).getByTestId('hangup-button').click();
  await alice.locator(`[data-testid="line"][data-party="${bobUri}"][data-state="ended"]`).waitFor();
  check(true, 'remote hangup ends the line (data-state=ended)');
  await alice.locator('[data-testid="phone"][data-idle="true"]').waitFor();
  check(true, 'phone becomes idle');
  await alice.locator('[data-testid="line"]').first().waitFor({ state: 'detached', timeout: 10000 });
  check(true, 'ended lines disappear');
}

await main();
