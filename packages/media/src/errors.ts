/**
 * Errors thrown by @conclave/media.
 *
 * SdpNegotiationError: the remote SDP cannot be used (the focus answers 488 Not Acceptable Here with
 * `Warning: 399 <host> "<err.message>"`). NegotiationStateError: the call is not allowed in the leg's
 * current offer/answer state (glare, answer without offer, closed leg); the focus maps glare to 491.
 */

export class SdpNegotiationError extends Error {
  override readonly name = 'SdpNegotiationError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class NegotiationStateError extends Error {
  override readonly name = 'NegotiationStateError';
  constructor(message: string) {
    super(message);
  }
}

/** The media service, room or leg was closed (or its worker died) while the operation was pending. */
export class MediaClosedError extends Error {
  override readonly name = 'MediaClosedError';
  constructor(message: string) {
    super(message);
  }
}
