/**
 * `pnpm stress conference -- --runs 100 --mode intercept`: the conference flows run again and again with
 * real Chromium pages against a Conclave instance of its own (ports from the OS), printing every
 * failure and the join-time percentiles. Not part of `npm test`: it proves dependability over many
 * runs, where a test proves behaviour once.
 *
 * Scenarios (through the page's test ids only, as a user would):
 * - central: alice calls bob, holds, calls carol, clicks Conference; all three rosters show three
 *   connected parties and every page hears both others (FFT of the received audio);
 * - growth: the same, then a conference plus another call, Conference, again and again up to
 *   --parties; every roster complete, the newest and the oldest hear each other.
 * Between runs every page hangs up and the instance must return to idle (/metrics), so a leak fails
 * the run that caused it.
 */
import { parseArgs } from 'node:util';
import { ConclaveInstance } from '../support/instances.ts';
import { ensureToneFiles, type UserName } from '../support/tones.ts';
import { connectedEntries, growBy, hangUpAll, JOIN_WAIT_MS, openAll } from '../support/conference.ts';
import { expectAllHear, mergeIntoConference, type UserPage } from '../support/phone.ts';
import { notIdle, readCounts, WORKERS } from '../support/live-counts.ts';

const USAGE = `usage: pnpm stress conference -- [options]

Runs the ad-hoc conference flows with real browsers, again and again, and prints failures and
join-time percentiles. Each mode gets its own Conclave instance on ports the OS picks.

options:
  --runs N           runs per mode and scenario (default 20)
  --mode M           intercept | pass-through | both (default both)
  --scenario S       central | growth | both (default central)
  --parties N        growth: how many parties the conference grows to, 4..8 (default 8)
  --no-audio         skip the FFT checks (rosters only; faster)
  --help             this text
`;

const CONFIG: Record<Mode, string> = {
  intercept: 'conclave.e2e.json',
  'pass-through': 'conclave.e2e-passthrough.json',
};
const ALL_USERS: UserName[] = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi'];
type Mode = 'intercept' | 'pass-through';
type Scenario = 'central' | 'growth';

interface RunResult {
  ok: boolean;
  /** ms from each Conference click until the new party was in alice's roster. */
  joins: number[];
  /** growth: ms from each Answer click until alice's call to that party was active. */
  answers: number[];
  error?: string;
}

/** A run's check failed (roster, audio, not idle afterwards). */
class RunFailure extends Error {
  override name = 'RunFailure';
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** A page's roster as it shows it: entity and status of every entry. */
async function rosterOf(p: UserPage): Promise<string> {
  const entries = await p.page
    .locator('[data-testid="roster-entry"]')
    .evaluateAll((els) =>
      els.map(
        (e) =>
          `${e.getAttribute('data-entity') ?? e.textContent?.trim().slice(0, 20)}=${e.getAttribute('data-status')}`,
      ),
    );
  return entries.join(', ') || 'empty';
}

async function waitIdle(url: string, workers: number, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let busy: string[] = [];
  while (Date.now() < deadline) {
    busy = notIdle(await readCounts(url), workers);
    if (busy.length === 0) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new RunFailure(`not idle ${timeoutMs} ms after the run: ${busy.join(', ')}`);
}

async function runCentral(pages: UserPage[], audio: boolean): Promise<Pick<RunResult, 'joins' | 'answers'>> {
  const [alice, bob, carol] = pages as [UserPage, UserPage, UserPage];
  const clicked = await mergeIntoConference(alice, bob, carol);
  await connectedEntries(alice).nth(2).waitFor({ timeout: 10_000 });
  const joinMs = Date.now() - clicked;
  for (const p of pages) {
    await connectedEntries(p)
      .nth(2)
      .waitFor({ timeout: 10_000 })
      .catch(() => undefined);
    const n = await connectedEntries(p).count();
    if (n !== 3) throw new RunFailure(`${p.user}'s roster shows ${n} connected, not 3: ${await rosterOf(p)}`);
  }
  if (audio)
    await expectAllHear(
      pages,
      new Map([
        [alice, ['bob', 'carol']],
        [bob, ['alice', 'carol']],
        [carol, ['alice', 'bob']],
      ]),
    );
  return { joins: [joinMs], answers: [] };
}

async function runGrowth(pages: UserPage[], audio: boolean): Promise<Pick<RunResult, 'joins' | 'answers'>> {
  const [alice, bob, carol] = pages as [UserPage, UserPage, UserPage];
  const clicked = await mergeIntoConference(alice, bob, carol);
  await connectedEntries(alice).nth(2).waitFor({ timeout: 10_000 });
  const joins = [Date.now() - clicked];
  const answers: number[] = [];
  for (let i = 3; i < pages.length; i++) {
    const step = await growBy(alice, pages[i]!, i + 1);
    joins.push(step.joinedMs);
    answers.push(step.answeredMs);
  }
  for (const p of pages) {
    await connectedEntries(p)
      .nth(pages.length - 1)
      .waitFor({ timeout: JOIN_WAIT_MS })
      .catch(() => undefined);
    const n = await connectedEntries(p).count();
    if (n !== pages.length)
      throw new RunFailure(`${p.user}'s roster shows ${n} connected, not ${pages.length}: ${await rosterOf(p)}`);
  }
  const newest = pages[pages.length - 1]!;
  if (audio)
    await expectAllHear(
      [newest, bob],
      new Map([
        [newest, ['bob']],
        [bob, [newest.user]],
      ]),
    );
  return { joins, answers };
}

async function stressOne(
  mode: Mode,
  scenario: Scenario,
  runs: number,
  parties: number,
  audio: boolean,
): Promise<RunResult[]> {
  const instance = await ConclaveInstance.start(`stress-${mode}`, CONFIG[mode]);
  const url = instance.url;
  const users = scenario === 'central' ? ALL_USERS.slice(0, 3) : ALL_USERS.slice(0, parties);
  const results: RunResult[] = [];
  let pages: UserPage[] = [];
  try {
    const workers = (await readCounts(url))[WORKERS]!;
    for (let run = 1; run <= runs; run++) {
      if (pages.length === 0) pages = await openAll(users, url);
      const started = Date.now();
      let result: RunResult;
      try {
        const measured = scenario === 'central' ? await runCentral(pages, audio) : await runGrowth(pages, audio);
        await Promise.all(pages.map((p) => hangUpAll(p)));
        await waitIdle(url, workers);
        result = { ok: true, ...measured };
      } catch (err) {
        result = { ok: false, joins: [], answers: [], error: (err as Error).message.split('\n').slice(0, 8).join(' ') };
        // A fresh start for the next run: new browsers, and the instance back to idle.
        await Promise.all(pages.map((p) => p.close().catch(() => undefined)));
        pages = [];
        await waitIdle(url, workers).catch((e: Error) =>
          console.log(`  [${mode} ${scenario}] after the failure: ${e.message}`),
        );
      }
      results.push(result);
      const answered = result.answers.length ? `, answered ${result.answers.join('/')} ms` : '';
      const line = result.ok ? `ok, joined ${result.joins.join('/')} ms${answered}` : `FAILED: ${result.error}`;
      console.log(
        `[${mode} ${scenario}] run ${run}/${runs}: ${line} (${((Date.now() - started) / 1000).toFixed(1)} s)`,
      );
    }
  } finally {
    await Promise.all(pages.map((p) => p.close().catch(() => undefined)));
    await instance.stop();
  }
  return results;
}

function summary(mode: Mode, scenario: Scenario, results: RunResult[]): string {
  const passed = results.filter((r) => r.ok);
  const head = `${mode.padEnd(12)} ${scenario.padEnd(7)} ${String(passed.length).padStart(3)}/${results.length} passed`;
  const joins = passed.flatMap((r) => r.joins).sort((a, b) => a - b);
  const answers = passed.flatMap((r) => r.answers).sort((a, b) => a - b);
  const spread = (xs: number[]) =>
    `p50 ${percentile(xs, 50)} ms, p90 ${percentile(xs, 90)} ms, p99 ${percentile(xs, 99)} ms, max ${xs[xs.length - 1]} ms`;
  const parts = [head];
  if (joins.length) parts.push(`join after the click: ${spread(joins)} (${joins.length} joins)`);
  if (answers.length) parts.push(`call active after Answer: ${spread(answers)} (${answers.length} calls)`);
  return parts.join('; ');
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2).filter((a) => a !== '--');
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      runs: { type: 'string', default: '20' },
      mode: { type: 'string', default: 'both' },
      scenario: { type: 'string', default: 'central' },
      parties: { type: 'string', default: '8' },
      'no-audio': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals[0] !== 'conference') {
    process.stderr.write(`unknown or missing stress target ${JSON.stringify(positionals[0] ?? '')}\n\n${USAGE}`);
    return 2;
  }
  const runs = Number(values.runs);
  const parties = Number(values.parties);
  const modes: Mode[] = values.mode === 'both' ? ['intercept', 'pass-through'] : [values.mode as Mode];
  const scenarios: Scenario[] = values.scenario === 'both' ? ['central', 'growth'] : [values.scenario as Scenario];
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${values.runs}`);
  if (!Number.isInteger(parties) || parties < 4 || parties > ALL_USERS.length)
    throw new Error(`--parties must be 4..${ALL_USERS.length}, got ${values.parties}`);
  for (const m of modes)
    if (!(m in CONFIG)) throw new Error(`--mode must be intercept, pass-through or both, got ${m}`);
  if (!['central', 'growth', 'both'].includes(values.scenario))
    throw new Error(`--scenario must be central, growth or both, got ${values.scenario}`);

  ensureToneFiles();
  const lines: string[] = [];
  let failed = 0;
  for (const mode of modes) {
    for (const scenario of scenarios) {
      const results = await stressOne(mode, scenario, runs, parties, !values['no-audio']);
      failed += results.filter((r) => !r.ok).length;
      lines.push(summary(mode, scenario, results));
    }
  }
  console.log(
    `\nstress conference (${runs} runs each${values['no-audio'] ? ', rosters only' : ', rosters and audio'}):`,
  );
  for (const l of lines) console.log(`  ${l}`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`stress: ${err.message}`);
    process.exit(2);
  },
);
