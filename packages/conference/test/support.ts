import { createLogger, type Logger } from '@conclave/log';
import { Conference, type ConferenceOptions } from '../src/index.ts';

export interface CapturedLogger {
  logger: Logger;
  lines: string[];
}

/** A logger that keeps its lines in memory (tests stay quiet and can assert on them). */
export function captureLogger(): CapturedLogger {
  const lines: string[] = [];
  return { logger: createLogger('test', { level: 'debug', sink: (line) => lines.push(line) }), lines };
}

/** A clock the test moves by hand. */
export function manualClock(start = Date.UTC(2026, 0, 15, 10, 0, 0)): {
  now: () => number;
  advance: (ms: number) => void;
} {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

export function sequence(prefix: string): () => string {
  let n = 0;
  return () => `${prefix}${++n}`;
}

export function newConference(options: Partial<ConferenceOptions> = {}): Conference {
  return new Conference({
    id: 'cf_test',
    uri: 'sip:conf-test@example.com',
    creator: 'sip:alice@example.com',
    logger: captureLogger().logger,
    now: manualClock().now,
    participantIdGenerator: sequence('p'),
    ...options,
  });
}

/** Records every event a conference emits, in order. */
export function recordEvents(conference: Conference): string[] {
  const events: string[] = [];
  conference.on('participantJoined', (p) => events.push(`joined ${p.id}`));
  conference.on('participantUpdated', (p, change) => events.push(`updated ${p.id} ${change}`));
  conference.on('participantLeft', (p) => events.push(`left ${p.id} ${p.disconnectionMethod}`));
  conference.on('lockChanged', (locked) => events.push(`lock ${locked}`));
  conference.on('speakerChanged', (p) => events.push(`speaker ${p?.id ?? 'none'}`));
  conference.on('descriptionChanged', () => events.push('description'));
  conference.on('changed', () => events.push('changed'));
  conference.on('ended', (reason) => events.push(`ended ${reason ?? ''}`));
  return events;
}
