/**
 * The admin API's errors: the JSON shape `{ "error": { "code", "message" } }`, its stable codes, and
 * how the conference model's refusals map to HTTP statuses. Nothing here knows about Fastify.
 */
import { ConferenceError, type ConferenceErrorCode } from '@conclave/conference';

/** Stable error codes of the API (the `Error` schema lists them for the OpenAPI document). */
export const API_ERROR_CODES = [
  'invalid-json',
  'invalid-request',
  'unauthorized',
  'too-many-requests',
  'not-found',
  'conference-not-found',
  'participant-not-found',
  'method-not-allowed',
  'payload-too-large',
  'unsupported-media-type',
  'unavailable',
  'internal',
  'locked',
  'full',
  'ended',
  'duplicate',
  'invalid-argument',
  'invalid-state',
] as const satisfies readonly string[];

export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

/** A request the API refuses, with the HTTP status and extra headers (Allow, Retry-After...). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: ApiErrorCode;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: ApiErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.headers = headers;
  }

  /** The response body. */
  toJSON(): { error: { code: ApiErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

const CONFERENCE_ERROR_STATUS: Record<ConferenceErrorCode, number> = {
  'not-found': 404,
  'invalid-argument': 400,
  ended: 409,
  locked: 409,
  full: 409,
  duplicate: 409,
  'invalid-state': 409,
};

/** Maps what the model (through the focus) refused to an API error; undefined for other errors. */
export function apiErrorFromConference(error: unknown): ApiError | undefined {
  if (!(error instanceof ConferenceError)) return undefined;
  const code =
    error.code === 'not-found' && error.context['participant'] !== undefined ? 'participant-not-found' : error.code;
  // ConferenceError messages start with "<code>: "; the code is already a field.
  const message = error.message.startsWith(`${error.code}: `)
    ? error.message.slice(error.code.length + 2)
    : error.message;
  return new ApiError(CONFERENCE_ERROR_STATUS[error.code] ?? 409, code, message);
}

/** Headers on every API response: nothing is cacheable, nothing is sniffed. */
export const COMMON_HEADERS: Readonly<Record<string, string>> = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
};
