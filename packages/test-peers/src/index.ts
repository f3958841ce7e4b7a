/**
 * Real SIP peers for tests, in one place: baresip, linphonec and JsSIP (in Node or Chromium) drivers
 * behind one Peer contract, the scripted user agents (SipTestUa: REGISTER/INVITE/SUBSCRIBE/REFER with
 * digest; ScriptedUac: byte-exact requests for the conformance transcripts), and port blocks for
 * peers that cannot bind port 0, with retry on "Address already in use".
 */
export {
  EventLog,
  type Peer,
  type PeerCapabilities,
  type PeerEvent,
  type PeerEventType,
  type PeerKind,
  type PeerTransport,
} from './peer.ts';
export { BaresipPeer, type BaresipEvent, type BaresipOptions } from './baresip.ts';
export { LinphonePeer, LINPHONE_CAPS, type LinphoneOptions } from './linphone.ts';
export { JssipNodePeer, JssipBrowser, JssipBrowserPeer, JSSIP_CAPS } from './jssip.ts';
export { jssipDriver, type JssipDriver, type JssipDriverOptions } from './jssip-driver.ts';
export { jssipBundle } from './jssip-bundle.ts';
export { CHROMIUM, chromiumArgs, type ChromiumArgsOptions } from './chromium.ts';
export { installRtcShim } from './rtc-shim.ts';
export { ScriptedUac, SCRIPTED_SDP, sipText } from './scripted-uac.ts';
export {
  SipTestUa,
  SipTestDialog,
  webrtcLikeOffer,
  webrtcLikeAnswer,
  answerFor,
  newAnswerIdentity,
} from '@conclave/sip-test-ua';
export type {
  SipTestUaOptions,
  IncomingRequest,
  RequestOptions,
  TransactionResult,
  WebrtcLikeSdpOptions,
  AnswerIdentity,
} from '@conclave/sip-test-ua';
export {
  PortBlock,
  PortInUseError,
  reservePortBlock,
  startOnPortBlocks,
  saysAddressInUse,
  SIP_PEER_PORTS,
  RTP_PEER_PORTS,
  type BlockRequest,
  type PortRange,
} from './ports.ts';
export { trackChild, stopChild, atExit } from './processes.ts';
export { toneWav, readWav } from './audio.ts';
export { waitFor } from './wait.ts';
