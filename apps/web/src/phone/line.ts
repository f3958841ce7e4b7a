/**
 * Line: one call (a JsSIP RTCSession) as the softphone shows it: who, what state, how long,
 * held / muted, why it ended, and which remote tracks to play.
 *
 * Remote media: every track announced by the RTCPeerConnection 'track' event is kept (deduplicated
 * by id), including tracks added later by re-INVITEs (a conference focus adds and removes m-lines).
 * A track is dropped when its transceiver stops (m-line removed / port 0) or the track ends.
 */
import { msidByMid } from './sdp-msid.ts';
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
import type { DTMF_TRANSPORT } from 'jssip/lib/Constants';
import { EnhancedEventEmitter } from '@conclave/events';
import type { Logger } from './log.ts';
import { DTMF_ACCEPT, readDtmfInfo } from './dtmf-info.ts';
import { stopStream } from './media.ts';
import { userPart } from './target.ts';
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

/** The public, test-visible state of a line (data-state). */
export type LineState = 'ringing' | 'active' | 'held' | 'ended';

/** Finer-grained progress for the UI text. */
export type LinePhase = 'calling' | 'ringing' | 'answering' | 'connected' | 'ended';

/** What the line is for: a plain call, or our leg to a conference focus. */
export type LineRole = 'call' | 'conference';

export interface LineSnapshot {
  readonly id: string;
  readonly direction: 'incoming' | 'outgoing';
  /** Remote SIP URI, e.g. "sip:bob@127.0.0.1" (data-party). */
  readonly party: string;
  /** Display name, or the user part of the URI. */
  readonly displayName: string;
  readonly state: LineState;
  readonly phase: LinePhase;
  readonly role: LineRole;
  readonly createdAt: number;
  /** When the call was answered (duration counts from here). */
  readonly answeredAt: number | null;
  readonly endedAt: number | null;
  readonly muted: boolean;
  readonly localHold: boolean;
  /** The other side (or the focus) put us on hold. */
  readonly remoteHold: boolean;
  /** A hold/resume re-INVITE is in flight. */
  readonly holdPending: boolean;
  /** Early media (183) or ringback (180) received. */
  readonly remoteRinging: boolean;
  /** Incoming offer carries video. */
  readonly offersVideo: boolean;
  readonly video: boolean;
  /** Present once ended: why. */
  readonly end: EndDescription | null;
  /** A problem on a live line (hold failed, media renegotiation failed, transfer failed...). */
  readonly error: string | null;
  /** Conference URI if the answer's Contact carried ";isfocus" (RFC 4579). */
  readonly focusUri: string | null;
  readonly remoteTracks: readonly MediaStreamTrack[];
  /** Per remote track id: the msid stream id (a conference focus names the source leg there) and the m-line's mid. */
  readonly remoteTrackSources: ReadonlyMap<string, RemoteTrackSource>;
  readonly localStream: MediaStream | null;
  /** The microphone track this call sends (changes when the microphone is switched). */
  readonly localAudioTrack: MediaStreamTrack | null;
  /** The camera track this call sends, if any. */
  readonly localVideoTrack: MediaStreamTrack | null;
  /** Keypad digits sent so far (SIP INFO), newest last; at most DTMF_HISTORY characters. */
  readonly dtmfSent: string;
  /** Keys the other side sent us (SIP INFO, played as tones), newest last; at most DTMF_HISTORY. */
  readonly dtmfReceived: string;
  /** Why the last keypad press could not be sent. */
  readonly dtmfError: string | null;
  /** A blind transfer we asked for (REFER), while it runs and after it failed. */
  readonly transfer: TransferSnapshot | null;
}

export interface RemoteTrackSource {
  readonly streamId: string | null;
  readonly mid: string | null;
}

export interface TransferSnapshot {
  /** Refer-To URI. */
  readonly target: string;
  readonly targetName: string;
  readonly phase: TransferPhase;
  /** The words for the phase. */
  readonly text: string;
  readonly done: boolean;
}

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

/** JsSIP's incoming in-dialog request, as far as the INFO handling uses it (its typings lack reply). */
interface InDialogRequest {
  method: string;
  body?: string;
  hasHeader(name: string): boolean;
  getHeader(name: string): string;
  reply(code: number, reason?: string, extraHeaders?: string[]): void;
}

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

let lineCounter = 0;

function isResponse(message: unknown): message is IncomingResponse {
  return (
    typeof message === 'object' &&
    message !== null &&
    typeof (message as { status_code?: unknown }).status_code === 'number'
  );
}

function identityOf(header: NameAddrHeader | undefined): { uri: string; name: string } {
  if (!header) return { uri: 'sip:unknown', name: 'unknown' };
  const uri = header.uri.clone();
  // Identity for humans and tests: scheme, user, host[, port]; no transport or other params.
  uri.clearParams();
  uri.clearHeaders();
  const text = uri.toString();
  const display = (header.display_name ?? '').trim();
  return { uri: text, name: display || userPart(text) };
}

const HOLD_RETRY_MS = 250;
const HOLD_MAX_TRIES = 40;

export const DTMF_HISTORY = 24;
/** Keypad tone length and gap between INFOs (ms): long enough for any IVR, short enough for quick typing. */
const DTMF_DURATION_MS = 160;
const DTMF_GAP_MS = 70;
const DTMF_KEYS = /^[0-9*#]+$/;
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
  #pc: RTCPeerConnection | null = null;
  #tracks = new Map<string, MediaStreamTrack>();
  #trackSources = new Map<string, RemoteTrackSource>();
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
      remoteTracks: Object.freeze([...this.#tracks.values()]),
      remoteTrackSources: new Map(this.#trackSources),
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
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (error: Error | null): void => {
        if (settled) return;
        settled = true;
        if (error) reject(error);
        else resolve();
      };
      try {
        this.#session.refer(target, {
          eventHandlers: {
            requestFailed: (e: { response?: IncomingResponse; cause?: string }) =>
              settle(
                new Error(
                  `REFER to ${this.party} refused: ${e.response ? `${e.response.status_code} ${e.response.reason_phrase}` : (e.cause ?? 'no answer')}`,
                ),
              ),
            accepted: () => settle(null),
            failed: (e: { status_line?: { status_code?: number; reason_phrase?: string } }) =>
              settle(
                new Error(
                  `${this.displayName} could not join: ${e.status_line ? `${e.status_line.status_code ?? ''} ${e.status_line.reason_phrase ?? ''}`.trim() : 'failed'}`,
                ),
              ),
          },
        });
      } catch (error) {
        settle(new Error(`REFER to ${this.party} failed: ${String(error)}`));
      }
    });
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
      this.#session.sendDTMF(tones, {
        transportType: 'INFO' as DTMF_TRANSPORT,
        duration: DTMF_DURATION_MS,
        interToneGap: DTMF_GAP_MS,
      });
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
    const pc = this.#pc;
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

  /**
   * What the receivers say right now: the audio level (0..1) per remote msid stream id, and the SSRC
   * per remote track id. For matching conference video tiles to speakers; cheap, no stats round trip
   * unless the RFC 6464 audio level is not in the RTP.
   */
  async remoteMediaInfo(): Promise<{ audioLevels: Map<string, number>; ssrcs: Map<string, number> }> {
    const audioLevels = new Map<string, number>();
    const ssrcs = new Map<string, number>();
    const pc = this.#pc;
    if (!pc || this.ended || pc.signalingState === 'closed') return { audioLevels, ssrcs };
    for (const t of pc.getTransceivers()) {
      const track = t.receiver.track;
      if (!this.#tracks.has(track.id)) continue;
      const sources = t.receiver.getSynchronizationSources();
      const first = sources[0];
      if (first) ssrcs.set(track.id, first.source);
      const streamId = this.#trackSources.get(track.id)?.streamId;
      if (track.kind !== 'audio' || !streamId) continue;
      let level = first?.audioLevel;
      if (level === undefined) {
        const stats = await t.receiver.getStats();
        stats.forEach((r: { type?: string; audioLevel?: number }) => {
          if (r.type === 'inbound-rtp' && typeof r.audioLevel === 'number') level = r.audioLevel;
        });
      }
      audioLevels.set(streamId, Math.max(audioLevels.get(streamId) ?? 0, level ?? 0));
    }
    return { audioLevels, ssrcs };
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
    if (s.connection) this.#attachPeerConnection(s.connection);
    s.on('peerconnection', (e: PeerConnectionEvent) => this.#attachPeerConnection(e.peerconnection));
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
    this.#interceptInfo(s);
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

  /**
   * Incoming INFO on an established call, before JsSIP (which answers any INFO with a body 200):
   * a key is answered 200, recorded and played (the 'dtmf' event); an empty INFO (keep-alive) is 200;
   * a broken DTMF body 400; any other body 415 with Accept. Other requests, and INFO before the call
   * is up, go to JsSIP unchanged.
   */
  #interceptInfo(s: RTCSession): void {
    const session = s as unknown as { receiveRequest(request: InDialogRequest): void };
    const jssip = session.receiveRequest.bind(session);
    session.receiveRequest = (request: InDialogRequest): void => {
      if (request.method !== 'INFO' || this.#phase !== 'connected') {
        jssip(request);
        return;
      }
      const contentType = request.hasHeader('Content-Type') ? request.getHeader('Content-Type') : undefined;
      const read = readDtmfInfo(contentType, request.body);
      if (read.kind === 'refused') {
        this.#log.info('INFO refused', { status: read.status, contentType });
        request.reply(read.status, read.reason, read.status === 415 ? [`Accept: ${DTMF_ACCEPT}`] : []);
        return;
      }
      request.reply(200);
      if (read.kind === 'empty') return;
      this.#log.info('DTMF received', { digit: read.digit, durationMs: read.durationMs });
      this.#dtmfReceived = (this.#dtmfReceived + read.digit).slice(-DTMF_HISTORY);
      this.#changed();
      this.events.safeEmit('dtmf', read.digit, read.durationMs);
    };
  }

  #connected(): void {
    if (this.#phase === 'ended') return;
    if (this.#answeredAt === null) this.#answeredAt = Date.now();
    this.#phase = 'connected';
    this.#pruneTracks();
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
    const message: unknown = e.message;
    const response = isResponse(message) ? message : null;
    let warning: string | null;
    try {
      warning = response?.getHeader('Warning') || null;
    } catch {
      warning = null;
    }
    this.#finish({
      originator: (['local', 'remote', 'system'].includes(String(e.originator))
        ? String(e.originator)
        : 'system') as CallEnd['originator'],
      cause: String(e.cause ?? 'Terminated'),
      statusCode: response?.status_code ?? null,
      reasonPhrase: response?.reason_phrase ?? null,
      warning,
      failed: failedEvent && this.#answeredAt === null,
    });
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
    this.#tracks.clear();
    this.#trackSources.clear();
    stopStream(this.#localStream);
    this.#changed();
    this.events.safeEmit('ended');
  }

  #attachPeerConnection(pc: RTCPeerConnection): void {
    if (this.#pc === pc) return;
    this.#pc = pc;
    pc.addEventListener('track', (e: RTCTrackEvent) =>
      this.#addTrack(e.track, e.streams[0]?.id ?? null, e.transceiver?.mid ?? null),
    );
    pc.addEventListener('signalingstatechange', () => {
      if (pc.signalingState !== 'stable') return;
      this.#pruneTracks();
      this.#refreshStreamIds();
    });
    // Tracks that were already flowing before we looked (e.g. a late attach).
    for (const t of pc.getTransceivers()) {
      const dir = t.currentDirection;
      if (dir === 'sendrecv' || dir === 'recvonly') this.#addTrack(t.receiver.track, null, t.mid);
    }
  }

  #addTrack(track: MediaStreamTrack, streamId: string | null, mid: string | null): void {
    if (this.ended) return;
    if (this.#tracks.has(track.id)) {
      // The same transceiver re-used for another source (the focus re-offers an m-line with a new msid).
      const known = this.#trackSources.get(track.id);
      if (streamId !== null && (known?.streamId !== streamId || known?.mid !== mid)) {
        this.#trackSources.set(track.id, { streamId, mid });
        this.#changed();
      }
      return;
    }
    streamId ??= mid !== null ? (msidByMid(this.#pc?.remoteDescription?.sdp).get(mid) ?? null) : null;
    this.#tracks.set(track.id, track);
    this.#trackSources.set(track.id, { streamId, mid });
    track.addEventListener('ended', () => this.#pruneTracks());
    this.#log.info('remote track', { kind: track.kind, track: track.id });
    this.#changed();
  }

  /** Stream ids (msid) as the current remote description says, per m-line (see sdp-msid.ts). */
  #refreshStreamIds(): void {
    const pc = this.#pc;
    if (!pc || this.ended || pc.signalingState === 'closed') return;
    const byMid = msidByMid(pc.remoteDescription?.sdp);
    let changed = false;
    for (const t of pc.getTransceivers()) {
      const track = t.receiver.track;
      if (!this.#tracks.has(track.id) || t.mid === null) continue;
      const streamId = byMid.get(t.mid) ?? null;
      const known = this.#trackSources.get(track.id);
      if (streamId !== null && (known?.streamId !== streamId || known?.mid !== t.mid)) {
        this.#trackSources.set(track.id, { streamId, mid: t.mid });
        changed = true;
      }
    }
    if (changed) this.#changed();
  }

  #pruneTracks(): void {
    const pc = this.#pc;
    if (!pc || this.#tracks.size === 0) return;
    let removed = false;
    const transceivers = pc.signalingState === 'closed' ? [] : pc.getTransceivers();
    for (const [id, track] of this.#tracks) {
      const t = transceivers.find((x) => x.receiver.track === track);
      const stopped = !t || t.currentDirection === 'stopped' || (t as { stopped?: boolean }).stopped === true;
      if (stopped || track.readyState === 'ended') {
        this.#tracks.delete(id);
        this.#trackSources.delete(id);
        removed = true;
      }
    }
    if (removed) this.#changed();
  }
}
