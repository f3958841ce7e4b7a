/** What the Phone publishes (PhoneSnapshot) and takes (options, call preferences): no behaviour here. */
import type { AgentStatus } from './words.ts';
import type { ConferenceSnapshot } from './conference.ts';
import type { PhoneConfig } from './config.ts';
import type { CredentialStore } from './credentials.ts';
import type { DeviceKind, DeviceManager, DevicesSnapshot } from './devices.ts';
import type { LineSnapshot } from './line-types.ts';
import type { Listening } from './participant-media.ts';
import type { Logger } from './log.ts';
import type { ConferenceInfoReaderFactory } from './roster.ts';

export interface Account {
  /** "alice" */
  readonly user: string;
  /** "sip:alice@127.0.0.1" */
  readonly uri: string;
}

export interface PhoneSnapshot {
  readonly config: PhoneConfig;
  /** Set when /config.json could not be used. */
  readonly configWarning: string | null;
  /** An agent exists (signing in, signed in, or reconnecting). */
  readonly account: Account | null;
  /** The agent has registered at least once: show the phone (even while reconnecting). */
  readonly signedIn: boolean;
  readonly status: AgentStatus;
  /** The registration-status text. */
  readonly statusText: string;
  /** Why the last sign-in attempt failed. */
  readonly loginError: string | null;
  /** Pre-fill for the login form. */
  readonly lastUser: string;
  /** Global error banner. */
  readonly error: string | null;
  /** Inline problem with what was typed in the dial box. */
  readonly dialError: string | null;
  /** Acquiring the microphone / placing a call. */
  readonly dialing: boolean;
  readonly lines: readonly LineSnapshot[];
  /** No call left (ended lines still fading out do not count). */
  readonly idle: boolean;
  /** The conference button may be pressed. */
  readonly canConference: boolean;
  /** A conference exists already (the button adds calls to it). */
  readonly conferenceExists: boolean;
  readonly conference: ConferenceSnapshot | null;
  /** Microphones, cameras and speakers, and the chosen ones. */
  readonly devices: DevicesSnapshot;
  /** What the microphone level meter measures. */
  readonly microphone: MicrophoneSnapshot;
  /** A device switch is in progress. */
  readonly switchingDevice: DeviceKind | null;
  /** This listener's volume / local mute per participant entity (only entries that differ from the default). */
  readonly listening: ReadonlyMap<string, Listening>;
}

/**
 * The level meter follows the microphone track of the first active (not held) call; with no call,
 * the "test microphone" track while that is on; otherwise nothing is captured.
 */
export interface MicrophoneSnapshot {
  readonly track: MediaStreamTrack | null;
  readonly source: 'call' | 'test' | null;
  /** The call's mute button is on (the meter shows "muted" and 0). */
  readonly muted: boolean;
  /** The microphone test is on (only offered while idle). */
  readonly testing: boolean;
}

export interface PhoneOptions {
  readonly config: PhoneConfig;
  readonly configWarning?: string | null;
  readonly log: Logger;
  readonly credentials?: CredentialStore;
  /** Reads conference-info NOTIFY bodies (default: @conclave/conference-info). */
  readonly conferenceInfoReader?: ConferenceInfoReaderFactory;
  /** How long an ended line stays visible. */
  readonly endedLingerMs?: number;
  readonly devices?: DeviceManager;
}

export interface CallPreferences {
  /** Send video if a camera is available. */
  readonly video?: boolean;
  /** Put the currently active call(s) on hold first. The user's explicit choice; never implied. */
  readonly holdOthers?: boolean;
  /** Join muted: the microphone stays off until the user unmutes. */
  readonly muted?: boolean;
}
