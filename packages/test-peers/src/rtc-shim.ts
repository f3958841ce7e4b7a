/**
 * A minimal RTCPeerConnection for JsSIP in Node, which has no WebRTC. It is a media stand-in only (the
 * SIP is JsSIP's own): it produces a plain RTP/AVP audio description, follows the signalling state
 * machine JsSIP relies on (have-local-offer / have-remote-offer / stable, implicit rollback like
 * Chromium), and reports ICE gathering as complete.
 */

type SessionDescriptionInit = { type: 'offer' | 'answer' | 'rollback'; sdp?: string };

let sessionCounter = 4000;

function plainAudio(version: number, session: number): string {
  return [
    'v=0',
    `o=jssip-node ${session} ${version} IN IP4 127.0.0.1`,
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    'm=audio 9 RTP/AVP 0 101',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=sendrecv',
    '',
  ].join('\r\n');
}

export class ShimRTCSessionDescription {
  readonly type: string;
  readonly sdp: string;
  constructor(init: SessionDescriptionInit) {
    this.type = init.type;
    this.sdp = init.sdp ?? '';
  }
}

export class ShimRTCPeerConnection extends EventTarget {
  signalingState: 'stable' | 'have-local-offer' | 'have-remote-offer' | 'closed' = 'stable';
  iceGatheringState = 'complete';
  iceConnectionState = 'new';
  connectionState = 'new';
  localDescription: ShimRTCSessionDescription | null = null;
  remoteDescription: ShimRTCSessionDescription | null = null;
  readonly #session = ++sessionCounter;
  #version = 1;

  // The WebRTC methods are asynchronous: a state error rejects, as in a browser (run in an executor).
  createOffer(): Promise<SessionDescriptionInit> {
    return new Promise((resolve) => resolve({ type: 'offer', sdp: plainAudio(this.#version++, this.#session) }));
  }

  createAnswer(): Promise<SessionDescriptionInit> {
    return new Promise((resolve) => {
      if (this.signalingState !== 'have-remote-offer') throw new Error(`createAnswer in state ${this.signalingState}`);
      resolve({ type: 'answer', sdp: plainAudio(this.#version++, this.#session) });
    });
  }

  setLocalDescription(d: SessionDescriptionInit): Promise<void> {
    return new Promise((resolve) => {
      this.localDescription = new ShimRTCSessionDescription(d);
      this.signalingState = d.type === 'offer' ? 'have-local-offer' : 'stable';
      resolve();
    });
  }

  setRemoteDescription(d: SessionDescriptionInit): Promise<void> {
    return new Promise((resolve) => {
      if (d.type === 'answer' && this.signalingState !== 'have-local-offer')
        throw new Error(`remote answer in state ${this.signalingState}`);
      // An offer while we have one of our own: implicit rollback, as Chromium does.
      this.remoteDescription = new ShimRTCSessionDescription(d);
      this.signalingState = d.type === 'offer' ? 'have-remote-offer' : 'stable';
      resolve();
    });
  }

  getSenders(): unknown[] {
    return [];
  }

  getReceivers(): unknown[] {
    return [];
  }

  addTrack(): void {}

  close(): void {
    this.signalingState = 'closed';
  }
}

/** Install the shim (and `window`, which JsSIP checks for RTCPeerConnection support). */
export function installRtcShim(): void {
  const g = globalThis as Record<string, unknown>;
  g['RTCPeerConnection'] ??= ShimRTCPeerConnection;
  g['RTCSessionDescription'] ??= ShimRTCSessionDescription;
  g['window'] ??= globalThis;
}
