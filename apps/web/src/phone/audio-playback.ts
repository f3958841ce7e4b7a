/**
 * Plays every remote audio track through one WebAudio graph, one gain per track, so that each
 * listener sets the volume of each participant for themselves (the focus forwards every party's
 * stream separately). The `<audio>` elements stay (at volume 0): Chromium renders a remote WebRTC
 * track into WebAudio only while an element plays it, and they carry the test contract.
 *
 * `output()` is the mix exactly as it goes to the speaker (after every gain): tests listen to it.
 */
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
