/** The peer contract lives in @conclave/test-peers. */
export {
  EventLog,
  type Peer,
  type PeerCapabilities,
  type PeerEvent,
  type PeerEventType,
  type PeerKind,
  type PeerTransport,
} from '@conclave/test-peers';
