/**
 * Runtime configuration, fetched from /config.json on the page's own origin (written by the
 * Conclave launcher). Every missing or malformed field falls back to the defaults below.
 */
export interface PhoneConfig {
  /** SIP over WebSocket endpoint (RFC 7118, subprotocol "sip"). */
  readonly wsUri: string;
  /** SIP domain: users are sip:<user>@<domain>. */
  readonly domain: string;
  /** RFC 4579 conference factory URI: INVITE it to create a conference. */
  readonly conferenceFactoryUri: string;
  /** Base path of the admin HTTP API. */
  readonly adminApi: string;
}

export const DEFAULT_CONFIG: PhoneConfig = Object.freeze({
  wsUri: 'ws://127.0.0.1:8088',
  domain: '127.0.0.1',
  conferenceFactoryUri: 'sip:conference@127.0.0.1',
  adminApi: '/api',
});

export interface LoadedConfig {
  readonly config: PhoneConfig;
  /** Why defaults were used, if they were (shown to the user as a hint, not an error). */
  readonly warning: string | null;
}

function pick(value: unknown, fallback: string, valid: (s: string) => boolean): string {
  return typeof value === 'string' && value.trim() !== '' && valid(value.trim()) ? value.trim() : fallback;
}

/** Merges an untrusted parsed JSON value with the defaults. */
export function parseConfig(raw: unknown, defaults: PhoneConfig = DEFAULT_CONFIG): PhoneConfig {
  const o = (raw !== null && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  return Object.freeze({
    wsUri: pick(o['wsUri'], defaults.wsUri, (s) => /^wss?:\/\/[^\s]+$/i.test(s)),
    domain: pick(o['domain'], defaults.domain, (s) => /^[^\s@:;/]+$/.test(s)),
    conferenceFactoryUri: pick(o['conferenceFactoryUri'], defaults.conferenceFactoryUri, (s) =>
      /^sips?:[^\s]+$/i.test(s),
    ),
    adminApi: pick(o['adminApi'], defaults.adminApi, (s) => !/\s/.test(s)),
  });
}

/**
 * Fetches and parses the runtime config. Never throws: a missing file, an SPA fallback answering
 * with index.html, or bad JSON all yield the defaults plus a warning.
 */
export async function loadConfig(
  url = '/config.json',
  fetchImpl: typeof fetch = globalThis.fetch.bind(globalThis),
): Promise<LoadedConfig> {
  try {
    const response = await fetchImpl(url, { cache: 'no-store', headers: { accept: 'application/json' } });
    if (!response.ok) {
      return { config: DEFAULT_CONFIG, warning: `${url} answered ${response.status}; using default settings` };
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return { config: DEFAULT_CONFIG, warning: `${url} is not JSON; using default settings` };
    }
    return { config: parseConfig(parsed), warning: null };
  } catch (error) {
    return { config: DEFAULT_CONFIG, warning: `could not load ${url} (${String(error)}); using default settings` };
  }
}
