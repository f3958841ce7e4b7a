/** Messages between `pnpm bench mixer`'s driver and its two child processes (IPC, JSON). */

export type PhoneCodec = 'PCMU' | 'opus';

export interface PhoneSpec {
  id: string;
  codec: PhoneCodec;
  payloadType: number;
  room: number;
  /** RTP SSRC the phone sends with (known in advance: mediasoup's producers match on it). */
  ssrc: number;
  /** 0 or 1: one of the room's two talkers (bursts half a second apart); undefined: a listener. */
  talker?: 0 | 1;
}

export interface CpuReading {
  /** process.cpuUsage() user + system, seconds. */
  cpu: number;
  /** performance.now() at the reading, ms. */
  at: number;
}

export type ToHost =
  | { type: 'setup'; phones: PhoneSpec[] }
  | { type: 'peers'; ports: Record<string, number> }
  | { type: 'stats'; reset: boolean }
  | { type: 'stop' };

export interface HostStats extends CpuReading {
  ticks: number;
  skipped: number;
  lateMeanMs: number;
  lateP99Ms: number;
  lateMaxMs: number;
  sharedEncodes: number;
  privateEncodes: number;
  concealedFrames: number;
  lateOrDropped: number;
  packetsIn: number;
  packetsOut: number;
  /** Time from a packet's arrival to the tick that played it, mean ms (the jitter buffer's share). */
}

export type FromHost = { type: 'ready'; ports: Record<string, number> } | ({ type: 'stats' } & HostStats);

export type ToPhones =
  | { type: 'setup'; phones: PhoneSpec[]; latencyListeners: number }
  | { type: 'start'; hostPorts: Record<string, number> }
  | { type: 'stats'; reset: boolean }
  | { type: 'stop' };

export interface PhoneStats extends CpuReading {
  sent: number;
  received: number;
  /** RFC 3550 inter-arrival jitter of the mixer's packets, ms: mean and max over phones. */
  jitterMeanMs: number;
  jitterMaxMs: number;
  /** |arrival interval - packet time| over all packets: 99th percentile, ms. */
  intervalDevP99Ms: number;
  /** Mouth-to-ear through the mixer (talker's send of a burst onset -> listener's receipt), ms. */
  latencies: number[];
  /** Packets a phone got carrying its own burst (own-voice leak): must stay 0. */
  ownEchoes: number;
  senderLateP99Ms: number;
}

export type FromPhones = { type: 'ready'; ports: Record<string, number> } | ({ type: 'stats' } & PhoneStats);
