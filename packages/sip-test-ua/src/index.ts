export { SipTestUa, SipTestDialog } from './user-agent.ts';
export type { SipTestUaOptions, IncomingRequest, RequestOptions, TransactionResult } from './user-agent.ts';
export { webrtcLikeOffer, webrtcLikeAnswer, answerFor, newAnswerIdentity } from './sdp.ts';
export type { WebrtcLikeSdpOptions, AnswerIdentity } from './sdp.ts';
