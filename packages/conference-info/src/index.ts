/**
 * @conclave/conference-info — RFC 4575 conference event package documents
 * (application/conference-info+xml): typed model, parser, serializer, partial-state application
 * (section 4.6) and the diff builder a focus uses for partial notifications.
 * Runs in Node and in browsers (no Node APIs, no dependencies).
 */

export * from './model.ts';
export { ConferenceInfoParseError, ConferenceInfoSerializeError, type ConferenceInfoParseErrorCode } from './errors.ts';
export { parse, type ParseOptions } from './parse.ts';
export { serialize, type SerializeOptions } from './serialize.ts';
export { applyNotification, type ApplyOutcome, type ApplyResult } from './apply.ts';
export { diffConferenceInfo, type DiffOptions } from './diff.ts';
export { canonicalize, equivalent } from './canonical.ts';
export { DEFAULT_XML_READ_LIMITS, type XmlReadLimits } from './xml-reader.ts';
