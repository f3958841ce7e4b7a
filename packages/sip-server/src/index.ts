export {
  SipServer,
  SERVER_VERSION,
  type SipServerOptions,
  type SipServerAddresses,
  type SipServerEvents,
  type AppInfo,
  type ListenAddress,
  type SecureListenAddress,
} from './sip-server.ts';
export { type SipTimerOptions } from './timers.ts';
export { type LimitOptions } from './limits.ts';
export { type HostPort, type TransportName } from './transport/flow.ts';
export { type OutboundRouter, type OutboundRequestInfo } from './outbound.ts';
export { type SipServerStats, type SipConnectionCounts } from './stats.ts';
