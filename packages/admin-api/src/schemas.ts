/**
 * The JSON Schemas of the admin API, shared by the routes (Fastify validates requests and serializes
 * responses with them) and the OpenAPI document (@fastify/swagger turns each `$id` into
 * `#/components/schemas/<id>`). They must describe exactly what representation.ts produces: the
 * response serializer drops properties a schema does not list.
 */
import { API_ERROR_CODES } from './errors.ts';

/** A schema object (JSON Schema 2020-12, as OpenAPI 3.1 uses it). */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** The `$id`s of SHARED_SCHEMAS (their names in the OpenAPI document's components). */
export type SharedSchemaId =
  | 'Error'
  | 'LoginRequest'
  | 'Session'
  | 'SessionInfo'
  | 'ConferenceList'
  | 'ConferenceSummary'
  | 'ConferenceDetail'
  | 'Participant'
  | 'Media'
  | 'EventSnapshot'
  | 'ConferenceEnded';

/** A reference to a shared schema by `$id`, as Fastify resolves it. */
export function ref(id: SharedSchemaId): JsonSchema {
  return { $ref: `${id}#` };
}

const nullableString = { type: ['string', 'null'] } as const;

export const SHARED_SCHEMAS = [
  {
    $id: 'Error',
    type: 'object',
    required: ['error'],
    additionalProperties: false,
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        additionalProperties: false,
        properties: {
          code: { type: 'string', enum: [...API_ERROR_CODES] },
          message: { type: 'string' },
        },
      },
    },
  },
  {
    $id: 'LoginRequest',
    type: 'object',
    required: ['user', 'password'],
    properties: {
      // No length limits here: an empty or overlong name or password is a failed login (401), not a
      // malformed request, so that the answers do not tell which one was wrong.
      user: { type: 'string', description: 'An admin user name (at most 256 characters).' },
      password: { type: 'string', description: 'At most 1024 characters.' },
    },
    examples: [{ user: 'admin', password: 'admin-secret' }],
  },
  {
    $id: 'Session',
    type: 'object',
    required: ['token', 'user', 'expiresAt'],
    additionalProperties: false,
    properties: {
      token: { type: 'string', description: '256 random bits, base64url (43 characters).' },
      user: { type: 'string' },
      expiresAt: { type: 'string', format: 'date-time' },
    },
  },
  {
    $id: 'SessionInfo',
    type: 'object',
    required: ['user', 'method', 'expiresAt'],
    additionalProperties: false,
    properties: {
      user: { type: 'string' },
      method: { type: 'string', enum: ['bearer', 'basic'] },
      expiresAt: { type: ['string', 'null'], format: 'date-time', description: 'null with HTTP Basic.' },
    },
  },
  {
    $id: 'ConferenceList',
    type: 'object',
    required: ['conferences'],
    additionalProperties: false,
    properties: { conferences: { type: 'array', items: ref('ConferenceSummary') } },
  },
  {
    $id: 'ConferenceSummary',
    type: 'object',
    required: ['id', 'uri', 'creator', 'createdAt', 'subject', 'participantCount', 'locked', 'activeSpeaker'],
    properties: {
      id: { type: 'string', examples: ['cf_3kq9x0'] },
      uri: { type: 'string', examples: ['sip:conf-k3x9a2@conclave.example.com'] },
      creator: { type: 'string', description: "The creator's SIP URI." },
      createdAt: { type: 'string', format: 'date-time' },
      subject: nullableString,
      participantCount: {
        type: 'integer',
        minimum: 0,
        description: 'Endpoints in the conference, whatever their status.',
      },
      locked: { type: 'boolean' },
      activeSpeaker: { ...nullableString, description: 'Participant id of the active speaker.' },
    },
  },
  {
    $id: 'ConferenceDetail',
    description: 'The summary plus the roster.',
    allOf: [
      ref('ConferenceSummary'),
      {
        type: 'object',
        required: ['displayText', 'maxParticipants', 'ended', 'participants'],
        properties: {
          displayText: nullableString,
          maxParticipants: { type: 'integer', minimum: 1 },
          ended: { type: 'boolean' },
          participants: { type: 'array', items: ref('Participant') },
        },
      },
    ],
  },
  {
    $id: 'Participant',
    type: 'object',
    required: [
      'id',
      'entity',
      'displayName',
      'status',
      'endpointStatus',
      'joiningMethod',
      'joinedAt',
      'onHold',
      'mutedByFocus',
      'mutedBy',
      'speaking',
      'roles',
      'media',
    ],
    additionalProperties: false,
    properties: {
      id: { type: 'string', examples: ['p_7f2k'] },
      entity: { type: 'string', description: "The user's SIP URI (address of record)." },
      displayName: nullableString,
      status: {
        type: 'string',
        enum: ['pending', 'dialing-in', 'dialing-out', 'alerting', 'connected', 'disconnecting'],
      },
      endpointStatus: {
        type: 'string',
        description: 'RFC 4575 endpoint status (on-hold > muted-via-focus > connected once connected).',
        enum: [
          'pending',
          'dialing-in',
          'dialing-out',
          'alerting',
          'connected',
          'on-hold',
          'muted-via-focus',
          'disconnecting',
          'disconnected',
        ],
      },
      joiningMethod: { type: 'string', enum: ['dialed-in', 'dialed-out', 'focus-owner'] },
      joinedAt: { type: 'string', format: 'date-time' },
      onHold: { type: 'boolean' },
      mutedByFocus: { type: 'boolean' },
      mutedBy: { ...nullableString, description: 'SIP URI of who muted (an admin is sip:<user>@<domain>).' },
      speaking: { type: 'boolean' },
      roles: { type: 'array', items: { type: 'string' }, examples: [['creator', 'participant']] },
      media: { type: 'array', items: ref('Media') },
    },
  },
  {
    $id: 'Media',
    type: 'object',
    required: ['id', 'type', 'status', 'label', 'displayText'],
    additionalProperties: false,
    properties: {
      id: { type: 'string', description: 'e.g. the SDP mid.' },
      type: { type: 'string', examples: ['audio'] },
      status: {
        type: 'string',
        enum: ['sendrecv', 'sendonly', 'recvonly', 'inactive'],
        description: "As negotiated, from the participant's point of view (not reduced by a focus mute).",
      },
      label: nullableString,
      displayText: nullableString,
    },
  },
  {
    $id: 'EventSnapshot',
    description: 'The `data` of the `snapshot` event.',
    type: 'object',
    required: ['conferences'],
    additionalProperties: false,
    properties: { conferences: { type: 'array', items: ref('ConferenceDetail') } },
  },
  {
    $id: 'ConferenceEnded',
    description: 'The `data` of the `conference-ended` event.',
    type: 'object',
    required: ['id', 'uri', 'reason'],
    additionalProperties: false,
    properties: { id: { type: 'string' }, uri: { type: 'string' }, reason: nullableString },
  },
] as const satisfies readonly (JsonSchema & { $id: SharedSchemaId })[];

// --- route parts -----------------------------------------------------------------------------------

export const CONFERENCE_ID = {
  type: 'string',
  minLength: 1,
  description: 'The conference id (`cf_...`), or its SIP URI URL-encoded (`sip%3Aconf-k3x9a2%40conclave.example.com`).',
} as const;

export const PARTICIPANT_ID = {
  type: 'string',
  minLength: 1,
  description: 'The participant id from the roster.',
} as const;

/** Error answers, each a response schema of the routes that can give it. */
export const ERROR_RESPONSES = {
  400: { description: 'Unparsable JSON, missing or wrong fields, malformed path.' },
  401: {
    description: 'Missing, wrong or expired credentials (the same message for a wrong password and a non-admin).',
    headers: {
      'WWW-Authenticate': {
        type: 'string',
        description: '`Bearer realm="Conclave admin"` (not Basic, so browsers show no login dialog).',
      },
    },
  },
  404: { description: 'No such conference, participant or endpoint.' },
  409: { description: 'The conference model refused the operation in its current state (e.g. already ended).' },
  413: { description: 'The body is larger than 16 KiB (the connection is closed).' },
  415: { description: 'A body that is not application/json.' },
  429: {
    description: 'Too many failed logins from this address (also for HTTP Basic).',
    headers: { 'Retry-After': { type: 'integer', description: 'Seconds until the next attempt is considered.' } },
  },
  500: { description: 'The focus failed to carry out the operation (see its log).' },
} as const;

export type ErrorStatus = keyof typeof ERROR_RESPONSES;

/** The response schemas of some error statuses: the Error shape, a description, maybe headers. */
export function errorResponses(...statuses: ErrorStatus[]): Record<number, JsonSchema> {
  const responses: Record<number, JsonSchema> = {};
  for (const status of statuses) responses[status] = { ...ref('Error'), ...ERROR_RESPONSES[status] };
  return responses;
}
