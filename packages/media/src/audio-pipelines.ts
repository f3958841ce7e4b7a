/**
 * The GStreamer pipelines of a plain RTP leg, as gst-launch descriptions (pure string builders, so
 * they can be unit-tested and read in one place). All RTP in and out is on the loopback interface,
 * between the pipeline and the leg's relay in this process:
 *
 * - uplink (phone → room), G.711 phones only: the phone's PCMU/PCMA RTP → jitter buffer → G.711 decode
 *   → 48 kHz → Opus encoder → Opus RTP (PT 111, an SSRC we chose) → relay → the leg's mediasoup producer.
 *   An opus phone needs no uplink pipeline: the relay forwards its RTP as is.
 * - mixer (room → phone): the RTP of every other party's Opus producer (one mediasoup consumer each,
 *   one loopback port each) → per-source jitter buffer → Opus decode → audiomixer (plus a live silent
 *   source that keeps the output clocked when nobody sends) → the phone's codec → RTP → relay → phone.
 */
import type { PlainCodecName } from './sdp/plain-description.ts';

/** Jitter buffer of each mixer input (ms): parties reach mediasoup over real networks. */
export const MIXER_JITTER_MS = 60;
/** Jitter buffer of the uplink (ms): only reorders the phone's packets; browsers buffer again anyway. */
export const UPLINK_JITTER_MS = 40;
/** Packet duration we send to phones (ms); also what our SDP says (a=ptime). */
export const PTIME_MS = 20;
/** Opus bitrate of a phone's uplink: the source is narrowband G.711, 24 kbit/s is transparent for it. */
export const UPLINK_OPUS_BITRATE = 24000;
/** Opus bitrate sent to opus phones. */
export const DOWNLINK_OPUS_BITRATE = 32000;

const LOOPBACK = '127.0.0.1';
const NS_PER_MS = 1_000_000;

/** The payloader's caps for a codec as it arrives from a phone. */
function g711Caps(codec: 'PCMU' | 'PCMA', payloadType: number): string {
  return `application/x-rtp,media=(string)audio,clock-rate=(int)8000,encoding-name=(string)${codec},payload=(int)${payloadType}`;
}

const OPUS_RTP_CAPS = 'application/x-rtp,media=(string)audio,clock-rate=(int)48000,encoding-name=(string)OPUS';

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

/** udpsrc element name of the mixer's i-th input. */
export function mixerInputName(i: number): string {
  return `in${i}`;
}

/**
 * The mixer towards one phone. Input i (Opus RTP of `inputs[i]`) arrives on the udpsrc named
 * mixerInputName(i). Every branch is linked when the pipeline starts (no demuxer creating pads on
 * the first packet): all branches are running, and the mixer knows their latency, before any audio.
 */
export function mixerPipeline(params: {
  /** SSRCs of the Opus streams to mix (mediasoup consumers of the other parties), for validation. */
  inputs: number[];
  inputPayloadType: number;
  output: { codec: PlainCodecName; payloadType: number };
  outPort: number;
  outSsrc: number;
}): string {
  const rate = params.output.codec === 'opus' ? 48000 : 8000;
  const raw = `audio/x-raw,format=S16LE,rate=${rate},channels=1`;
  const pt = check(params.output.payloadType, 'payload type');
  const ssrc = check(params.outSsrc, 'ssrc');
  const ptime = PTIME_MS * NS_PER_MS;
  const encoder =
    params.output.codec === 'PCMU'
      ? `mulawenc ! rtppcmupay pt=${pt} ssrc=${ssrc} min-ptime=${ptime} max-ptime=${ptime}`
      : params.output.codec === 'PCMA'
        ? `alawenc ! rtppcmapay pt=${pt} ssrc=${ssrc} min-ptime=${ptime} max-ptime=${ptime}`
        : `opusenc audio-type=voice bitrate=${DOWNLINK_OPUS_BITRATE} frame-size=${PTIME_MS} ! rtpopuspay pt=${pt} ssrc=${ssrc}`;
  const inputCaps = `${OPUS_RTP_CAPS},payload=(int)${check(params.inputPayloadType, 'payload type')}`;
  const parts = [
    // A live silent input: the mixer produces a steady stream even when nobody else sends (alone, all held).
    `audiotestsrc is-live=true wave=silence samplesperbuffer=${(rate * PTIME_MS) / 1000} ! ${raw} ! mix.`,
  ];
  params.inputs.forEach((input, i) => {
    check(input, 'ssrc');
    parts.push(
      `udpsrc name=${mixerInputName(i)} address=${LOOPBACK} port=0 caps=${inputCaps}`,
      `! rtpjitterbuffer latency=${MIXER_JITTER_MS} drop-on-latency=true`,
      `! rtpopusdepay ! opusdec plc=true ! audioconvert ! audioresample ! ${raw} ! mix.`,
    );
  });
  parts.push(
    // ignore-inactive-pads: an input that has not sent yet (just joined) does not delay the others.
    `audiomixer name=mix output-buffer-duration=${ptime} ignore-inactive-pads=true ! ${raw}`,
    `! ${encoder}`,
    `! udpsink host=${LOOPBACK} port=${check(params.outPort, 'port')} sync=false async=false`,
  );
  return parts.join(' ');
}
