/**
 * JSON over node:http for the admin API: the error shape `{ "error": { "code", "message" } }`,
 * responses, and bounded reading of JSON request bodies. Nothing here knows about conferences.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConferenceError, type ConferenceErrorCode } from '@conclave/conference';

/** Stable error codes of the API (documented in docs/admin-api.openapi.yaml). */
export type ApiErrorCode =
  | 'invalid-json'
  | 'invalid-request'
  | 'unauthorized'
  | 'too-many-requests'
  | 'not-found'
  | 'conference-not-found'
  | 'participant-not-found'
  | 'method-not-allowed'
  | 'payload-too-large'
  | 'unsupported-media-type'
  | 'unavailable'
  | 'internal'
  | ConferenceErrorCode;

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

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.writableEnded || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...COMMON_HEADERS,
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

export function sendNoContent(res: ServerResponse): void {
  if (res.headersSent || res.writableEnded || res.destroyed) return;
  res.writeHead(204, COMMON_HEADERS);
  res.end();
}

export function sendError(res: ServerResponse, error: ApiError): void {
  sendJson(res, error.status, { error: { code: error.code, message: error.message } }, { ...error.headers });
}

export interface ReadBodyOptions {
  /** Maximum body size in bytes (413 beyond). */
  limit: number;
  /** A body is required (login) rather than optional and ignored (actions). */
  required: boolean;
}

/**
 * Reads a JSON body. Returns undefined when the body is empty and optional. Throws ApiError 413
 * (too large: the connection is closed so the rest of the upload is not read), 415 (not JSON),
 * 400 (unparsable or missing).
 */
export async function readJsonBody(req: IncomingMessage, options: ReadBodyOptions): Promise<unknown> {
  const declared = req.headers['content-length'];
  const length = declared === undefined ? undefined : Number(declared);
  const chunked = req.headers['transfer-encoding'] !== undefined;
  const hasBody = chunked || (length !== undefined && length > 0);
  if (!hasBody) {
    if (options.required) throw new ApiError(400, 'invalid-request', 'a JSON body is required');
    return undefined;
  }
  if (!isJsonContentType(req.headers['content-type'])) {
    throw new ApiError(415, 'unsupported-media-type', 'the body must be application/json');
  }
  if (length !== undefined && length > options.limit) throw tooLarge(options.limit);

  const text = await readText(req, options.limit).catch((error: unknown) => {
    throw error === TOO_LARGE
      ? tooLarge(options.limit)
      : new ApiError(400, 'invalid-request', 'the request body could not be read');
  });
  if (text.trim() === '') {
    if (options.required) throw new ApiError(400, 'invalid-request', 'a JSON body is required');
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ApiError(400, 'invalid-json', 'the body is not valid JSON');
  }
}

const TOO_LARGE = Symbol('too large');

/**
 * Collects the body up to `limit` bytes. Events rather than `for await`: leaving an async iterator
 * early destroys the request, and with it the socket the 413 answer has to go out on.
 */
function readText(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.resume(); // discard the rest until the connection closes
        reject(TOO_LARGE);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      cleanup();
      reject(new Error('the client went away'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function tooLarge(limit: number): ApiError {
  // Connection: close — node closes after answering rather than reading an unwanted upload.
  return new ApiError(413, 'payload-too-large', `the body exceeds ${limit} bytes`, { Connection: 'close' });
}

/** application/json or any application/*+json, parameters (charset) ignored. */
export function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  const type = header.split(';', 1)[0]!.trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}
