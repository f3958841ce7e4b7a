/**
 * Line: one call (a JsSIP RTCSession) as the softphone shows it: who, what state, how long,
 * held / muted, why it ended, and which remote tracks to play.
 *
 * Split by concern: the published data (line-types.ts), remote media tracks (line-tracks.ts), keypad
 * over SIP INFO (line-dtmf.ts). Hold/resume, transfer and the call's life stay here.
 */
import type {
  EndEvent,
  HoldEvent,
  IncomingDTMFEvent,
  OutgoingDTMFEvent,
  PeerConnectionEvent,
  ReferEvent,
  RTCSession,
} from 'jssip/lib/RTCSession';
import type { IncomingRequest, IncomingResponse } from 'jssip/lib/SIPMessage';
import type { NameAddrHeader } from 'jssip/lib/NameAddrHeader';
import { EnhancedEventEmitter } from '@conclave/events';
import type { Logger } from './log.ts';
import { DTMF_HISTORY, DTMF_KEYS, interceptInfo, sendDtmfInfo } from './line-dtmf.ts';
import { callEndOf, identityOf, sendRefer } from './line-sip.ts';
import { RemoteTracks } from './line-tracks.ts';
import type { LinePhase, LineRole, LineSnapshot, LineState, TransferSnapshot } from './line-types.ts';
import { stopStream } from './media.ts';
import {
  describeCallEnd,
  describeDtmfProblem,
  describeTransfer,
  describeTransferEnd,
  type CallEnd,
  type DtmfProblem,
  type EndDescription,
  type TransferPhase,
} from './words.ts';

export interface IncomingRefer {
  readonly line: Line;
  /** Refer-To URI (headers such as Replaces stripped). */
  readonly target: string;
  /** Starts the referred call with these JsSIP call options. */
  readonly accept: (options: Record<string, unknown>) => void;
  readonly reject: () => void;
}

export type LineEvents = {
  change: [];
  ended: [];
  /** The other side asked us to call someone else (transfer / join a conference). */
  refer: [IncomingRefer];
  /** The other side sent a key (SIP INFO): play its tone for `durationMs`. */
  dtmf: [digit: string, durationMs: number];
};

export interface LineInit {
  readonly session: RTCSession;
  readonly direction: 'incoming' | 'outgoing';
  readonly role?: LineRole;
  readonly localStream?: MediaStream | null;
  readonly video?: boolean;
  readonly offersVideo?: boolean;
  /** Known up front when a focus calls us (";isfocus" in the INVITE's Contact). */
  readonly focusUri?: string | null;
  readonly log: Logger;
}

export type {
  LinePhase,
  LineRole,
  LineSnapshot,
  LineState,
  RemoteTrackSource,
  TransferSnapshot,
} from './line-types.ts';
export { DTMF_HISTORY } from './line-dtmf.ts';

let lineCounter = 0;

const HOLD_RETRY_MS = 250;
const HOLD_MAX_TRIES = 40;

const TRANSFER_RANK: Record<TransferPhase, number> = {
  requesting: 0,
  accepted: 1,
  trying: 2,
  ringing: 3,
  succeeded: 4,
  failed: 4,
};
/** A transfer without a final NOTIFY for this long is given up (the call stays). */
const TRANSFER_TIMEOUT_MS = 60_000;

export class Line {
  readonly id: string;
  readonly direction: 'incoming' | 'outgoing';
  readonly party: string;
  readonly displayName: string;
  readonly createdAt = Date.now();
  readonly events: EnhancedEventEmitter<LineEvents>;
  #session: RTCSession;
  #log: Logger;
  #role: LineRole;
  #phase: LinePhase;
  #answeredAt: number | null = null;
  #endedAt: number | null = null;
  #end: EndDescription | null = null;
  #error: string | null = null;
  #localHold = false;
  #remoteHold = false;
  #holdPending = false;
  #holdIntent: boolean | null = null;
  #holdTimer: ReturnType<typeof setTimeout> | undefined;
  #muted = false;
  #remoteRinging = false;
  #offersVideo: boolean;
  #video: boolean;
  #focusUri: string | null = null;
  #localStream: MediaStream | null;
  #remote: RemoteTracks;
  #dtmfSent = '';
  #dtmfReceived = '';
  #dtmfError: string | null = null;
  #transfer: TransferSnapshot | null = null;
  #transferTimer: ReturnType<typeof setTimeout> | undefined;
  #transferAttempt = 0;
  #endNote: string | null = null;
  #snapshot: LineSnapshot | null = null;

  constructor(init: LineInit) {
    lineCounter += 1;
    this.id = `line-${lineCounter}`;
    this.#session = init.session;
    this.direction = init.direction;
    this.#role = init.role ?? 'call';
    this.#localStream = init.localStream ?? null;
    this.#video = init.video ?? false;
    this.#offersVideo = init.offersVideo ?? false;
    this.#phase = init.direction === 'incoming' ? 'ringing' : 'calling';
    this.#focusUri = init.focusUri ?? null;
    const who = identityOf(init.session.remote_identity);
    this.party = who.uri;
    this.displayName = who.name;
    this.#log = init.log.child({ line: this.id, party: this.party });
    this.#remote = new RemoteTracks({ log: this.#log, ended: () => this.ended, changed: () => this.#changed() });
    this.events = new EnhancedEventEmitter<LineEvents>((error, event) => {
      this.#log.error('line listener failed', { event: String(event), error: String(error) });
    });
    this.#wire();
  }

  /** The JsSIP session (for flows layered on top: REFER, conference). */
  get session(): RTCSession {
    return this.#session;
  }

  get role(): LineRole {
    return this.#role;
  }

  get state(): LineState {
    if (this.#phase === 'ended') return 'ended';
    if (this.#phase !== 'connected') return 'ringing';
    return this.#localHold ? 'held' : 'active';
  }

  get ended(): boolean {
    return this.#phase === 'ended';
  }

  get focusUri(): string | null {
    return this.#focusUri;
  }

  get snapshot(): LineSnapshot {
    this.#snapshot ??= Object.freeze({
      id: this.id,
      direction: this.direction,
      party: this.party,
      displayName: this.displayName,
      state: this.state,
      phase: this.#phase,
      role: this.#role,
      createdAt: this.createdAt,
      answeredAt: this.#answeredAt,
      endedAt: this.#endedAt,
      muted: this.#muted,
      localHold: this.#localHold,
      remoteHold: this.#remoteHold,
      holdPending: this.#holdPending,
      remoteRinging: this.#remoteRinging,
      offersVideo: this.#offersVideo,
      video: this.#video,
      end: this.#end,
      error: this.#error,
      focusUri: this.#focusUri,
      remoteTracks: this.#remote.tracks(),
      remoteTrackSources: this.#remote.sources(),
      localStream: this.#localStream,
      localAudioTrack: this.#localStream?.getAudioTracks()[0] ?? null,
      localVideoTrack: this.#localStream?.getVideoTracks()[0] ?? null,
      dtmfSent: this.#dtmfSent,
      dtmfReceived: this.#dtmfReceived,
      dtmfError: this.#dtmfError,
      transfer: this.#transfer,
    });
    return this.#snapshot;
  }

  /** Answers an incoming call with an already acquired local stream (ownership passes to the line). */
  answer(localStream: MediaStream, video: boolean): void {
    if (this.direction !== 'incoming' || this.#phase !== 'ringing') {
      stopStream(localStream);
      throw new Error(`${this.id}: cannot answer a call that is ${this.#phase}`);
    }
    this.#localStream = localStream;
    this.#video = video;
    this.#phase = 'answering';
    this.#changed();
    this.#session.answer({
      mediaStream: localStream,
      pcConfig: { iceServers: [] },
    });
  }

  /** Rejects an incoming call (486 Busy Here by default; 603 Decline is the other choice). */
  decline(statusCode: 486 | 603 = 486): void {
    if (this.ended) return;
    this.#session.terminate({ status_code: statusCode, reason_phrase: statusCode === 486 ? 'Busy Here' : 'Decline' });
  }

  /**
   * Cancels (ringing outgoing), declines (ringing incoming) or hangs up (established). `note`
   * replaces "you hung up" as the end text (e.g. after following a transfer).
   */
  hangup(note?: string): void {
    if (this.ended) return;
    if (note !== undefined) this.#endNote = note;
    if (this.direction === 'incoming' && this.#phase === 'ringing') {
      this.decline(486);
      return;
    }
    try {
      this.#session.terminate();
    } catch (error) {
      // JsSIP refuses to terminate in a few transient states; end our side anyway.
      this.#log.warn('terminate failed', { error: String(error) });
      this.#finish({
        originator: 'local',
        cause: 'Terminated',
        statusCode: null,
        reasonPhrase: null,
        warning: null,
        failed: this.#answeredAt === null,
      });
    }
  }

  hold(): void {
    this.#holdIntent = true;
    this.#applyHoldIntent(0);
  }

  resume(): void {
    this.#holdIntent = false;
    this.#applyHoldIntent(0);
  }

  setMuted(muted: boolean): void {
    if (this.ended) return;
    if (muted) this.#session.mute({ audio: true, video: true });
    else this.#session.unmute({ audio: true, video: true });
    // JsSIP emits muted/unmuted; keep our flag right even if it does not (no local stream yet).
    this.#muted = muted;
    this.#changed();
  }

  /** Joins muted: the microphone stays off until the user unmutes (the mute button). */
  startMuted(): void {
    if (this.ended) return;
    for (const t of this.#localStream?.getAudioTracks() ?? []) t.enabled = false;
    this.#session.mute({ audio: true });
    this.#muted = true;
    this.#changed();
  }

  /** Sends an in-dialog REFER (RFC 3515). Resolves on a 2xx NOTIFY sipfrag, rejects otherwise. */
  refer(target: string): Promise<void> {
    return sendRefer(this.#session, target, this.party, this.displayName);
  }

  /**
   * Sends keypad keys as SIP INFO (application/dtmf-relay), one INFO per key, DTMF_DURATION_MS +
   * DTMF_GAP_MS apart. Not RFC 4733 in the RTP: the focus's mediasoup forwards only media codecs, so
   * telephone-events would never reach the other party (dtmf-info.ts). Problems are shown on the line
   * (dtmfError), never thrown.
   */
  sendDtmf(tones: string): void {
    const problem = this.#dtmfProblem(tones);
    if (problem) {
      this.#dtmfError = describeDtmfProblem(problem, tones);
      this.#changed();
      return;
    }
    try {
      sendDtmfInfo(this.#session, tones);
      if (this.#dtmfError !== null) {
        this.#dtmfError = null;
        this.#changed();
      }
    } catch (error) {
      this.#log.warn('sendDTMF failed', { error: String(error) });
      this.#dtmfError = `keypad tones could not be sent: ${error instanceof Error ? error.message : String(error)}`;
      this.#changed();
    }
  }

  #dtmfProblem(tones: string): DtmfProblem | null {
    if (!DTMF_KEYS.test(tones)) return 'bad-key';
    if (this.#phase !== 'connected') return 'not-connected';
    if (this.#localHold || this.#remoteHold) return 'held';
    return null;
  }

  /**
   * Blind transfer (RFC 3515 REFER in this dialog, RFC 5589 §6): the other party is asked to call
   * `target`. Progress comes in sipfrag NOTIFYs; on 2xx we hang up (the other party now talks to
   * the target); a failure leaves the call as it is.
   */
  transfer(target: string, targetName: string): void {
    if (this.ended || this.#phase !== 'connected') return;
    if (this.#transfer && !this.#transfer.done) return;
    const attempt = ++this.#transferAttempt;
    const update = (
      phase: TransferPhase,
      extra: {
        statusCode?: number | null;
        reasonPhrase?: string | null;
        failure?: 'refer-rejected' | 'notify' | 'transport' | 'timeout';
        cause?: string | null;
      } = {},
    ): void => {
      // Late events of an earlier attempt, or anything after the outcome, change nothing; nor does
      // the REFER's 202 arriving after the first NOTIFY (they race): progress never goes back.
      if (attempt !== this.#transferAttempt || !this.#transfer || this.#transfer.done) return;
      if (TRANSFER_RANK[phase] < TRANSFER_RANK[this.#transfer.phase]) return;
      const done = phase === 'succeeded' || phase === 'failed';
      this.#transfer = Object.freeze({
        target,
        targetName,
        phase,
        text: describeTransfer({ phase, partyName: this.displayName, targetName, ...extra }),
        done,
      });
      this.#log.info('transfer progress', { target, phase, ...extra });
      if (done) clearTimeout(this.#transferTimer);
      this.#changed();
      if (phase === 'succeeded' && !this.ended) this.hangup();
    };
    this.#transfer = Object.freeze({
      target,
      targetName,
      phase: 'requesting',
      text: describeTransfer({ phase: 'requesting', partyName: this.displayName, targetName }),
      done: false,
    });
    this.#error = null;
    this.#changed();
    clearTimeout(this.#transferTimer);
    this.#transferTimer = setTimeout(() => update('failed', { failure: 'timeout' }), TRANSFER_TIMEOUT_MS);
    type StatusLine = { status_line?: { status_code?: number | string; reason_phrase?: string } };
    const codeOf = (e: StatusLine): number | null => {
      const n = Number(e.status_line?.status_code);
      return Number.isFinite(n) ? n : null;
    };
    try {
      this.#session.refer(target, {
        eventHandlers: {
          requestSucceeded: () => update('accepted'),
          requestFailed: (e: { response?: IncomingResponse | null; cause?: string }) =>
            update('failed', {
              failure: 'refer-rejected',
              statusCode: e.response?.status_code ?? null,
              reasonPhrase: e.response?.reason_phrase ?? null,
              cause: e.cause ?? null,
            }),
          trying: () => update('trying'),
          progress: () => update('ringing'),
          accepted: () => update('succeeded'),
          failed: (e: StatusLine) =>
            update('failed', {
              failure: 'notify',
              statusCode: codeOf(e),
              reasonPhrase: e.status_line?.reason_phrase ?? null,
            }),
        },
      });
    } catch (error) {
      update('failed', { failure: 'refer-rejected', cause: error instanceof Error ? error.message : String(error) });
    }
  }

  /**
   * Sends `track` instead of the current microphone (or camera) track: RTCRtpSender.replaceTrack,
   * no renegotiation. The new track inherits the old one's enabled state (mute / hold); the old
   * one is stopped. Returns false (and stops `track`) when this call sends no media of that kind.
   */
  async replaceLocalTrack(track: MediaStreamTrack): Promise<boolean> {
    const pc = this.#remote.pc;
    const stream = this.#localStream;
    const senders =
      this.ended || !pc || pc.signalingState === 'closed'
        ? []
        : pc.getSenders().filter((s) => s.track?.kind === track.kind);
    if (senders.length === 0 || !stream) {
      track.stop();
      return false;
    }
    const old = senders[0]!.track!;
    track.enabled = old.enabled;
    for (const sender of senders) await sender.replaceTrack(track);
    if (this.ended) {
      track.stop();
      return false;
    }
    for (const t of stream.getTracks()) {
      if (t.kind === track.kind && t !== track) {
        stream.removeTrack(t);
        t.stop();
      }
    }
    if (!stream.getTracks().includes(track)) stream.addTrack(track);
    this.#log.info('local track replaced', { kind: track.kind, label: track.label });
    this.#changed();
    return true;
  }

  /** Receiver audio levels per msid stream and SSRCs per track (see RemoteTracks.remoteMediaInfo). */
  remoteMediaInfo(): Promise<{ audioLevels: Map<string, number>; ssrcs: Map<string, number> }> {
    return this.#remote.remoteMediaInfo();
  }

  /** Shows a problem on this line without ending it. */
  setError(message: string | null): void {
    this.#error = message;
    this.#changed();
  }

  /** Marks the line as our leg to a conference focus. */
  setRole(role: LineRole): void {
    this.#role = role;
    this.#changed();
  }

  #applyHoldIntent(attempt: number): void {
    clearTimeout(this.#holdTimer);
    const want = this.#holdIntent;
    if (want === null || this.ended) return;
    if (this.#phase !== 'connected') {
      this.#holdIntent = null;
      return;
    }
    if (want === this.#localHold) {
      this.#holdIntent = null;
      return;
    }
    const done = (): void => {
      this.#holdPending = false;
      this.#changed();
    };
    // hold()/unhold() return false while another offer/answer is in progress (e.g. a focus re-INVITE).
    const started = want ? this.#session.hold({}, done) : this.#session.unhold({}, done);
    if (started) {
      this.#holdIntent = null;
      this.#holdPending = true;
      this.#error = null;
      this.#changed();
      return;
    }
    if (attempt >= HOLD_MAX_TRIES) {
      this.#holdIntent = null;
      this.setError(`could not ${want ? 'hold' : 'resume'} the call: it is busy renegotiating media, try again`);
      return;
    }
    this.#holdTimer = setTimeout(() => this.#applyHoldIntent(attempt + 1), HOLD_RETRY_MS);
  }

  #changed(): void {
    this.#snapshot = null;
    this.events.safeEmit('change');
  }

  #wire(): void {
    const s = this.#session;
    if (s.connection) this.#remote.attach(s.connection);
    s.on('peerconnection', (e: PeerConnectionEvent) => this.#remote.attach(e.peerconnection));
    s.on('progress', (e: { response?: IncomingResponse }) => {
      if (this.direction !== 'outgoing') return;
      const code = e.response?.status_code ?? 0;
      if (code === 180 || code === 183) this.#remoteRinging = true;
      this.#phase = 'ringing';
      this.#changed();
    });
    s.on('accepted', (e: { response?: IncomingResponse }) => {
      // Focus first: whoever sees the line become active must also see its conference URI.
      if (e.response) this.#detectFocus(e.response);
      this.#connected();
    });
    s.on('confirmed', () => this.#connected());
    s.on('hold', (e: HoldEvent) => this.#onHold(String(e.originator), true));
    s.on('unhold', (e: HoldEvent) => this.#onHold(String(e.originator), false));
    s.on('muted', () => {
      this.#muted = true;
      this.#changed();
    });
    s.on('unmuted', () => {
      this.#muted = false;
      this.#changed();
    });
    s.on('ended', (e: EndEvent) => this.#onEnd(e, false));
    s.on('failed', (e: EndEvent) => this.#onEnd(e, true));
    s.on('getusermediafailed', (error: unknown) => this.setError(`microphone unavailable: ${String(error)}`));
    s.on('peerconnection:setremotedescriptionfailed', (error: unknown) => {
      this.#log.warn('remote description rejected', { error: String(error) });
      this.setError(`media could not be negotiated: the browser rejected the other side's offer (${String(error)})`);
    });
    s.on('peerconnection:createanswerfailed', (error: unknown) =>
      this.setError(`media could not be negotiated: ${String(error)}`),
    );
    // A focus that moved this call into a conference (it intercepted a REFER) says so in the
    // re-INVITE's Contact (RFC 4579 ";isfocus"): the line becomes a conference line.
    s.on(
      'reinvite',
      (e: {
        request: IncomingRequest;
        reject: (options?: { status_code?: number; reason_phrase?: string }) => boolean | void;
      }) => {
        if (this.#holdPending) {
          // Glare (RFC 3261 §14.2): our own hold/resume offer is being built or is on the wire. JsSIP would
          // apply this offer over ours and then fail our answer, ending the call ("Hold Failed"); refuse it
          // instead: the other side offers again after a back-off.
          this.#log.info('re-INVITE crossed our own offer: 491');
          try {
            // reject() stops JsSIP processing the offer; it only replies once the dialog is confirmed.
            if (e.reject({ status_code: 491, reason_phrase: 'Request Pending' }) === false)
              (e.request as IncomingRequest & { reply(code: number, reason?: string): void }).reply(
                491,
                'Request Pending',
              );
          } catch (error) {
            this.#log.warn('could not refuse the crossing re-INVITE', { error: String(error) });
          }
          return;
        }
        this.#log.debug('re-INVITE received');
        if (this.#focusUri === null) {
          this.#detectFocus(e.request);
          if (this.#focusUri !== null) this.#changed();
        }
      },
    );
    s.on('refer', (e: ReferEvent) => this.#onRefer(e));
    s.on('newDTMF', (e: IncomingDTMFEvent | OutgoingDTMFEvent) => {
      if (String(e.originator) === 'local') this.#onDtmfSent(e as OutgoingDTMFEvent);
    });
    interceptInfo(s, {
      log: this.#log,
      connected: () => this.#phase === 'connected',
      digit: (digit, durationMs) => {
        this.#dtmfReceived = (this.#dtmfReceived + digit).slice(-DTMF_HISTORY);
        this.#changed();
        this.events.safeEmit('dtmf', digit, durationMs);
      },
    });
  }

  /** A key's INFO went out (JsSIP sends them in order): shown at once; a refusal shows on the line. */
  #onDtmfSent(e: OutgoingDTMFEvent): void {
    const tone = e.dtmf.tone;
    if (this.ended) return;
    this.#dtmfSent = (this.#dtmfSent + tone).slice(-DTMF_HISTORY);
    this.#changed();
    e.dtmf.on('failed', (f: { response?: IncomingResponse | null }) => {
      const why = f.response ? `${f.response.status_code} ${f.response.reason_phrase}` : 'no answer';
      this.#log.warn('DTMF INFO refused', { tone, why });
      if (this.ended) return;
      this.#dtmfError = `the key ${tone} did not reach ${this.displayName} (${why})`;
      this.#changed();
    });
  }

  #connected(): void {
    if (this.#phase === 'ended') return;
    if (this.#answeredAt === null) this.#answeredAt = Date.now();
    this.#phase = 'connected';
    this.#remote.prune();
    this.#changed();
  }

  #detectFocus(message: IncomingResponse | IncomingRequest): void {
    try {
      const contact = message.parseHeader<NameAddrHeader>('contact');
      if (contact && contact.hasParam('isfocus')) {
        const uri = contact.uri.clone();
        uri.clearHeaders();
        this.#focusUri = uri.toString();
        this.#log.info('answered by a conference focus', { focus: this.#focusUri });
      }
    } catch (error) {
      this.#log.warn('unparsable Contact', { error: String(error) });
    }
  }

  #onHold(originator: string, held: boolean): void {
    if (originator === 'local') this.#localHold = held;
    else this.#remoteHold = held;
    this.#changed();
  }

  #onRefer(e: ReferEvent): void {
    const referTo = (e.request as unknown as { refer_to?: NameAddrHeader }).refer_to;
    if (!referTo) {
      e.reject();
      return;
    }
    const uri = referTo.uri.clone();
    uri.clearHeaders();
    const target = uri.toString();
    this.#log.info('REFER received', { target });
    this.events.safeEmit('refer', {
      line: this,
      target,
      // JsSIP types accept() as Function: (initCallback, callOptions).
      accept: (options) =>
        (e as unknown as { accept(cb: undefined, o: Record<string, unknown>): void }).accept(undefined, options),
      reject: () => e.reject(),
    });
  }

  #onEnd(e: EndEvent, failedEvent: boolean): void {
    this.#finish(callEndOf(e, failedEvent && this.#answeredAt === null));
  }

  #finish(end: CallEnd): void {
    if (this.#phase === 'ended') return;
    clearTimeout(this.#holdTimer);
    this.#phase = 'ended';
    this.#endedAt = Date.now();
    clearTimeout(this.#transferTimer);
    const transfer = this.#transfer;
    if (this.#endNote !== null && end.originator === 'local') {
      this.#end = { text: this.#endNote, isError: false };
    } else if (
      transfer &&
      transfer.phase !== 'failed' &&
      (transfer.phase === 'succeeded' || end.originator === 'remote')
    ) {
      // Our own BYE after the 2xx NOTIFY, or the transferee hanging up once the target answered
      // (its BYE can overtake the relayed NOTIFY): say what happened, not "bob hung up".
      this.#end = { text: describeTransferEnd(transfer.phase, this.displayName, transfer.targetName), isError: false };
      if (!transfer.done) this.#transfer = Object.freeze({ ...transfer, done: true });
    } else {
      this.#end = describeCallEnd(end, {
        direction: this.direction,
        partyName: this.displayName,
        conference: this.#role === 'conference',
      });
    }
    this.#log.info('call ended', { ...end, text: this.#end.text });
    this.#holdPending = false;
    this.#remote.clear();
    stopStream(this.#localStream);
    this.#changed();
    this.events.safeEmit('ended');
  }
}
