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
// The peer contract, the JsSIP peers and the scripted UAC are @conclave/test-peers'; baresip and
// linphonec get this suite's port ranges (peers/).
export {
  EventLog,
  JssipNodePeer,
  JssipBrowser,
  JssipBrowserPeer,
  JSSIP_CAPS,
  LINPHONE_CAPS,
  ScriptedUac,
  type Peer,
  type PeerCapabilities,
  type PeerEvent,
  type PeerEventType,
  type PeerKind,
  type PeerTransport,
} from '@conclave/test-peers';
export { BaresipPeer } from './peers/baresip.ts';
export { LinphonePeer } from './peers/linphone.ts';
export * as scenarios from './scenarios.ts';
export * as scriptedScenarios from './scripted-scenarios.ts';
