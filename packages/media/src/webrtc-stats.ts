/** WebRtcLeg.getStats(): the counters of one m-line section. */
import type { SectionStats } from './leg-types.ts';
import type { Section } from './webrtc-sections.ts';

export async function sectionStats(s: Section): Promise<SectionStats> {
  const out: SectionStats = {
    mid: s.mid,
    kind: s.kind ?? s.mediaType,
    closed: s.closed,
    localDirection: s.localDirection,
    remoteDirection: s.remoteDirection,
  };
  // The section may lose its producer/consumer while the stats are read: keep what was there.
  const producer = s.producer;
  const consumer = s.consumer;
  const source = s.source;
  if (producer && !producer.closed) {
    const stats = await producer.getStats().catch(() => []);
    const inbound = stats.filter((x) => x.type === 'inbound-rtp');
    out.producer = {
      id: producer.id,
      ssrc: producer.rtpParameters.encodings?.[0]?.ssrc ?? 0,
      paused: producer.paused,
      packets: inbound.reduce((n, x) => n + x.packetCount, 0),
      bytes: inbound.reduce((n, x) => n + x.byteCount, 0),
    };
  }
  if (consumer && !consumer.closed) {
    const stats = await consumer.getStats().catch(() => []);
    const outbound = stats.filter((x) => x.type === 'outbound-rtp');
    out.consumer = {
      id: consumer.id,
      sourceLegId: source?.legId ?? '',
      sourceLabel: source?.legLabel ?? '',
      paused: consumer.paused,
      packets: outbound.reduce((n, x) => n + x.packetCount, 0),
      bytes: outbound.reduce((n, x) => n + x.byteCount, 0),
    };
  }
  return out;
}
