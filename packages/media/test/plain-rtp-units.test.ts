/**
 * Pure parts of plain RTP legs: RTP header helpers and the rewriter that keeps a stream continuous
 * across pipeline restarts, and the uplink pipeline's description.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RtpRewriter, isRtcp, readRtpHeader, rtpPayloadOffset } from '../src/rtp-packet.ts';
import { uplinkPipeline } from '../src/audio-pipelines.ts';

function rtp(seq: number, ts: number, ssrc: number, pt = 111, payload = 10): Buffer {
  const b = Buffer.alloc(12 + payload);
  b[0] = 0x80;
  b[1] = pt;
  b.writeUInt16BE(seq, 2);
  b.writeUInt32BE(ts, 4);
  b.writeUInt32BE(ssrc, 8);
  return b;
}

describe('RTP helpers', () => {
  it('reads headers, tells RTCP apart, finds the payload past CSRCs and extensions', () => {
    assert.deepEqual(readRtpHeader(rtp(7, 960, 42, 0)), {
      payloadType: 0,
      marker: false,
      sequenceNumber: 7,
      timestamp: 960,
      ssrc: 42,
    });
    const rr = Buffer.from([0x81, 201, 0, 7, 0, 0, 0, 1]);
    assert.equal(isRtcp(rr), true);
    assert.equal(readRtpHeader(rr), undefined);
    assert.equal(readRtpHeader(Buffer.from([0x80, 0])), undefined, 'too short');
    assert.equal(readRtpHeader(Buffer.alloc(20)), undefined, 'not version 2');
    const ext = Buffer.concat([
      Buffer.from([0x91, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9]),
      Buffer.alloc(4),
      Buffer.from([0xbe, 0xde, 0, 1]),
      Buffer.alloc(4),
      Buffer.from([1, 2]),
    ]);
    assert.equal(rtpPayloadOffset(ext), 12 + 4 + 8);
    assert.equal(
      rtpPayloadOffset(Buffer.from([0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 0xbe, 0xde, 0, 9])),
      -1,
      'extension longer than the packet',
    );
  });

  it('RtpRewriter: one SSRC and PT, sequence continues across sources, timestamps follow the wall clock, marker on a switch', () => {
    const r = new RtpRewriter({ ssrc: 0xabcdef01, clockRate: 48000, payloadType: 111 });
    const out = (b: Buffer) => ({ ...readRtpHeader(b)! });
    const a1 = out(r.rewrite(rtp(100, 5000, 1, 96), 'a', 1000));
    const a2 = out(r.rewrite(rtp(101, 5960, 1, 96), 'a', 1020));
    assert.deepEqual(
      [a1.ssrc, a1.payloadType, a2.sequenceNumber - a1.sequenceNumber, a2.timestamp - a1.timestamp],
      [0xabcdef01, 111, 1, 960],
    );
    assert.equal(a1.marker, true, 'the first packet starts a talkspurt');
    assert.equal(a2.marker, false);
    // A new source 100 ms later, with unrelated numbers.
    const b1 = out(r.rewrite(rtp(40000, 123456789, 2, 96), 'b', 1120));
    assert.equal(b1.sequenceNumber, a2.sequenceNumber + 1);
    assert.equal(b1.timestamp - a2.timestamp, 4800, '100 ms at 48 kHz');
    assert.equal(b1.marker, true);
    // A late packet of the new source keeps its place; the next in-order one continues.
    const late = out(r.rewrite(rtp(39999, 123456789 - 960, 2, 96), 'b', 1125));
    assert.equal(late.sequenceNumber, b1.sequenceNumber - 1);
    const b2 = out(r.rewrite(rtp(40001, 123456789 + 960, 2, 96), 'b', 1140));
    assert.equal(b2.sequenceNumber, b1.sequenceNumber + 1);
    // Wrap-around of sequence and timestamp.
    const w = new RtpRewriter({ ssrc: 5, clockRate: 8000 });
    w.rewrite(rtp(65535, 0xffffff60, 9, 0), 'x', 0);
    const wrapped = out(w.rewrite(rtp(0, 0x00000000, 9, 0), 'x', 20));
    assert.deepEqual([wrapped.sequenceNumber, wrapped.timestamp, wrapped.payloadType], [0, 0, 0]);
    assert.equal(r.packets, 5);
  });
});

describe('pipeline description', () => {
  it('uplink: the phone codec in, Opus with our SSRC and PT out, on loopback', () => {
    const p = uplinkPipeline({ codec: 'PCMA', payloadType: 8, outPort: 40000, outSsrc: 1234, outPayloadType: 111 });
    assert.match(
      p,
      /^udpsrc name=in address=127\.0\.0\.1 port=0 caps=application\/x-rtp,.*encoding-name=\(string\)PCMA,payload=\(int\)8 /,
    );
    assert.match(p, /rtppcmadepay ! alawdec/);
    assert.match(p, /rtpopuspay pt=111 ssrc=1234 ! udpsink host=127\.0\.0\.1 port=40000 /);
    assert.ok(!p.includes('  '), 'tokens are separated by single spaces (gst-launch argv)');
  });

  it('uplink: bad numbers are refused', () => {
    assert.throws(
      () => uplinkPipeline({ codec: 'PCMU', payloadType: 0.5, outPort: 1, outSsrc: 1, outPayloadType: 111 }),
      RangeError,
    );
  });
});
