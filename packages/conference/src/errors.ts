/** Why a conference operation was refused. Stable strings the focus maps to SIP responses. */
export type ConferenceErrorCode =
  /** The conference is locked: no new participants (a focus answers 403). */
  | 'locked'
  /** The conference has reached its maximum number of participants (486/503), or the registry its maximum of conferences. */
  | 'full'
  /** The conference has ended. */
  | 'ended'
  /** No such participant / conference. */
  | 'not-found'
  /** The endpoint (or conference URI) is already present. */
  | 'duplicate'
  /** An argument is unusable (empty entity, bad domain...). */
  | 'invalid-argument'
  /** The operation does not fit the current state (e.g. the version counter is exhausted). */
  | 'invalid-state';

export class ConferenceError extends Error {
  readonly code: ConferenceErrorCode;
  /** Identifiers of what was involved (conference id, participant id...), for logs. */
  readonly context: Readonly<Record<string, string | number | undefined>>;

  constructor(code: ConferenceErrorCode, message: string, context: Record<string, string | number | undefined> = {}) {
    super(`${code}: ${message}`);
    this.name = 'ConferenceError';
    this.code = code;
    this.context = context;
  }
}
