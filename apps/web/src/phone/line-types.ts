/** The data a Line publishes (its snapshot) and the names of its states: no behaviour here. */
import type { EndDescription, TransferPhase } from './words.ts';

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
