/**
 * The one error type the parser throws. `reason` is short and safe to use as the reason phrase of a
 * 400 response ("Bad Request - Missing Call-ID" style servers put it after the status text).
 */
export class SipParseError extends Error {
  readonly reason: string;
  /**
   * When the start line and the header section could be read but the message is semantically broken
   * (bad CSeq, missing Max-Forwards...), the partially parsed message is attached so a server can still
   * build a 400 response from its Via/From/To/Call-ID/CSeq.
   */
  partial: unknown;

  constructor(reason: string, detail?: string) {
    super(detail ? `${reason}: ${detail}` : reason);
    this.name = 'SipParseError';
    this.reason = reason;
    this.partial = undefined;
  }
}
