/**
 * Conformance harness for the embedded SIP server (or a real drachtio-server): real drachtio-srf apps,
 * real SIP peers, golden wire transcripts. The tests in ../test are the suite; these exports let other
 * packages reuse the pieces (e.g. a peer driver or the transcript normaliser).
 */
export {
  Harness,
  Recording,
  GOLDEN_DIR,
  externalServer,
  type HarnessOptions,
  type RecordingResult,
} from './harness.ts';
export {
  connectApp,
  parseHostports,
  type AppDialog,
  type AppReq,
  type AppRes,
  type ConnectedApp,
  type LooseSrf,
} from './app.ts';
export { ControlTap, type ControlFrame } from './control-tap.ts';
export { WireCapture, type WireEvent, type WirePorts } from './wire/wire-capture.ts';
export {
  normalise,
  normaliseWithNotes,
  renderGolden,
  parseGolden,
  shapeOf,
  diffShapes,
  type Block,
  type RawEntry,
  type Shape,
} from './transcript.ts';
export {
  EventLog,
  type Peer,
  type PeerCapabilities,
  type PeerEvent,
  type PeerEventType,
  type PeerKind,
  type PeerTransport,
} from './peers/peer.ts';
export { BaresipPeer } from './peers/baresip.ts';
export { LinphonePeer, LINPHONE_CAPS } from './peers/linphone.ts';
export { JssipNodePeer, JssipBrowser, JssipBrowserPeer, JSSIP_CAPS } from './peers/jssip.ts';
export { ScriptedUac } from './peers/scripted-uac.ts';
export * as scenarios from './scenarios.ts';
export * as scriptedScenarios from './scripted-scenarios.ts';
