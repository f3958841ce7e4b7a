import { useEffect } from 'react';

/**
 * Incoming-call ring (two-tone, 2 s on / 4 s off) made with Web Audio, plus the tab title, so a
 * call is noticed when the tab is in the background. Silently does nothing if audio is blocked.
 */
class Ringer {
  #ctx: AudioContext | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;

  start(): void {
    if (this.#timer !== undefined) return;
    try {
      this.#ctx ??= new AudioContext();
      void this.#ctx.resume().catch(() => {});
    } catch {
      this.#ctx = null;
    }
    this.#burst();
    this.#timer = setInterval(() => this.#burst(), 6000);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    const ctx = this.#ctx;
    this.#ctx = null;
    void ctx?.close().catch(() => {});
  }

  #burst(): void {
    const ctx = this.#ctx;
    if (!ctx || ctx.state !== 'running') return;
    const gain = ctx.createGain();
    gain.gain.value = 0;
    gain.connect(ctx.destination);
    const t = ctx.currentTime;
    for (const freq of [440, 480]) {
      const osc = ctx.createOscillator();
      osc.frequency.value = freq;
      osc.connect(gain);
      osc.start(t);
      osc.stop(t + 2);
    }
    gain.gain.setValueAtTime(0, t);
    gain.gain.linearRampToValueAtTime(0.06, t + 0.05);
    gain.gain.setValueAtTime(0.06, t + 1.9);
    gain.gain.linearRampToValueAtTime(0, t + 2);
  }
}

export function useRinger(ringing: boolean, caller: string | null): void {
  useEffect(() => {
    if (!ringing) return;
    const ringer = new Ringer();
    ringer.start();
    const title = document.title;
    document.title = `📞 ${caller ?? 'Incoming call'} — Conclave`;
    return () => {
      ringer.stop();
      document.title = title;
    };
  }, [ringing, caller]);
}
