/** Why a conference-info body was refused. Stable strings: safe to log, count and branch on. */
export type ConferenceInfoParseErrorCode =
  /** Not well-formed XML (includes bad characters, unbalanced tags, bad attribute syntax). */
  | 'malformed'
  /** A DOCTYPE was present: refused outright so no entity can ever be declared or expanded. */
  | 'doctype-forbidden'
  /** A reference to an entity other than the five predefined ones or a character reference. */
  | 'undefined-entity'
  /** The input exceeds the size limit. */
  | 'too-large'
  /** Elements nest deeper than the depth limit. */
  | 'too-deep'
  /** More elements (or attributes on one element) than the limits allow. */
  | 'too-many-nodes'
  /** The input bytes are not UTF-8 or the declaration names another encoding. */
  | 'bad-encoding'
  /** The root element is not {urn:ietf:params:xml:ns:conference-info}conference-info. */
  | 'wrong-root'
  /** The root has no entity attribute. */
  | 'missing-entity'
  /** The root's version attribute is absent or not an xs:unsignedInt. */
  | 'bad-version'
  /** The root's state attribute is not full|partial|deleted. */
  | 'bad-state'
  /** Anything unexpected inside the parser (a bug): still typed, never a raw TypeError. */
  | 'internal';

export class ConferenceInfoParseError extends Error {
  readonly code: ConferenceInfoParseErrorCode;
  /** Offset (UTF-16 code units) in the input where the problem was found, when known. */
  readonly offset: number | undefined;

  constructor(code: ConferenceInfoParseErrorCode, detail: string, offset?: number) {
    super(offset === undefined ? `${code}: ${detail}` : `${code}: ${detail} (at offset ${offset})`);
    this.name = 'ConferenceInfoParseError';
    this.code = code;
    this.offset = offset;
  }
}

/**
 * Thrown by serialize()/diff when the model cannot be written as a schema-valid document
 * (a missing key, a number out of range...). Free text is never a reason: it is sanitised instead.
 */
export class ConferenceInfoSerializeError extends Error {
  /** Where in the model, e.g. `users.entries[2].endpoints[0].media[1].id`. */
  readonly path: string;

  constructor(path: string, detail: string) {
    super(`${path}: ${detail}`);
    this.name = 'ConferenceInfoSerializeError';
    this.path = path;
  }
}
