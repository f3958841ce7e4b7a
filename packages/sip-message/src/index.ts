export { SipParseError } from './errors.ts';
export { canonicalHeaderName, normalizeHeaderName, headerRank, isListHeader } from './header-names.ts';
export { type Params, getParam, hasParam, setParam, deleteParam, formatParams, parseParams } from './params.ts';
export { splitHeaderList } from './split.ts';
export {
  type SipUri,
  parseSipUri,
  tryParseSipUri,
  formatSipUri,
  parseHostPort,
  isValidHost,
  defaultPort,
} from './uri.ts';
export { type NameAddr, parseNameAddr, parseNameAddrList, formatNameAddr, tagOf } from './name-addr.ts';
export { type Via, parseVia, parseViaList, formatVia, viaBranch, viaSentBy } from './via.ts';
export {
  type HeaderField,
  type CSeq,
  type SipMessage,
  SipRequest,
  SipResponse,
  parseCSeq,
  reasonPhrase,
  REASON_PHRASES,
} from './message.ts';
export { type ParseOptions, parseMessage, findHeaderEnd } from './parser.ts';
export { type FramerOptions, type FrameEvent, SipStreamFramer } from './framer.ts';
