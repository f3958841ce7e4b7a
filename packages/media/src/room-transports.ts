/**
 * How a room builds its legs' mediasoup transports from the service's transport settings (split out of
 * room.ts): WebRTC transports for browsers, loopback plain transports for phones (behind the relay).
 */
import type * as ms from 'mediasoup/types';
import type { Logger } from '@conclave/log';
import { MediaClosedError } from './errors.ts';
import type { LegKind } from './leg-types.ts';
import type { LegTransport } from './negotiated-leg.ts';
import type { PlainListenSettings } from './plain-rtp-leg.ts';
import type { RouterLease, RouterRegistry } from './router-registry.ts';

/** @internal How the service tells a room to build transports. */
export interface TransportSettings {
  listenInfos: ms.TransportListenInfo[];
  initialAvailableOutgoingBitrate?: number;
  /** WebRtcTransport iceConsentTimeout (s): a browser that stops answering consent checks is 'vanished'. */
  iceConsentTimeout: number;
  /** A plain leg whose phone sends nothing for this long is 'vanished' (ms; 0 = never). */
  plainRtpTimeoutMs: number;
}

/** Where phones reach plain RTP legs: the UDP listen info of the service (IP, announced address, RTC range). */
export function plainListenSettings(settings: TransportSettings): PlainListenSettings {
  const info = settings.listenInfos.find((l) => l.protocol === 'udp') ?? settings.listenInfos[0];
  if (!info?.portRange) throw new Error('the media service has no UDP port range for plain RTP legs');
  return {
    ip: info.ip,
    ...(info.announcedAddress ? { announcedAddress: info.announcedAddress } : {}),
    minPort: info.portRange.min,
    maxPort: info.portRange.max,
  };
}

/** A transport of the kind the leg needs (a leg whose worker died gets the same kind again). */
export function newTransport(
  settings: TransportSettings,
  kind: LegKind,
  lease: RouterLease,
  legId: string,
  label: string,
): Promise<LegTransport> {
  return kind === 'webrtc' ? newWebRtcTransport(settings, lease, legId, label) : newPlainTransport(lease, legId, label);
}

export async function newWebRtcTransport(
  settings: TransportSettings,
  lease: RouterLease,
  legId: string,
  label: string,
): Promise<ms.WebRtcTransport> {
  const transport = await lease.router.createWebRtcTransport({
    listenInfos: settings.listenInfos,
    ...(settings.initialAvailableOutgoingBitrate !== undefined
      ? { initialAvailableOutgoingBitrate: settings.initialAvailableOutgoingBitrate }
      : {}),
    iceConsentTimeout: settings.iceConsentTimeout,
    appData: { legId, label },
  });
  lease.addTransport(transport);
  return transport;
}

export async function newPlainTransport(lease: RouterLease, legId: string, label: string): Promise<ms.PlainTransport> {
  // Loopback only: it talks to this process's relay, never to the phone.
  const transport = await lease.router.createPlainTransport({
    listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
    rtcpMux: true,
    comedia: false,
    appData: { legId, label },
  });
  lease.addTransport(transport);
  return transport;
}

/** What placeTransport needs of the room. */
export interface PlacementContext {
  /** The room: the holder of the routers it leases. */
  holder: { readonly label: string };
  registry: RouterRegistry;
  /** Read live: a rebuild after a worker crash may replace them while a placement waits. */
  home: () => RouterLease;
  /** Routers the room opened on other workers. */
  overflow: () => RouterLease[];
  addOverflow: (lease: RouterLease) => void;
  closed: () => boolean;
  log: Logger;
}

/** Where a new leg's transport goes: the home router unless its worker is full (maxTransportsPerWorker). */
export async function placeTransport(room: PlacementContext): Promise<RouterLease> {
  const registry = room.registry;
  if (registry.hasRoomOn(room.home().worker)) return room.home();
  const open = room.overflow().filter((l) => !l.closed);
  const withRoom = open.filter((l) => registry.hasRoomOn(l.worker));
  withRoom.sort((a, b) => registry.transportsOn(a.worker) - registry.transportsOn(b.worker));
  if (withRoom[0]) return withRoom[0];
  const used = new Set([room.home().worker, ...open.map((l) => l.worker)]);
  const lease = await registry.create(room.holder, (w) => !used.has(w) && registry.hasRoomOn(w));
  if (lease) {
    if (room.closed()) {
      lease.release(room.holder);
      throw new MediaClosedError(`room '${room.holder.label}' is closed`);
    }
    room.addOverflow(lease);
    room.log.info('room spans another worker', { pid: lease.worker.pid, max: registry.maxTransportsPerWorker });
    return lease;
  }
  // Every worker is full: overload the least busy router of the room rather than refuse the call.
  const all = [room.home(), ...open];
  all.sort((a, b) => registry.transportsOn(a.worker) - registry.transportsOn(b.worker));
  room.log.warn('every worker hosts maxTransportsPerWorker transports; overloading one', {
    max: registry.maxTransportsPerWorker,
    pid: all[0]!.worker.pid,
  });
  return all[0]!;
}
