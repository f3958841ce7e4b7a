/**
 * The conference's DTMF menu (issue 9 item 4). In a conference a member's keys are commands for the
 * focus, not tones for the others (as in Asterisk's ConfBridge): they are never relayed.
 *
 *   *6   toggles the member's own mute. It is the focus mute a moderator uses (the leg stops being
 *        forwarded, the roster shows muted-via-focus, `by` the member itself). A mute a moderator
 *        set stays: *6 does not undo it.
 *
 * A command is `*` then one key within MENU_TIMEOUT_MS; any other key is ignored (logged). Commands
 * of one member run one after the other.
 */
import type { Conference } from '@conclave/conference';
import { SerialQueue } from '@conclave/events';
import type { Logger } from '@conclave/log';
import type { DtmfEvent } from '../dtmf.ts';
import type { Member } from './member.ts';

export const MENU_TIMEOUT_MS = 5000;

/** What a key sequence means. Pure. */
export type MenuCommand = 'toggle-mute';

const COMMANDS: Record<string, MenuCommand> = { '*6': 'toggle-mute' };

/**
 * The key-sequence state of one member: `press()` returns the command a key completes, if any.
 * Pure (time comes in with each key).
 */
export class MenuKeys {
  #starAt: number | undefined;

  press(digit: string, at: number): { command: MenuCommand | undefined; sequence: string | undefined } {
    if (digit === '*') {
      this.#starAt = at;
      return { command: undefined, sequence: undefined };
    }
    const started = this.#starAt;
    this.#starAt = undefined;
    if (started === undefined || at - started > MENU_TIMEOUT_MS) return { command: undefined, sequence: undefined };
    const sequence = `*${digit}`;
    return { command: COMMANDS[sequence], sequence };
  }
}

export interface ConferenceDtmfMenuOptions {
  conference: Conference;
  member: Member;
  logger: Logger;
  /** The clock (tests). */
  now?: () => number;
}

/** Carries out one member's menu commands on the conference model and the member's leg. */
export class ConferenceDtmfMenu {
  readonly #conference: Conference;
  readonly #member: Member;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #keys = new MenuKeys();
  readonly #queue = new SerialQueue();

  constructor(options: ConferenceDtmfMenuOptions) {
    this.#conference = options.conference;
    this.#member = options.member;
    this.#now = options.now ?? Date.now;
    this.#log = options.logger.child({ participant: options.member.aor });
  }

  /** One key from the member. Resolves once its command (if any) is carried out; never rejects. */
  press(event: DtmfEvent): Promise<void> {
    const { command, sequence } = this.#keys.press(event.digit, this.#now());
    if (sequence !== undefined && command === undefined) {
      this.#log.info('unknown conference menu command', { sequence, callId: event.callId });
    }
    if (command === undefined) return Promise.resolve();
    this.#log.info('conference menu command', { command, callId: event.callId });
    return this.#queue
      .push(() => this.#run(command))
      .catch((err: unknown) => {
        this.#log.warn('conference menu command failed', { command, error: (err as Error).message });
      });
  }

  async #run(command: MenuCommand): Promise<void> {
    switch (command) {
      case 'toggle-mute':
        return this.#toggleMute();
    }
  }

  async #toggleMute(): Promise<void> {
    const member = this.#member;
    const participant = this.#conference.ended ? undefined : this.#conference.participant(member.participantId);
    if (!participant || member.gone) return;
    if (participant.mutedByFocus && participant.mutedBy !== member.aor) {
      this.#log.info('*6 ignored: a moderator muted this participant', { by: participant.mutedBy });
      return;
    }
    const mute = !participant.mutedByFocus;
    await member.leg.setMutedByFocus(mute);
    // The member may have left while the leg changed.
    if (this.#conference.ended || !this.#conference.participant(member.participantId)) return;
    if (mute) this.#conference.mute(member.participantId, { by: member.aor });
    else this.#conference.unmute(member.participantId);
    this.#log.info(mute ? 'participant muted itself' : 'participant unmuted itself');
  }
}
