/**
 * The live counts an instance's /metrics (served to loopback) exposes, and what "idle" means: every
 * call, conference, participant, subscription, SIP dialog and pending INVITE, mediasoup object and
 * mixer process gone, and the mediasoup workers all there. Used by the leak check after every e2e
 * test and by the stress command between runs.
 */

/** Counts that must drop to zero; registrations and SIP transactions (timers) legitimately linger. */
export const LEAK_CHECKED = [
  'conclave_calls',
  'conclave_conferences',
  'conclave_participants',
  'conclave_conference_members',
  'conclave_subscriptions',
  'conclave_sip_dialogs',
  'conclave_sip_pending_invites',
  'conclave_media_rooms',
  'conclave_media_legs',
  'conclave_media_routers',
  'conclave_media_transports',
  'conclave_media_producers',
  'conclave_media_consumers',
  'conclave_media_mixer_processes',
] as const;
export const WORKERS = 'conclave_media_workers';

export type Counts = Record<string, number>;

export async function readCounts(baseURL: string): Promise<Counts> {
  const res = await fetch(`${baseURL}/metrics`);
  if (res.status !== 200) throw new Error(`GET ${baseURL}/metrics answered ${res.status}`);
  const counts: Counts = {};
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-z_]+) (\S+)$/.exec(line);
    if (m && (m[1] === WORKERS || (LEAK_CHECKED as readonly string[]).includes(m[1]!))) counts[m[1]!] = Number(m[2]);
  }
  return counts;
}

/** What is not idle: a live count above zero, or a worker count other than `workers` (when given). */
export function notIdle(now: Counts, workers: number | undefined): string[] {
  const busy = LEAK_CHECKED.filter((k) => now[k] !== 0).map((k) => `${k} = ${now[k]}`);
  if (workers !== undefined && now[WORKERS] !== workers) busy.push(`${WORKERS} = ${now[WORKERS]} (was ${workers})`);
  return busy;
}
