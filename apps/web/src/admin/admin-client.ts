/**
 * AdminClient: the admin HTTP API (docs/admin-api.openapi.yaml) over fetch. Every failure becomes
 * an AdminApiError that says what kind of failure it was; admin-words.ts turns it into a sentence.
 */
import { parseConference, parseSessionGrant, type ApiConference, type SessionGrant } from './api-types.ts';

export type ParticipantAction = 'mute' | 'unmute' | 'kick';
export type ConferenceAction = 'lock' | 'unlock' | 'end';

export type AdminApiErrorKind =
  /** No answer (network, server down) or an answer that is not the API (HTML, proxy error). */
  | 'unreachable'
  /** 401: wrong credentials, or the token expired / was revoked. */
  | 'unauthorized'
  /** 429: too many failed logins from this address. */
  | 'throttled'
  /** Any other error answer of the API. */
  | 'refused';

export class AdminApiError extends Error {
  readonly kind: AdminApiErrorKind;
  /** HTTP status, null when there was no answer. */
  readonly status: number | null;
  /** The API's stable error code (`conference-not-found`, `ended`, …), null if none. */
  readonly code: string | null;
  /** Seconds from Retry-After (429). */
  readonly retryAfterSeconds: number | null;

  constructor(
    kind: AdminApiErrorKind,
    message: string,
    details: { status?: number | null; code?: string | null; retryAfterSeconds?: number | null; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'AdminApiError';
    this.kind = kind;
    this.status = details.status ?? null;
    this.code = details.code ?? null;
    this.retryAfterSeconds = details.retryAfterSeconds ?? null;
  }
}

export interface AdminClientOptions {
  /** Base path or URL of the API, e.g. "/api" (from /config.json's adminApi). */
  readonly base: string;
  readonly fetch?: typeof fetch;
  /** Per-request time limit. */
  readonly timeoutMs?: number;
}

export class AdminClient {
  readonly base: string;
  #fetch: typeof fetch;
  #timeoutMs: number;
  #token: string | null = null;

  constructor(options: AdminClientOptions) {
    this.base = options.base.replace(/\/+$/, '');
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  get token(): string | null {
    return this.#token;
  }

  /** Use a token kept from an earlier login (sessionStorage). */
  setToken(token: string | null): void {
    this.#token = token;
  }

  /** URL of the event stream (EventSource cannot send headers: the token goes in the query). */
  eventsUrl(): string {
    if (this.#token === null) throw new Error('not logged in');
    return `${this.base}/events?token=${encodeURIComponent(this.#token)}`;
  }

  async login(user: string, password: string): Promise<SessionGrant> {
    const body = await this.#request('POST', '/session', { user, password }, false);
    const grant = parseSessionGrant(body);
    if (!grant) throw new AdminApiError('unreachable', 'the login answer is not what the admin API sends');
    this.#token = grant.token;
    return grant;
  }

  /** Is the token still good? Throws AdminApiError ('unauthorized' when not). */
  async checkSession(): Promise<void> {
    await this.#request('GET', '/session');
  }

  /** Revokes the token (best effort: the token is forgotten locally either way). */
  async logout(): Promise<void> {
    try {
      if (this.#token !== null) await this.#request('DELETE', '/session');
    } finally {
      this.#token = null;
    }
  }

  async conference(id: string): Promise<ApiConference> {
    const body = await this.#request('GET', `/conferences/${encodeURIComponent(id)}`);
    const conference = parseConference(body);
    if (!conference) throw new AdminApiError('unreachable', 'the conference answer is not what the admin API sends');
    return conference;
  }

  async participantAction(conferenceId: string, participantId: string, action: ParticipantAction): Promise<void> {
    await this.#request(
      'POST',
      `/conferences/${encodeURIComponent(conferenceId)}/participants/${encodeURIComponent(participantId)}/${action}`,
      {},
    );
  }

  async conferenceAction(conferenceId: string, action: ConferenceAction): Promise<void> {
    await this.#request('POST', `/conferences/${encodeURIComponent(conferenceId)}/${action}`, {});
  }

  async #request(method: string, path: string, body?: unknown, authenticated = true): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (authenticated) {
      if (this.#token === null)
        throw new AdminApiError('unauthorized', 'not logged in', { status: 401, code: 'unauthorized' });
      headers['authorization'] = `Bearer ${this.#token}`;
    }
    let response: Response;
    try {
      response = await this.#fetch(`${this.base}${path}`, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        cache: 'no-store',
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      const timedOut = error instanceof DOMException && error.name === 'TimeoutError';
      throw new AdminApiError(
        'unreachable',
        timedOut ? `no answer within ${Math.round(this.#timeoutMs / 1000)} s` : 'no connection',
        { cause: error },
      );
    }
    const text = await response.text().catch(() => '');
    const json = parseJson(text);
    if (response.ok) return response.status === 204 ? null : json;
    const apiError = isApiError(json) ? json.error : null;
    const message = apiError?.message ?? `${response.status} ${response.statusText}`.trim();
    const details = { status: response.status, code: apiError?.code ?? null };
    if (response.status === 401) throw new AdminApiError('unauthorized', message, details);
    if (response.status === 429) {
      const retry = Number.parseInt(response.headers.get('retry-after') ?? '', 10);
      throw new AdminApiError('throttled', message, {
        ...details,
        retryAfterSeconds: Number.isFinite(retry) ? Math.max(1, retry) : null,
      });
    }
    // An answer without the API's error shape is a proxy or a server that is not Conclave's focus.
    if (apiError === null && (response.status >= 500 || response.status === 404)) {
      throw new AdminApiError('unreachable', message, details);
    }
    throw new AdminApiError('refused', message, details);
  }
}

function parseJson(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function isApiError(v: unknown): v is { error: { code: string; message: string } } {
  if (v === null || typeof v !== 'object') return false;
  const e = (v as { error?: unknown }).error;
  return (
    e !== null &&
    typeof e === 'object' &&
    typeof (e as { code?: unknown }).code === 'string' &&
    typeof (e as { message?: unknown }).message === 'string'
  );
}
