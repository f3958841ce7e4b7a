/**
 * Conclave's configuration: defaults, the JSON config file, and the checks that keep an unsafe
 * configuration from starting (default users on a listener other than loopback).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

export type ReferMode = 'intercept' | 'pass-through';

export interface UserConfig {
  /** SIP user part and login name. */
  name: string;
  password: string;
  displayName?: string;
}

export interface ConclaveConfig {
  /** SIP domain of the users and the conference factory (the host part of their URIs). */
  domain: string;
  sip: {
    /** Address the embedded SIP server listens on (UDP, TCP, WebSocket). */
    host: string;
    udpPort: number;
    tcpPort: number;
    wsPort: number;
    /** RFC 4028 session interval the focus asks for or grants on every call, seconds. */
    sessionExpires: number;
    /** The smallest session interval the focus accepts (Min-SE), seconds; at least 90. */
    minSessionExpires: number;
    /** How long a called party may ring before the focus gives up (480 "no answer"), seconds. */
    ringTimeout: number;
  };
  drachtio: {
    /** true: run the embedded drachtio-compatible server; false: connect to a real drachtio-server. */
    embedded: boolean;
    host: string;
    port: number;
    secret: string;
  };
  http: { host: string; port: number };
  media: {
    /** mediasoup workers; 0 = one per core. */
    workers: number;
    listenIp: string;
    /** Address put in ICE candidates when it differs from listenIp (NAT); null = listenIp. */
    announcedAddress: string | null;
    rtcMinPort: number;
    rtcMaxPort: number;
    /** Active-speaker detection for rosters (negotiates the RFC 6464 audio-level RTP extension). */
    speakerDetection: boolean;
    /** Seconds without an ICE consent check before a browser's leg is ended (10-60, 0 = never). */
    iceConsentTimeout: number;
    /** Seconds without RTP from a phone that should be sending before its leg is ended (0 = never). */
    plainRtpTimeout: number;
  };
  users: UserConfig[];
  admins: UserConfig[];
  conference: {
    /** User part of the conference factory URI (sip:<factoryUser>@<domain>). */
    factoryUser: string;
    /** intercept: the focus moves a REFERred party's existing leg itself; pass-through: the REFER goes to the party. */
    referMode: ReferMode;
    maxParticipants: number;
    /** Focus dial-outs (REFER to the focus) may only reach registered local users unless true. */
    allowExternalDialOut: boolean;
  };
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

const DEFAULT_USER_NAMES = ['alice', 'bob', 'carol', 'dave', 'erin'];

export function defaultConfig(): ConclaveConfig {
  return {
    domain: '127.0.0.1',
    sip: {
      host: '127.0.0.1',
      udpPort: 5060,
      tcpPort: 5060,
      wsPort: 8088,
      sessionExpires: 600,
      minSessionExpires: 90,
      ringTimeout: 60,
    },
    drachtio: { embedded: true, host: '127.0.0.1', port: 9022, secret: 'cymru' },
    http: { host: '127.0.0.1', port: 8080 },
    media: {
      workers: 0,
      listenIp: '127.0.0.1',
      announcedAddress: null,
      rtcMinPort: 40000,
      rtcMaxPort: 49999,
      speakerDetection: true,
      iceConsentTimeout: 12,
      plainRtpTimeout: 15,
    },
    users: DEFAULT_USER_NAMES.map((name) => ({
      name,
      password: `${name}-secret`,
      displayName: name[0]!.toUpperCase() + name.slice(1),
    })),
    admins: [{ name: 'admin', password: 'admin-secret', displayName: 'Administrator' }],
    conference: { factoryUser: 'conference', referMode: 'intercept', maxParticipants: 16, allowExternalDialOut: false },
    logLevel: 'info',
  };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Json = Record<string, unknown>;

/** Deep-merges a partial config over the defaults, refusing unknown keys and wrong types. */
function merge(base: Json, patch: Json, path: string): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const where = path ? `${path}.${key}` : key;
    if (!(key in base)) throw new ConfigError(`unknown option "${where}"`);
    const current = base[key];
    if (Array.isArray(current)) {
      if (!Array.isArray(value)) throw new ConfigError(`"${where}" must be an array`);
      out[key] = value;
    } else if (current !== null && typeof current === 'object') {
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        throw new ConfigError(`"${where}" must be an object`);
      out[key] = merge(current as Json, value as Json, where);
    } else if (current === null) {
      if (value !== null && typeof value !== 'string') throw new ConfigError(`"${where}" must be a string or null`);
      out[key] = value;
    } else {
      if (typeof value !== typeof current) throw new ConfigError(`"${where}" must be a ${typeof current}`);
      out[key] = value;
    }
  }
  return out;
}

export function loadConfig(file: string | undefined): ConclaveConfig {
  const base = defaultConfig();
  if (!file) return validateConfig(base);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new ConfigError(`config file ${file} must hold a JSON object`);
  return validateConfig(merge(base as unknown as Json, parsed as Json, '') as unknown as ConclaveConfig);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

export function validateConfig(config: ConclaveConfig): ConclaveConfig {
  const ports: Array<[string, number]> = [
    ['sip.udpPort', config.sip.udpPort],
    ['sip.tcpPort', config.sip.tcpPort],
    ['sip.wsPort', config.sip.wsPort],
    ['drachtio.port', config.drachtio.port],
    ['http.port', config.http.port],
    ['media.rtcMinPort', config.media.rtcMinPort],
    ['media.rtcMaxPort', config.media.rtcMaxPort],
  ];
  for (const [name, port] of ports) {
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new ConfigError(`"${name}" must be a port number (0-65535), got ${port}`);
  }
  if (!Number.isInteger(config.sip.minSessionExpires) || config.sip.minSessionExpires < 90) {
    throw new ConfigError(
      `"sip.minSessionExpires" must be an integer of at least 90 (RFC 4028), got ${config.sip.minSessionExpires}`,
    );
  }
  if (!Number.isInteger(config.sip.ringTimeout) || config.sip.ringTimeout < 1) {
    throw new ConfigError(`"sip.ringTimeout" must be a positive integer (seconds), got ${config.sip.ringTimeout}`);
  }
  if (!Number.isInteger(config.sip.sessionExpires) || config.sip.sessionExpires < config.sip.minSessionExpires) {
    throw new ConfigError(
      `"sip.sessionExpires" must be an integer not below "sip.minSessionExpires", got ${config.sip.sessionExpires}`,
    );
  }
  const ice = config.media.iceConsentTimeout;
  if (!Number.isInteger(ice) || (ice !== 0 && (ice < 10 || ice > 60))) {
    throw new ConfigError(
      `"media.iceConsentTimeout" must be an integer from 10 to 60 seconds, or 0 to disable, got ${ice}`,
    );
  }
  if (!Number.isInteger(config.media.plainRtpTimeout) || config.media.plainRtpTimeout < 0) {
    throw new ConfigError(
      `"media.plainRtpTimeout" must be a whole number of seconds (0 disables), got ${config.media.plainRtpTimeout}`,
    );
  }
  if (config.media.rtcMinPort > config.media.rtcMaxPort)
    throw new ConfigError('"media.rtcMinPort" must not exceed "media.rtcMaxPort"');
  if (!['intercept', 'pass-through'].includes(config.conference.referMode)) {
    throw new ConfigError(
      `"conference.referMode" must be "intercept" or "pass-through", got "${config.conference.referMode}"`,
    );
  }
  const names = new Set<string>();
  for (const user of [...config.users, ...config.admins]) {
    if (!user || typeof user.name !== 'string' || !/^[a-z0-9._-]{1,64}$/i.test(user.name))
      throw new ConfigError(`invalid user name ${JSON.stringify(user?.name)}`);
    if (typeof user.password !== 'string' || user.password.length < 8)
      throw new ConfigError(`user "${user.name}" needs a password of at least 8 characters`);
    if (names.has(user.name)) throw new ConfigError(`user "${user.name}" is defined twice`);
    if (user.name === config.conference.factoryUser)
      throw new ConfigError(`user "${user.name}" collides with the conference factory user`);
    names.add(user.name);
  }
  // The default credentials are public (they are in the README): refuse them anywhere but loopback.
  const withDefaults = [...config.users, ...config.admins]
    .filter((u) => u.password === `${u.name}-secret`)
    .map((u) => u.name);
  if (withDefaults.length > 0) {
    const listeners: Array<[string, string]> = [
      ['sip.host', config.sip.host],
      ['http.host', config.http.host],
      ['media.listenIp', config.media.listenIp],
      ['drachtio.host', config.drachtio.host],
    ];
    const exposed = listeners.filter(([, host]) => !isLoopback(host));
    if (exposed.length > 0) {
      throw new ConfigError(
        `refusing to start: the default users' credentials (${withDefaults.join(', ')}) are only accepted while every listener is on loopback, ` +
          `but ${exposed.map(([k, h]) => `${k}=${h}`).join(', ')} ${exposed.length > 1 ? 'are' : 'is'} not. Set "users" and "admins" with your own passwords.`,
      );
    }
  }
  return config;
}
