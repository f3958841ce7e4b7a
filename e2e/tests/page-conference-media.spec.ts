/**
 * Issue 12, checked in the page as its users would: a three-party video conference with distinct
 * cameras (a solid colour each) and tones; every remote tile is named after the participant whose
 * colour it shows; per-listener volume and local mute change only that listener's playback; a
 * joiner who starts muted is heard by nobody until it unmutes. And issue 8 item 8, page side: the
 * other party's hold of a 1:1 call is shown as "on hold by <party>".
 *
 * `E2E_SCREENSHOTS=1` also writes the README screenshots to apps/web/screenshots/.
 */
import { test, expect } from '../support/fixtures.ts';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  dial,
  expectRegistered,
  line,
  login,
  mergeIntoConference,
  openUserPage,
  type UserPage,
} from '../support/phone.ts';
import { E2E_BASE_URL, E2E_DOMAIN } from '../support/env.ts';
import { TONES, type UserName } from '../support/tones.ts';
import { CAMERAS, has, openVideoUserPage, tileColours, untilPlayed } from '../support-page/video-user.ts';

const SHOTS = process.env['E2E_SCREENSHOTS']
  ? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'apps', 'web', 'screenshots')
  : null;
const uri = (u: UserName) => `sip:${u}@${E2E_DOMAIN}`;

async function shot(p: UserPage, name: string, width = 1100): Promise<void> {
  if (!SHOTS) return;
  await p.page.setViewportSize({ width, height: 1400 });
  await p.page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** The admin API (HTTP Basic, as documented for curl): mute or unmute a participant by user. */
async function moderate(conferenceUri: string, u: UserName, action: 'mute' | 'unmute'): Promise<void> {
  const headers = { Authorization: `Basic ${Buffer.from('admin:admin-secret').toString('base64')}` };
  const list = (await (await fetch(`${E2E_BASE_URL}/api/conferences`, { headers })).json()) as
    { conferences?: { id: string; uri: string }[] } | { id: string; uri: string }[];
  const conferences = Array.isArray(list) ? list : (list.conferences ?? []);
  const conf = conferences.find((c) => c.uri === conferenceUri);
  if (!conf) throw new Error(`conference ${conferenceUri} not in the admin API: ${JSON.stringify(list)}`);
  const detail = (await (await fetch(`${E2E_BASE_URL}/api/conferences/${conf.id}`, { headers })).json()) as {
    participants: { id: string; entity: string }[];
  };
  const participant = detail.participants.find((x) => x.entity === uri(u));
  if (!participant) throw new Error(`${u} not in ${JSON.stringify(detail.participants)}`);
  const res = await fetch(`${E2E_BASE_URL}/api/conferences/${conf.id}/participants/${participant.id}/${action}`, {
    method: 'POST',
    headers,
  });
  if (!res.ok) throw new Error(`${action} ${u}: ${res.status} ${await res.text()}`);
}

function entry(p: UserPage, u: UserName) {
  return p.page.locator(`[data-testid="roster-entry"][data-entity="${uri(u)}"]`);
}

test.describe('conference media in the page', () => {
  let pages: UserPage[] = [];
  test.afterEach(async () => {
    await Promise.all(pages.map((p) => p.close().catch(() => {})));
    pages = [];
  });

  test('named tiles, per-listener volume and mute, join muted', async () => {
    test.setTimeout(240_000);
    const [alice, bob, carol] = await Promise.all([
      openVideoUserPage('alice'),
      openVideoUserPage('bob'),
      openVideoUserPage('carol'),
    ]);
    pages.push(alice, bob, carol);
    await Promise.all([alice, bob, carol].map((p) => login(p)));
    await Promise.all([alice, bob, carol].map((p) => expectRegistered(p)));
    for (const p of [alice, bob, carol]) await p.page.getByTestId('video-toggle').check();

    await mergeIntoConference(alice, bob, carol);
    for (const p of [alice, bob, carol]) {
      await expect(p.page.locator('[data-testid="roster-entry"][data-status="connected"]')).toHaveCount(3, {
        timeout: 15_000,
      });
    }

    // 1. Every page: two live remote tiles, each named after the participant whose colour it shows.
    const users = { alice, bob, carol };
    for (const [me, p] of Object.entries(users) as [UserName, UserPage][]) {
      const others = (Object.keys(users) as UserName[]).filter((u) => u !== me);
      const remoteTiles = p.page.locator('[data-testid="video-tile"][data-local="false"]');
      await expect(remoteTiles).toHaveCount(2, { timeout: 20_000 });
      await expect
        .poll(async () => (await tileColours(p.page)).map((t) => `${t.party}=${t.colour}`).sort(), {
          timeout: 20_000,
          message: `${me}'s tiles`,
        })
        .toEqual(others.map((u) => `${uri(u)}=${CAMERAS[u]}`).sort());
      for (const u of others) {
        await expect(p.page.locator(`[data-testid="video-tile"][data-party="${uri(u)}"]`)).toContainText(
          new RegExp(u, 'i'),
        );
        // Their voice is mapped to them too (per-participant playback).
        await expect(p.page.locator(`[data-testid="remote-audio"][data-participant="${uri(u)}"]`)).toHaveCount(1);
      }
      console.log(`${me}: tiles ${JSON.stringify(await tileColours(p.page))}`);
    }
    await expect(alice.page.getByTestId('video-tiles')).toHaveAttribute('data-layout', 'speaker');
    await expect(alice.page.locator('[data-testid="video-tile"][data-main="true"]')).toHaveCount(1);
    await shot(alice, 'conference-speaker-view-desktop');
    await alice.page.getByTestId('video-layout-grid').click();
    await expect(alice.page.getByTestId('video-tiles')).toHaveAttribute('data-layout', 'grid');
    await expect(alice.page.getByTestId('video-layout-grid')).toHaveAttribute('aria-pressed', 'true');
    await shot(alice, 'conference-grid-desktop');
    await shot(alice, 'conference-grid-phone', 390);
    await alice.page.setViewportSize({ width: 1100, height: 1400 });

    // Everyone hears both others before anything changes.
    await untilPlayed(alice, 'alice hears bob and carol', (t) => has(t, TONES.bob) && has(t, TONES.carol));
    await untilPlayed(carol, 'carol hears bob', (t) => has(t, TONES.bob));

    // 2a. alice sets bob's volume to 0 (keyboard: Home on the slider): alice no longer hears bob, carol still does.
    const bobVolume = entry(alice, 'bob').getByTestId('participant-volume');
    await bobVolume.focus();
    await bobVolume.press('Home');
    await expect(bobVolume).toHaveValue('0');
    let peaks = await untilPlayed(
      alice,
      'alice stops hearing bob (volume 0) but hears carol',
      (t) => !has(t, TONES.bob) && has(t, TONES.carol),
    );
    console.log(`alice, bob at volume 0: [${peaks.join(', ')}]`);
    peaks = await untilPlayed(carol, 'carol still hears bob', (t) => has(t, TONES.bob));
    console.log(`carol meanwhile: [${peaks.join(', ')}]`);
    await bobVolume.press('End');
    await expect(bobVolume).toHaveValue('100');
    await untilPlayed(alice, 'alice hears bob again at 100', (t) => has(t, TONES.bob));

    // 2b. alice mutes carol for herself: alice no longer hears carol, bob still does.
    const muteCarol = entry(alice, 'carol').getByTestId('participant-local-mute');
    await muteCarol.click();
    await expect(muteCarol).toHaveAttribute('aria-pressed', 'true');
    await shot(alice, 'conference-listener-controls-desktop');
    peaks = await untilPlayed(
      alice,
      'alice stops hearing carol (muted for her)',
      (t) => !has(t, TONES.carol) && has(t, TONES.bob),
    );
    console.log(`alice, carol muted locally: [${peaks.join(', ')}]`);
    peaks = await untilPlayed(bob, 'bob still hears carol', (t) => has(t, TONES.carol));
    console.log(`bob meanwhile: [${peaks.join(', ')}]`);
    // Remembered for the session: a reload keeps it (sessionStorage).
    expect(await alice.page.evaluate(() => sessionStorage.getItem('conclave.listening'))).toContain('carol');
    await muteCarol.press('Enter'); // keyboard toggles it back
    await expect(muteCarol).toHaveAttribute('aria-pressed', 'false');

    // 3a. The moderator mutes bob: bob's page says so, everyone's roster shows it; unmuting is announced too.
    const conferenceUri = await alice.page.getByTestId('conference').getAttribute('data-uri');
    expect(conferenceUri).toMatch(/^sip:conf-/);
    await moderate(conferenceUri!, 'bob', 'mute');
    await expect(bob.page.getByTestId('moderator-mute-notice')).toHaveAttribute('data-state', 'muted', {
      timeout: 10_000,
    });
    await expect(entry(alice, 'bob')).toHaveAttribute('data-status', 'muted-via-focus');
    await expect(entry(carol, 'bob')).toHaveAttribute('data-muted-by-focus', 'true');
    await shot(bob, 'conference-muted-by-moderator-desktop');
    await untilPlayed(
      alice,
      'alice no longer hears bob (muted by the moderator)',
      (t) => !has(t, TONES.bob) && has(t, TONES.carol),
    );
    await moderate(conferenceUri!, 'bob', 'unmute');
    await expect(bob.page.getByTestId('moderator-mute-notice')).toHaveAttribute('data-state', 'unmuted', {
      timeout: 10_000,
    });
    await expect(entry(alice, 'bob')).toHaveAttribute('data-status', 'connected');

    // 3b. carol leaves; dave joins the conference muted (dialling its URI): nobody hears him until he unmutes.
    await carol.close();
    pages = pages.filter((p) => p !== carol);
    const dave = await openUserPage('dave');
    pages.push(dave);
    await login(dave);
    await expectRegistered(dave);
    await dave.page.getByTestId('join-muted-toggle').check();
    await dial(dave, conferenceUri!);
    await expect(entry(alice, 'dave')).toHaveAttribute('data-status', 'connected', { timeout: 15_000 });
    const daveLine = dave.page.locator('[data-testid="line"][data-role="conference"], [data-testid="line"]').first();
    await expect(daveLine).toHaveAttribute('data-muted', 'true');
    await expect(daveLine).toHaveAttribute('data-state', 'active');
    // dave hears the others (media flows), and for several seconds nobody hears dave.
    await untilPlayed(dave, 'dave hears alice', (t) => has(t, TONES.alice));
    for (let i = 0; i < 3; i++) {
      for (const p of [alice, bob]) {
        const t = await untilPlayed(p, `${p.user} hears the conference`, (x) => x.length > 0);
        expect(has(t, TONES.dave), `${p.user} must not hear muted dave: [${t.join(', ')}]`).toBe(false);
      }
    }
    await daveLine.getByTestId('mute-button').click();
    await expect(daveLine).toHaveAttribute('data-muted', 'false');
    for (const p of [alice, bob])
      await untilPlayed(p, `${p.user} hears dave after he unmuted`, (t) => has(t, TONES.dave));
  });

  test('1:1 call: the other party holding is shown as "on hold by <party>" and cleared on resume', async () => {
    const [alice, bob] = await Promise.all([openUserPage('alice'), openUserPage('bob')]);
    pages.push(alice, bob);
    await Promise.all([login(alice), login(bob)]);
    await Promise.all([expectRegistered(alice), expectRegistered(bob)]);
    await dial(alice, 'bob');
    await bob.page.getByTestId('answer-button').click();
    await expect(line(alice, 'bob')).toHaveAttribute('data-state', 'active');
    await expect(line(alice, 'bob').getByTestId('remote-hold')).toHaveCount(0);
    await line(bob, 'alice').getByTestId('hold-button').click();
    await expect(line(bob, 'alice')).toHaveAttribute('data-state', 'held');
    await expect(line(alice, 'bob').getByTestId('remote-hold')).toContainText(/on hold by bob/i, { timeout: 10_000 });
    await expect(line(alice, 'bob')).toHaveAttribute('data-remote-hold', 'true');
    await shot(alice, 'call-on-hold-by-other-desktop');
    await line(bob, 'alice').getByTestId('resume-button').click();
    await expect(line(alice, 'bob').getByTestId('remote-hold')).toHaveCount(0, { timeout: 10_000 });
    await expect(line(alice, 'bob')).toHaveAttribute('data-remote-hold', 'false');
  });
});
