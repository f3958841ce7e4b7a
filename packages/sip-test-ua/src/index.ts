export { SipTestUa, SipTestDialog } from './user-agent.ts';
export type { SipTestUaOptions, IncomingRequest, RequestOptions, TransactionResult } from './user-agent.ts';
export { webrtcLikeOffer, webrtcLikeAnswer } from './sdp.ts';
export type { WebrtcLikeSdpOptions } from './sdp.ts';
