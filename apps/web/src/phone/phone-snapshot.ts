/** Composes the Phone's immutable snapshot from its parts (what the buttons may do, what the meter measures). */
import type { ConferenceSnapshot } from './conference.ts';
import type { PhoneConfig } from './config.ts';
import type { DeviceKind, DevicesSnapshot } from './devices.ts';
import type { Line } from './line.ts';
import type { Listening } from './participant-media.ts';
import type { Account, MicrophoneSnapshot, PhoneSnapshot } from './phone-types.ts';
import { describeStatus, type AgentStatus } from './words.ts';

export interface PhoneSnapshotParts {
  readonly config: PhoneConfig;
  readonly configWarning: string | null;
  readonly account: Account | null;
  readonly signedIn: boolean;
  readonly status: AgentStatus;
  readonly loginError: string | null;
  readonly lastUser: string;
  readonly error: string | null;
  readonly dialError: string | null;
  readonly dialing: boolean;
  /** In the order they were created. */
  readonly lines: readonly Line[];
  /** Conference sessions by line id. */
  readonly conferences: ReadonlyMap<string, { readonly snapshot: ConferenceSnapshot }>;
  readonly devices: DevicesSnapshot;
  readonly micTest: MediaStreamTrack | null;
  readonly micTestPending: boolean;
  readonly switchingDevice: DeviceKind | null;
  readonly listening: ReadonlyMap<string, Listening>;
}

export function buildPhoneSnapshot(parts: PhoneSnapshotParts): PhoneSnapshot {
  const conferences = parts.conferences;
  const lines = parts.lines.map((l) => l.snapshot);
  const live = lines.filter((l) => l.state !== 'ended');
  const connected = live.filter((l) => l.state === 'active' || l.state === 'held');
  const confLine = connected.find((l) => l.role === 'conference' && l.focusUri !== null) ?? null;
  const creating = live.some((l) => l.role === 'conference' && l.focusUri === null);
  const calls = connected.filter((l) => l.role === 'call');
  const canConference = confLine
    ? calls.length > 0
    : !creating && calls.some((l) => l.state === 'held') && calls.some((l) => l.state === 'active');
  const conferenceLine =
    [...parts.lines].reverse().find((l) => conferences.has(l.id) && !l.ended) ??
    [...parts.lines].reverse().find((l) => conferences.has(l.id)) ??
    null;
  const metered = lines.find((l) => l.state === 'active' && l.localAudioTrack !== null) ?? null;
  const microphone: MicrophoneSnapshot = metered
    ? { track: metered.localAudioTrack, source: 'call', muted: metered.muted, testing: false }
    : {
        track: parts.micTest,
        source: parts.micTest ? 'test' : null,
        muted: false,
        testing: parts.micTest !== null || parts.micTestPending,
      };
  return Object.freeze({
    config: parts.config,
    configWarning: parts.configWarning,
    account: parts.account,
    signedIn: parts.signedIn,
    status: parts.status,
    statusText: describeStatus(parts.status, parts.config.wsUri),
    loginError: parts.loginError,
    lastUser: parts.lastUser,
    error: parts.error,
    dialError: parts.dialError,
    dialing: parts.dialing,
    lines: Object.freeze(lines),
    idle: live.length === 0,
    canConference,
    conferenceExists: confLine !== null,
    conference: conferenceLine ? (conferences.get(conferenceLine.id)?.snapshot ?? null) : null,
    devices: parts.devices,
    microphone,
    switchingDevice: parts.switchingDevice,
    listening: new Map(parts.listening),
  });
}
