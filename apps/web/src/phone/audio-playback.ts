/**
 * Plays every remote audio track through one WebAudio graph, one gain per track, so that each
 * listener sets the volume of each participant for themselves (the focus forwards every party's
 * stream separately). The `<audio>` elements stay (at volume 0): Chromium renders a remote WebRTC
 * track into WebAudio only while an element plays it, and they carry the test contract.
 *
 * `output()` is the mix exactly as it goes to the speaker (after every gain): tests listen to it.
 * Keys the other side sends as SIP INFO are played into the same mix (`playDtmf`), as a phone plays
 * received DTMF.
 */
import { dtmfFrequencies } from './dtmf-info.ts';
import type { Logger } from './log.ts';

type SinkContext = AudioContext & { setSinkId?: (id: string) => Promise<void> };

export class AudioPlayback {
  #ctx: SinkContext | null = null;
  #master: GainNode | null = null;
  #tap: MediaStreamAudioDestinationNode | null = null;
  #nodes = new Map<string, { source: MediaStreamAudioSourceNode; gain: GainNode; track: MediaStreamTrack }>();
  #gains = new Map<string, number>();
  #sinkId = '';
  #closed = false;
  #log: Logger | null;

  constructor(log: Logger | null = null) {
    this.#log = log;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Starts playing a remote audio track (idempotent per track id). */
  attach(track: MediaStreamTrack, gain = 1): void {
    if (this.#closed || track.kind !== 'audio') return;
    this.#gains.set(track.id, gain);
    if (this.#nodes.has(track.id)) return this.setGain(track.id, gain);
    const ctx = this.#context();
    if (!ctx || !this.#master) return;
    const source = ctx.createMediaStreamSource(new MediaStream([track]));
    const node = ctx.createGain();
    node.gain.value = gain;
    source.connect(node).connect(this.#master);
    this.#nodes.set(track.id, { source, gain: node, track });
  }

  detach(trackId: string): void {
    const n = this.#nodes.get(trackId);
    this.#gains.delete(trackId);
    if (!n) return;
    this.#nodes.delete(trackId);
    n.source.disconnect();
    n.gain.disconnect();
  }

  /** 0..1. Ramped over 30 ms, so a change does not click. */
  setGain(trackId: string, gain: number): void {
    this.#gains.set(trackId, gain);
    const n = this.#nodes.get(trackId);
    if (!n || !this.#ctx) return;
    n.gain.gain.setTargetAtTime(gain, this.#ctx.currentTime, 0.01);
  }

  gainOf(trackId: string): number | undefined {
    return this.#gains.get(trackId);
  }

  /** Speaker choice ('' = default), where the browser has AudioContext.setSinkId. */
  async setSink(sinkId: string): Promise<void> {
    this.#sinkId = sinkId;
    const ctx = this.#ctx;
    if (ctx && typeof ctx.setSinkId === 'function') await ctx.setSinkId(sinkId);
  }

  /**
   * Plays a key's tone pair (ITU-T Q.23) for `durationMs` into the mix, each frequency about -20 dBFS,
   * with 5 ms ramps so it does not click. Returns false for an unknown key or without WebAudio.
   */
  playDtmf(digit: string, durationMs: number): boolean {
    const freqs = dtmfFrequencies(digit);
    const ctx = this.#closed ? null : this.#context();
    if (!freqs || !ctx || !this.#master) return false;
    const start = ctx.currentTime + 0.01;
    const end = start + durationMs / 1000;
    const envelope = ctx.createGain();
    envelope.gain.setValueAtTime(0, start);
    envelope.gain.linearRampToValueAtTime(0.1, start + 0.005);
    envelope.gain.setValueAtTime(0.1, end - 0.005);
    envelope.gain.linearRampToValueAtTime(0, end);
    envelope.connect(this.#master);
    for (const f of freqs) {
      const osc = ctx.createOscillator();
      osc.frequency.value = f;
      osc.connect(envelope);
      osc.start(start);
      osc.stop(end + 0.01);
      osc.addEventListener('ended', () => osc.disconnect());
    }
    setTimeout(() => envelope.disconnect(), durationMs + 100);
    return true;
  }

  /** What this page plays, after every participant's gain (for tests and meters). */
  output(): MediaStream | null {
    const ctx = this.#context();
    if (!ctx || !this.#master) return null;
    if (!this.#tap) {
      this.#tap = ctx.createMediaStreamDestination();
      this.#master.connect(this.#tap);
    }
    return this.#tap.stream;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const id of [...this.#nodes.keys()]) this.detach(id);
    void this.#ctx?.close().catch(() => {});
    this.#ctx = null;
  }

  #context(): SinkContext | null {
    if (this.#ctx) return this.#ctx;
    if (typeof AudioContext === 'undefined') return null;
    const ctx: SinkContext = new AudioContext({ latencyHint: 'interactive' });
    this.#ctx = ctx;
    this.#master = ctx.createGain();
    this.#master.connect(ctx.destination);
    if (this.#sinkId && typeof ctx.setSinkId === 'function') void ctx.setSinkId(this.#sinkId).catch(() => {});
    // Autoplay policy: a context made before any user gesture starts suspended.
    const resume = (): void => {
      if (ctx.state === 'suspended') void ctx.resume().catch(() => {});
    };
    resume();
    if (typeof window !== 'undefined') {
      window.addEventListener('pointerdown', resume);
      window.addEventListener('keydown', resume);
    }
    ctx.addEventListener('statechange', () => this.#log?.info('audio playback', { state: ctx.state }));
    return ctx;
  }
}
