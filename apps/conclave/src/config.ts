/**
 * Conclave's configuration: defaults, the JSON config file, and the checks that keep an unsafe
 * configuration from starting (default users on a listener other than loopback, or the RFC 2544 test
 * network for cluster nodes).
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

/** Cluster mode (deploy/, packages/cluster): this node behind a Kamailio edge, sharing state in Redis. */
export interface ClusterConfig {
  /** This node's id: its record conclave:node:<id> and the value of the conference claims it holds. */
  nodeId: string;
  /** The Redis the edge reads: redis://host:port[/db] or unix:<socket path>. */
  redis: string;
  /** SIP URI the edge sends this node's requests to; null = sip:<sip.host>:<sip.tcpPort>;transport=tcp. */
  sipUri: string | null;
  /** Base URL of this node's HTTP server (the admin API); null = http://<http.host>:<http.port>. */
  httpUrl: string | null;
  /** WebSocket URI the page's phone connects to (the edge's); null = this node's own listener. */
  wsUri: string | null;
  /** Lifetime of a conference claim without a renewal (ms); renewed every third of it. */
  claimTtlMs: number;
  /** The edge's SIP port: conference URIs name the edge (with this port when the domain is an IP literal). */
  edgeSipPort: number;
  /** Digest nonce secret shared by every node (a nonce one node issued verifies on another); null = per process. */
  nonceSecret: string | null;
  /**
   * The edge as this node reaches it: outbound proxy of the focus's calls to users (the edge finds them
   * in its location store); null = sip:<domain>:<edgeSipPort>;transport=tcp;lr.
   */
  edgeProxy: string | null;
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
  /** null: one machine (the default). */
  cluster: ClusterConfig | null;
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
    cluster: null,
  };
}

/** Defaults of the `cluster` object (nodeId and redis have none: they are required). */
function defaultClusterConfig(): ClusterConfig {
  return {
    nodeId: '',
    redis: '',
    sipUri: null,
    httpUrl: null,
    wsUri: null,
    claimTtlMs: 6000,
    edgeSipPort: 5060,
    nonceSecret: null,
    edgeProxy: null,
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

/**
 * The defaults, overridden by the config file, then by CONCLAVE_NODE_ID / CONCLAVE_REDIS_URL (one
 * container per cluster node sets its identity and the shared Redis in its environment).
 */
export function loadConfig(
  file: string | undefined,
  env: Record<string, string | undefined> = process.env,
): ConclaveConfig {
  const config = file ? readConfigFile(file) : defaultConfig();
  const nodeId = env['CONCLAVE_NODE_ID'];
  const redis = env['CONCLAVE_REDIS_URL'];
  if (nodeId || redis) {
    config.cluster = {
      ...(config.cluster ?? defaultClusterConfig()),
      ...(nodeId ? { nodeId } : {}),
      ...(redis ? { redis } : {}),
    };
  }
  return validateConfig(config);
}

function readConfigFile(file: string): ConclaveConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new ConfigError(`config file ${file} must hold a JSON object`);
  // `cluster` is null by default, so it is merged over its own defaults rather than over null.
  const { cluster, ...rest } = parsed as Json;
  const config = merge(defaultConfig() as unknown as Json, rest, '') as unknown as ConclaveConfig;
  if (cluster !== undefined && cluster !== null) {
    if (typeof cluster !== 'object' || Array.isArray(cluster)) throw new ConfigError('"cluster" must be an object');
    config.cluster = merge(
      defaultClusterConfig() as unknown as Json,
      cluster as Json,
      'cluster',
    ) as unknown as ClusterConfig;
  }
  return config;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/** 198.18.0.0/15 (RFC 2544): reserved for test networks, not routed; `npm run cluster`'s namespaces. */
function isTestNetwork(host: string): boolean {
  return isIP(host) === 4 && /^198\.1[89]\./.test(host);
}

/** As packages/cluster's checkId: node ids go into Redis keys and Kamailio's routing. */
const NODE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$/;

function validateClusterConfig(config: ConclaveConfig, cluster: ClusterConfig): void {
  if (!NODE_ID_RE.test(cluster.nodeId))
    throw new ConfigError(
      `"cluster.nodeId" must be 1-128 letters, digits or . _ ~ - (starting with a letter or digit), got ${JSON.stringify(cluster.nodeId)}`,
    );
  if (!/^rediss?:\/\/[^/]/.test(cluster.redis) && !/^unix:./.test(cluster.redis))
    throw new ConfigError(
      `"cluster.redis" must be redis://host:port[/db] or unix:<socket path>, got ${JSON.stringify(cluster.redis)}`,
    );
  if (cluster.sipUri !== null && !/^sips?:[^\s]+$/i.test(cluster.sipUri))
    throw new ConfigError(`"cluster.sipUri" must be a SIP URI, got ${JSON.stringify(cluster.sipUri)}`);
  if (cluster.sipUri === null && ['0.0.0.0', '::'].includes(config.sip.host))
    throw new ConfigError(
      '"cluster.sipUri" is needed when "sip.host" is a wildcard address (how does the edge reach this node?)',
    );
  if (cluster.httpUrl !== null && !/^https?:\/\/[^\s/]+/.test(cluster.httpUrl))
    throw new ConfigError(`"cluster.httpUrl" must be an http(s) URL, got ${JSON.stringify(cluster.httpUrl)}`);
  if (cluster.wsUri !== null && !/^wss?:\/\/[^\s/]+/.test(cluster.wsUri))
    throw new ConfigError(`"cluster.wsUri" must be a ws(s) URL, got ${JSON.stringify(cluster.wsUri)}`);
  if (cluster.edgeProxy !== null && !/^sips?:[^\s]+$/i.test(cluster.edgeProxy))
    throw new ConfigError(`"cluster.edgeProxy" must be a SIP URI, got ${JSON.stringify(cluster.edgeProxy)}`);
  if (cluster.nonceSecret !== null && cluster.nonceSecret.length < 16)
    throw new ConfigError('"cluster.nonceSecret" must be at least 16 characters (or null)');
  if (!Number.isInteger(cluster.edgeSipPort) || cluster.edgeSipPort < 1 || cluster.edgeSipPort > 65535)
    throw new ConfigError(`"cluster.edgeSipPort" must be a port number (1-65535), got ${cluster.edgeSipPort}`);
  if (!Number.isInteger(cluster.claimTtlMs) || cluster.claimTtlMs < 300)
    throw new ConfigError(`"cluster.claimTtlMs" must be an integer of at least 300 (ms), got ${cluster.claimTtlMs}`);
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
  if (config.cluster) validateClusterConfig(config, config.cluster);
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
  // The default credentials are public (they are in the README): refuse them anywhere but loopback —
  // or, for a cluster node, the RFC 2544 test network `npm run cluster` puts its namespaces on.
  const isLocal = (host: string) => isLoopback(host) || (config.cluster !== null && isTestNetwork(host));
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
    const exposed = listeners.filter(([, host]) => !isLocal(host));
    if (exposed.length > 0) {
      throw new ConfigError(
        `refusing to start: the default users' credentials (${withDefaults.join(', ')}) are only accepted while every listener is on loopback${config.cluster ? ' (or 198.18.0.0/15 for a cluster node)' : ''}, ` +
          `but ${exposed.map(([k, h]) => `${k}=${h}`).join(', ')} ${exposed.length > 1 ? 'are' : 'is'} not. Set "users" and "admins" with your own passwords.`,
      );
    }
  }
  return config;
}
