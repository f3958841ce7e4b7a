/**
 * The GStreamer pipeline of a plain RTP leg, as a gst-launch description (a pure string builder, so it
 * can be unit-tested and read in one place). All RTP in and out is on the loopback interface, between
 * the pipeline and the leg's relay in this process:
 *
 * - uplink (phone → browsers), G.711 phones only: the phone's PCMU/PCMA RTP → jitter buffer → G.711
 *   decode → 48 kHz → Opus encoder → Opus RTP (PT 111, an SSRC we chose) → relay → the leg's mediasoup
 *   producer. An opus phone needs no uplink pipeline: the relay forwards its RTP as is.
 *
 * What a phone hears comes from its room's mixer (room-audio.ts, packages/mixer), not from GStreamer.
 */
/** Jitter buffer of the uplink (ms): only reorders the phone's packets; browsers buffer again anyway. */
export const UPLINK_JITTER_MS = 40;
/** Packet duration we send to phones (ms); also what our SDP says (a=ptime). */
export const PTIME_MS = 20;
/** Opus bitrate of a phone's uplink: the source is narrowband G.711, 24 kbit/s is transparent for it. */
export const UPLINK_OPUS_BITRATE = 24000;

const LOOPBACK = '127.0.0.1';

/** The payloader's caps for a codec as it arrives from a phone. */
function g711Caps(codec: 'PCMU' | 'PCMA', payloadType: number): string {
  return `application/x-rtp,media=(string)audio,clock-rate=(int)8000,encoding-name=(string)${codec},payload=(int)${payloadType}`;
}

function check(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`invalid ${what}: ${n}`);
  return n;
}

/** Uplink of a G.711 phone. Its udpsrc is named `in`. */
export function uplinkPipeline(params: {
  codec: 'PCMU' | 'PCMA';
  payloadType: number;
  /** Opus RTP goes to 127.0.0.1:outPort (the leg's relay). */
  outPort: number;
  outSsrc: number;
  outPayloadType: number;
}): string {
  const dec = params.codec === 'PCMU' ? 'rtppcmudepay ! mulawdec' : 'rtppcmadepay ! alawdec';
  return [
    `udpsrc name=in address=${LOOPBACK} port=0 caps=${g711Caps(params.codec, check(params.payloadType, 'payload type'))}`,
    `! rtpjitterbuffer latency=${UPLINK_JITTER_MS} drop-on-latency=true`,
    `! ${dec} ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=1`,
    `! opusenc audio-type=voice bitrate=${UPLINK_OPUS_BITRATE} frame-size=${PTIME_MS}`,
    `! rtpopuspay pt=${check(params.outPayloadType, 'payload type')} ssrc=${check(params.outSsrc, 'ssrc')}`,
    `! udpsink host=${LOOPBACK} port=${check(params.outPort, 'port')} sync=false async=false`,
  ].join(' ');
}
