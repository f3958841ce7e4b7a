/**
 * Phone: the softphone's state store. Owns the signed-in SipAgent, the Lines and the conference
 * sessions, and publishes immutable PhoneSnapshots (React reads them with useSyncExternalStore).
 * All user intents are methods here; the UI never touches JsSIP.
 *
 * Beside it: its published types (phone-types.ts), the snapshot's composition (phone-snapshot.ts),
 * per-participant listening storage (listening-store.ts), new sessions' lines (call-setup.ts).
 */
import { AudioPlayback } from './audio-playback.ts';
import { playedDuration } from './dtmf-info.ts';
import { DEFAULT_LISTENING, type Listening } from './participant-media.ts';
import type { CallOptions } from 'jssip/lib/UA';
import type { RTCSession } from 'jssip/lib/RTCSession';
import type { IncomingRequest } from 'jssip/lib/SIPMessage';
import { SipAgent, type NewSession } from './agent.ts';
import { hangUpWhenAnswered, incomingLine, PC_CONFIG } from './call-setup.ts';
import { ConferenceSession } from './conference.ts';
import type { PhoneConfig } from './config.ts';
import { CredentialStore } from './credentials.ts';
import { Line, type IncomingRefer, type LineRole } from './line.ts';
import { listeningKey, loadListening, saveListening } from './listening-store.ts';
import type { Logger } from './log.ts';
import { DeviceManager, type DeviceKind } from './devices.ts';
import { acquireLocalMedia, acquireTrack, stopStream, type LocalMedia, type MediaChoice } from './media.ts';
import { createConferenceInfoReader } from './conference-info-reader.ts';
import { buildPhoneSnapshot } from './phone-snapshot.ts';
import type { CallPreferences, PhoneOptions, PhoneSnapshot } from './phone-types.ts';
import type { ConferenceInfoReaderFactory } from './roster.ts';
import { normalizeTarget, userPart } from './target.ts';
import type { AgentStatus } from './words.ts';

export type { Account, CallPreferences, MicrophoneSnapshot, PhoneOptions, PhoneSnapshot } from './phone-types.ts';

interface PendingOutgoing {
  readonly media: LocalMedia | null;
  readonly role: LineRole;
  /** Hang this line up once the new call is answered (REFER-initiated transfer). */
  readonly replaces: Line | null;
}

export class Phone {
  readonly config: PhoneConfig;
  #configWarning: string | null;
  #log: Logger;
  #credentials: CredentialStore;
  #readerFactory: ConferenceInfoReaderFactory;
  #lingerMs: number;
  #agent: SipAgent | null = null;
  #signedIn = false;
  #status: AgentStatus = {
    connection: 'offline',
    registration: 'none',
    failure: null,
    aor: null,
    attempts: 0,
    everConnected: false,
  };
  #loginError: string | null = null;
  #error: string | null = null;
  #dialError: string | null = null;
  #dialing = 0;
  #lines = new Map<string, Line>();
  #conferences = new Map<string, ConferenceSession>();
  #removalTimers = new Map<string, ReturnType<typeof setTimeout>>();
  #pendingOutgoing: PendingOutgoing | null = null;
  /** Incoming lines whose microphone is being acquired (a second click must not answer twice). */
  #answering = new Set<string>();
  #devices: DeviceManager;
  #micTest: MediaStreamTrack | null = null;
  #micTestPending = false;
  #switchingDevice: DeviceKind | null = null;
  #listeners = new Set<() => void>();
  #snapshot: PhoneSnapshot | null = null;
  #publishQueued = false;
  #playback: AudioPlayback;
  #listening = new Map<string, Listening>();

  constructor(options: PhoneOptions) {
    this.config = options.config;
    this.#configWarning = options.configWarning ?? null;
    this.#log = options.log;
    this.#credentials = options.credentials ?? new CredentialStore();
    this.#readerFactory = options.conferenceInfoReader ?? createConferenceInfoReader;
    this.#lingerMs = options.endedLingerMs ?? 3000;
    this.#devices = options.devices ?? new DeviceManager();
    this.#devices.events.on('change', () => this.#publish());
    this.#playback = new AudioPlayback(options.log.child({ part: 'playback' }));
    this.#listening = loadListening();
  }

  // ---- per-listener playback (issue 12) ----

  /** Plays every remote audio track, one gain per track (see audio-playback.ts). */
  get playback(): AudioPlayback {
    return this.#playback;
  }

  /** What the page plays right now, after every participant's volume (tests listen to it). */
  audioOutput(): MediaStream | null {
    return this.#playback.output();
  }

  listeningTo(entity: string): Listening {
    return this.#listening.get(listeningKey(entity)) ?? DEFAULT_LISTENING;
  }

  /** This listener's volume (0..100) for one participant; only this page's playback changes. */
  setParticipantVolume(entity: string, volume: number): void {
    this.#setListening(entity, { ...this.listeningTo(entity), volume: Math.round(Math.max(0, Math.min(100, volume))) });
  }

  /** Mutes one participant for this listener only. */
  setParticipantLocalMute(entity: string, muted: boolean): void {
    this.#setListening(entity, { ...this.listeningTo(entity), muted });
  }

  #setListening(entity: string, listening: Listening): void {
    const key = listeningKey(entity);
    if (listening.volume === DEFAULT_LISTENING.volume && listening.muted === DEFAULT_LISTENING.muted)
      this.#listening.delete(key);
    else this.#listening.set(key, Object.freeze(listening));
    saveListening(this.#listening);
    this.#publish();
  }

  // ---- store protocol (useSyncExternalStore) ----

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  getSnapshot = (): PhoneSnapshot => {
    this.#snapshot ??= this.#buildSnapshot();
    return this.#snapshot;
  };

  /** The Line behind a snapshot id: for console debugging and the smoke scripts only. */
  debugLine(lineId: string): Line | undefined {
    return this.#lines.get(lineId);
  }

  // ---- account ----

  /** Signs in with remembered credentials, if any. Returns whether it tried. */
  autoLogin(): boolean {
    const saved = this.#credentials.load();
    if (!saved) return false;
    this.login(saved.user, saved.password, true);
    return true;
  }

  login(user: string, password: string, remember: boolean): void {
    const name = user.trim();
    if (name === '' || password === '') {
      this.#loginError = name === '' ? 'enter your user name' : 'enter your password';
      this.#publish();
      return;
    }
    if (this.#agent) void this.#closeAgent();
    this.#loginError = null;
    this.#error = null;
    let agent: SipAgent;
    try {
      agent = new SipAgent(this.config, { user: name, password }, this.#log);
    } catch (error) {
      this.#loginError = `cannot sign in as "${name}": ${String(error)}`;
      this.#publish();
      return;
    }
    this.#agent = agent;
    this.#devices.watch();
    this.#credentials.rememberUser(name);
    if (remember) this.#credentials.save({ user: name, password });
    else this.#credentials.forget();

    agent.events.on('status', (status) => {
      if (this.#agent !== agent) return;
      this.#status = status;
      if (status.registration === 'registered') this.#signedIn = true;
      this.#publish();
    });
    agent.events.on('session', (s) => {
      if (this.#agent === agent) this.#onSession(s);
    });
    agent.events.on('authFailed', (message) => {
      if (this.#agent !== agent) return;
      // Wrong credentials: stop retrying and go back to the login form.
      this.#credentials.forget();
      this.#loginError = message;
      void this.#closeAgent();
    });
    this.#status = agent.status;
    agent.start();
    this.#publish();
  }

  async logout(): Promise<void> {
    this.#credentials.forget();
    this.#loginError = null;
    await this.#closeAgent();
    this.#status = { ...this.#status, connection: 'offline', registration: 'none', failure: null, attempts: 0 };
    this.#publish();
  }

  /** Page is going away: hang up and unregister as well as we can. */
  close(): void {
    void this.#closeAgent();
  }

  // ---- calls ----

  async dial(input: string, prefs: CallPreferences = {}): Promise<void> {
    const target = normalizeTarget(input, this.#agent?.domain ?? this.config.domain);
    if (!target.ok) {
      this.#dialError = target.error;
      this.#publish();
      return;
    }
    await this.#placeCall(target.uri, 'call', prefs);
  }

  async answer(lineId: string, prefs: CallPreferences = {}): Promise<void> {
    const line = this.#lines.get(lineId);
    if (!line || line.direction !== 'incoming' || line.state !== 'ringing' || this.#answering.has(lineId)) return;
    const offersVideo = line.snapshot.offersVideo;
    let media: LocalMedia;
    this.#answering.add(lineId);
    try {
      media = await this.#acquire(Boolean(prefs.video) && offersVideo);
    } catch (error) {
      this.#setError(`cannot answer: ${error instanceof Error ? error.message : String(error)}`);
      return;
    } finally {
      this.#answering.delete(lineId);
    }
    if (line.ended || line.snapshot.phase !== 'ringing') {
      stopStream(media.stream); // caller gave up while we were getting the microphone
      return;
    }
    if (prefs.holdOthers) this.#holdActive(line);
    try {
      if (prefs.muted) for (const t of media.stream.getAudioTracks()) t.enabled = false;
      line.answer(media.stream, media.video);
      if (prefs.muted) line.startMuted();
    } catch (error) {
      this.#setError(`cannot answer: ${String(error)}`);
    }
  }

  decline(lineId: string): void {
    this.#lines.get(lineId)?.decline(486);
  }

  hangup(lineId: string): void {
    this.#lines.get(lineId)?.hangup();
  }

  hold(lineId: string): void {
    this.#lines.get(lineId)?.hold();
  }

  resume(lineId: string): void {
    this.#lines.get(lineId)?.resume();
  }

  setMuted(lineId: string, muted: boolean): void {
    this.#lines.get(lineId)?.setMuted(muted);
  }

  /** Keypad: plays RFC 4733 tones on a call ("1", "*", "#", or several at once). */
  /** The conference creator removes a participant (the focus checks the right to do so). */
  removeParticipant(entity: string): void {
    const line = this.#activeConferenceLine();
    if (!line) return;
    this.#conferenceFor(line)
      .remove(entity)
      .catch(() => {
        /* shown on the conference card */
      });
  }

  sendDtmf(lineId: string, tones: string): void {
    this.#lines.get(lineId)?.sendDtmf(tones);
  }

  /**
   * Blind transfer: asks the other party of `lineId` to call `input` (a user name or SIP URI).
   * Returns what is wrong with the input, or null when the REFER was sent.
   */
  transfer(lineId: string, input: string): string | null {
    const line = this.#lines.get(lineId);
    if (!line || (line.state !== 'active' && line.state !== 'held')) return 'this call is not connected';
    const target = normalizeTarget(input, this.#agent?.domain ?? this.config.domain);
    if (!target.ok) return target.error;
    if (target.uri.toLowerCase() === line.party.toLowerCase())
      return `that is ${line.displayName} already: transfer to someone else`;
    line.transfer(target.uri, userPart(target.uri));
    return null;
  }

  /**
   * Chooses a device ('' = system default), remembered for next time. A new microphone or camera
   * replaces the track of every call in progress (RTCRtpSender.replaceTrack, no renegotiation);
   * the speaker applies to every remote audio element (the UI reads devices.selected.speaker).
   */
  async selectDevice(kind: DeviceKind, deviceId: string): Promise<void> {
    if (this.#devices.selected[kind] === deviceId) return;
    this.#devices.select(kind, deviceId);
    if (kind === 'speaker') return;
    const trackKind = kind === 'microphone' ? 'audio' : 'video';
    const constraint = this.#devices.constraint(kind);
    const lines = [...this.#lines.values()].filter((l) => {
      const snap = l.snapshot;
      return !l.ended && (trackKind === 'audio' ? snap.localAudioTrack : snap.localVideoTrack) !== null;
    });
    const testing = trackKind === 'audio' && this.#micTest !== null;
    if (lines.length === 0 && !testing) return;
    this.#switchingDevice = kind;
    this.#publish();
    try {
      for (const line of lines) {
        let track: MediaStreamTrack;
        try {
          track = await acquireTrack(trackKind, constraint);
        } catch (error) {
          line.setError(`could not switch the ${kind}: ${error instanceof Error ? error.message : String(error)}`);
          continue;
        }
        try {
          await line.replaceLocalTrack(track);
        } catch (error) {
          track.stop();
          line.setError(`could not switch the ${kind}: ${String(error)}`);
        }
      }
      if (testing) {
        this.#stopMicTest();
        await this.setMicTest(true);
      }
    } finally {
      this.#switchingDevice = null;
      void this.#devices.refresh();
      this.#publish();
    }
  }

  /** Microphone test while idle: captures the chosen microphone only for the level meter. */
  async setMicTest(on: boolean): Promise<void> {
    if (!on) {
      this.#stopMicTest();
      this.#publish();
      return;
    }
    if (this.#micTest || this.#micTestPending) return;
    this.#micTestPending = true;
    this.#publish();
    try {
      const track = await acquireTrack('audio', this.#devices.constraint('microphone'));
      if (!this.#micTestPending) {
        track.stop(); // switched off while we waited for the microphone
        return;
      }
      this.#micTest = track;
    } catch (error) {
      this.#setError(`cannot test the microphone: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.#micTestPending = false;
      void this.#devices.refresh();
      this.#publish();
    }
  }

  /** Shows a problem in the global error banner (e.g. the chosen speaker failed). */
  showError(message: string): void {
    this.#setError(message);
  }

  /** Receiver audio levels and SSRCs of a line (video tiles: who is speaking). */
  async remoteMediaInfo(
    lineId: string,
  ): Promise<{ audioLevels: Map<string, number>; ssrcs: Map<string, number> } | null> {
    const line = this.#lines.get(lineId);
    if (!line) return null;
    try {
      return await line.remoteMediaInfo();
    } catch {
      return null; // the peer connection closed under us
    }
  }

  dismissError(): void {
    this.#error = null;
    this.#publish();
  }

  clearDialError(): void {
    if (this.#dialError === null) return;
    this.#dialError = null;
    this.#publish();
  }

  // ---- conference ----

  /**
   * Creates a conference at the factory URI and brings every other connected call into it, or,
   * if we already talk to a conference, adds the other calls to that one.
   */
  async startConference(): Promise<void> {
    const calls = this.#connectedLines().filter((l) => l.role === 'call');
    const existing = this.#activeConferenceLine();
    if (existing?.focusUri) {
      await this.#conferenceFor(existing).invite(calls);
      return;
    }
    if (!this.getSnapshot().canConference) return;
    // Video in the conference when any merged call had it: the creator's pictures come through this call.
    const video = calls.some((l) => l.snapshot.video);
    const line = await this.#placeCall(this.config.conferenceFactoryUri, 'conference', { video });
    if (!line) return;
    const outcome = await new Promise<'focus' | 'no-focus' | 'ended'>((resolve) => {
      const check = (): void => {
        if (line.ended) resolve('ended');
        else if (line.focusUri) resolve('focus');
        else if (line.state === 'active' || line.state === 'held') resolve('no-focus');
        else return;
        line.events.off('change', check).off('ended', check);
      };
      line.events.on('change', check).on('ended', check);
      check();
    });
    if (outcome === 'ended') {
      this.#setError(`could not create the conference: ${line.snapshot.end?.text ?? 'the call failed'}`);
      return;
    }
    if (outcome === 'no-focus') {
      line.setError('the conference server answered without ";isfocus": the other calls were left as they are');
      return;
    }
    await this.#conferenceFor(line).invite(calls);
  }

  // ---- internals ----

  #mediaChoice(): MediaChoice {
    return { audio: this.#devices.constraint('microphone'), video: this.#devices.constraint('camera') };
  }

  async #acquire(video: boolean): Promise<LocalMedia> {
    try {
      return await acquireLocalMedia(video, this.#mediaChoice());
    } finally {
      // Labels appear once the browser has granted a device.
      void this.#devices.refresh();
    }
  }

  #stopMicTest(): void {
    this.#micTestPending = false;
    this.#micTest?.stop();
    this.#micTest = null;
  }

  async #placeCall(uri: string, role: LineRole, prefs: CallPreferences): Promise<Line | null> {
    const agent = this.#agent;
    if (!agent) {
      this.#setError('sign in first');
      return null;
    }
    if (!agent.connected) {
      this.#setError(`cannot call: not connected to the server (${this.getSnapshot().statusText})`);
      return null;
    }
    this.#dialError = null;
    this.#dialing += 1;
    this.#publish();
    let media: LocalMedia;
    try {
      media = await this.#acquire(Boolean(prefs.video));
    } catch (error) {
      this.#dialing -= 1;
      this.#setError(`cannot call: ${error instanceof Error ? error.message : String(error)}`);
      return null;
    }
    this.#dialing -= 1;
    if (this.#agent !== agent || agent.closed) {
      stopStream(media.stream);
      this.#publish();
      return null;
    }
    if (prefs.holdOthers) this.#holdActive(null);
    if (prefs.muted) for (const t of media.stream.getAudioTracks()) t.enabled = false;
    if (media.note) this.#setError(media.note);
    const options: CallOptions = {
      mediaStream: media.stream,
      pcConfig: PC_CONFIG,
      rtcOfferConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: media.video },
    };
    this.#pendingOutgoing = { media, role, replaces: null };
    let session: RTCSession;
    try {
      session = agent.call(uri, options); // 'session' fires synchronously and creates the Line
    } catch (error) {
      stopStream(media.stream);
      this.#setError(`cannot call ${uri}: ${String(error)}`);
      return null;
    } finally {
      this.#pendingOutgoing = null;
    }
    this.#publish();
    const placed = [...this.#lines.values()].find((l) => l.session === session) ?? null;
    if (prefs.muted) placed?.startMuted();
    return placed;
  }

  #holdActive(except: Line | null): void {
    for (const line of this.#lines.values()) {
      if (line !== except && line.state === 'active') line.hold();
    }
  }

  #onSession({ session, originator, request }: NewSession): void {
    // A call takes over the meter (and the microphone): the test is over.
    this.#stopMicTest();
    let line: Line;
    if (originator === 'remote') {
      line = incomingLine(session, request as IncomingRequest, this.#log);
    } else {
      const pending = this.#pendingOutgoing;
      this.#pendingOutgoing = null;
      line = new Line({
        session,
        direction: 'outgoing',
        localStream: pending?.media?.stream ?? null,
        video: pending?.media?.video ?? false,
        role: pending?.role ?? 'call',
        log: this.#log,
      });
      if (pending?.replaces) hangUpWhenAnswered(line, pending.replaces);
    }
    this.#lines.set(line.id, line);
    line.events.on('change', () => {
      if (line.focusUri && !this.#conferences.has(line.id)) {
        if (line.role !== 'conference') line.setRole('conference');
        this.#conferenceFor(line);
      }
      this.#publish();
    });
    line.events.on('ended', () => this.#scheduleRemoval(line));
    line.events.on('refer', (refer) => void this.#onRefer(refer));
    // A key the other side sent (SIP INFO) sounds like on a phone: its tone pair, in the played mix.
    line.events.on('dtmf', (digit, ms) => this.#playback.playDtmf(digit, playedDuration(ms)));
    if (line.role === 'conference') this.#conferenceFor(line);
    this.#publish();
  }

  /**
   * The other side (a transferor, or the conference creator via the focus) asks us to call a
   * target. We follow it, and drop the old call once the new one is answered.
   */
  async #onRefer(refer: IncomingRefer): Promise<void> {
    const agent = this.#agent;
    if (!agent) {
      refer.reject();
      return;
    }
    let media: LocalMedia;
    try {
      media = await this.#acquire(refer.line.snapshot.video);
    } catch (error) {
      refer.reject();
      refer.line.setError(
        `could not follow the transfer to ${refer.target}: ${error instanceof Error ? error.message : String(error)}`,
      );
      return;
    }
    this.#pendingOutgoing = { media, role: 'call', replaces: refer.line };
    try {
      refer.accept({
        mediaStream: media.stream,
        pcConfig: PC_CONFIG,
        rtcOfferConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: media.video },
      });
    } catch (error) {
      refer.line.setError(`could not follow the transfer to ${refer.target}: ${String(error)}`);
    } finally {
      if (this.#pendingOutgoing?.media === media) {
        // accept() declined to start a call (old dialog already gone).
        this.#pendingOutgoing = null;
        stopStream(media.stream);
      }
    }
  }

  #conferenceFor(line: Line): ConferenceSession {
    let conference = this.#conferences.get(line.id);
    if (!conference) {
      const agent = this.#agent;
      if (!agent) throw new Error('not signed in');
      conference = new ConferenceSession(line, agent, this.#readerFactory, this.#log);
      conference.events.on('change', () => this.#publish());
      this.#conferences.set(line.id, conference);
    }
    return conference;
  }

  #activeConferenceLine(): Line | null {
    return this.#connectedLines().find((l) => l.role === 'conference' && l.focusUri !== null) ?? null;
  }

  #connectedLines(): Line[] {
    return [...this.#lines.values()].filter((l) => l.state === 'active' || l.state === 'held');
  }

  #scheduleRemoval(line: Line): void {
    this.#publish();
    const timer = setTimeout(() => {
      this.#removalTimers.delete(line.id);
      this.#lines.delete(line.id);
      this.#conferences.get(line.id)?.close();
      this.#conferences.delete(line.id);
      line.events.removeAllListeners();
      this.#publish();
    }, this.#lingerMs);
    this.#removalTimers.set(line.id, timer);
  }

  async #closeAgent(): Promise<void> {
    const agent = this.#agent;
    this.#agent = null;
    this.#signedIn = false;
    for (const conference of this.#conferences.values()) conference.close();
    for (const line of this.#lines.values()) line.hangup();
    this.#stopMicTest();
    if (agent) await agent.close();
    this.#publish();
  }

  #setError(message: string): void {
    this.#error = message;
    this.#publish();
  }

  /** Coalesces bursts of changes into one snapshot per microtask. */
  #publish(): void {
    this.#snapshot = null;
    if (this.#publishQueued) return;
    this.#publishQueued = true;
    queueMicrotask(() => {
      this.#publishQueued = false;
      for (const listener of [...this.#listeners]) listener();
    });
  }

  #buildSnapshot(): PhoneSnapshot {
    const agent = this.#agent;
    return buildPhoneSnapshot({
      config: this.config,
      configWarning: this.#configWarning,
      account: agent ? { user: agent.user, uri: agent.uri } : null,
      signedIn: agent !== null && this.#signedIn,
      status: this.#status,
      loginError: this.#loginError,
      lastUser: this.#credentials.lastUser(),
      error: this.#error,
      dialError: this.#dialError,
      dialing: this.#dialing > 0,
      lines: [...this.#lines.values()],
      conferences: this.#conferences,
      devices: this.#devices.snapshot,
      micTest: this.#micTest,
      micTestPending: this.#micTestPending,
      switchingDevice: this.#switchingDevice,
      listening: this.#listening,
    });
  }
}
