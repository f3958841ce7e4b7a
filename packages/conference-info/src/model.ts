/**
 * The typed model of an RFC 4575 conference-info document (application/conference-info+xml).
 *
 * Field names follow the XML element names in camelCase. Optional fields are `undefined` when the
 * element is absent; in a partial document "absent" means "unchanged" (RFC 4575 section 4.6).
 * Sidebars (sidebars-by-ref / sidebars-by-val) and foreign extensions are not modelled: the parser
 * skips them.
 */

export const CONFERENCE_INFO_NAMESPACE = 'urn:ietf:params:xml:ns:conference-info';
/** Conclave's own extension namespace (RFC 4575 allows extensions in other namespaces). */
export const CONCLAVE_EXTENSION_NAMESPACE = 'urn:conclave:params:xml:ns:conference-info-ext';
export const CONFERENCE_INFO_CONTENT_TYPE = 'application/conference-info+xml';

export const ELEMENT_STATES = ['full', 'partial', 'deleted'] as const;
export type ElementState = (typeof ELEMENT_STATES)[number];

export const ENDPOINT_STATUSES = [
  'pending',
  'dialing-out',
  'dialing-in',
  'alerting',
  'on-hold',
  'connected',
  'muted-via-focus',
  'disconnecting',
  'disconnected',
] as const;
export type EndpointStatus = (typeof ENDPOINT_STATUSES)[number];

export const JOINING_METHODS = ['dialed-in', 'dialed-out', 'focus-owner'] as const;
export type JoiningMethod = (typeof JOINING_METHODS)[number];

export const DISCONNECTION_METHODS = ['departed', 'booted', 'failed', 'busy'] as const;
export type DisconnectionMethod = (typeof DISCONNECTION_METHODS)[number];

export const MEDIA_STATUSES = ['sendrecv', 'sendonly', 'recvonly', 'inactive'] as const;
export type MediaStatus = (typeof MEDIA_STATUSES)[number];

/** execution-type: joining-info, disconnection-info, referred, modified. */
export interface ExecutionInfo {
  /** xs:dateTime, e.g. `new Date().toISOString()`. */
  when?: string;
  reason?: string;
  /** URI of the entity that caused the action. */
  by?: string;
}

/** uri-type: an entry of conf-uris, service-uris, associated-aors or host-info/uris. */
export interface UriEntry {
  uri: string;
  displayText?: string;
  /** e.g. "participation", "streaming", "web-page" (RFC 4575). */
  purpose?: string;
  modified?: ExecutionInfo;
}

/** uris-type: a list that may itself be partial. Entries are keyed by `uri`. */
export interface UriList {
  state?: ElementState;
  entries: UriEntry[];
}

/** conference-medium-type: an entry of available-media, keyed by `label`. */
export interface AvailableMediaEntry {
  label: string;
  /** "audio", "video", "text", "message", ... */
  type: string;
  displayText?: string;
  status?: MediaStatus;
}

export interface ConferenceDescription {
  displayText?: string;
  subject?: string;
  freeText?: string;
  keywords?: string[];
  confUris?: UriList;
  serviceUris?: UriList;
  maximumUserCount?: number;
  availableMedia?: AvailableMediaEntry[];
}

export interface HostInfo {
  displayText?: string;
  webPage?: string;
  uris?: UriList;
}

export interface ConferenceStateInfo {
  userCount?: number;
  active?: boolean;
  locked?: boolean;
}

/** media-type: a media stream of an endpoint, keyed by `id`. */
export interface Media {
  id: string;
  displayText?: string;
  /** "audio", "video", ... */
  type?: string;
  label?: string;
  /** e.g. the SSRC, as a string. */
  srcId?: string;
  status?: MediaStatus;
}

/** sip-dialog-id-type, the content of call-info/sip. */
export interface SipDialogId {
  callId: string;
  fromTag: string;
  toTag: string;
  displayText?: string;
}

/** endpoint-type, keyed by `entity`. */
export interface Endpoint {
  entity: string;
  state?: ElementState;
  displayText?: string;
  referred?: ExecutionInfo;
  status?: EndpointStatus;
  joiningMethod?: JoiningMethod;
  joiningInfo?: ExecutionInfo;
  disconnectionMethod?: DisconnectionMethod;
  disconnectionInfo?: ExecutionInfo;
  /** Merged by `id` in a partial endpoint. */
  media: Media[];
  callInfo?: SipDialogId;
  /** Extension (Conclave namespace): the endpoint is currently the active speaker. */
  speaking?: boolean;
  /**
   * Extension (Conclave namespace): the focus mutes this endpoint. Also reflected by status
   * `muted-via-focus` when the endpoint is otherwise connected; this flag survives `on-hold`.
   */
  mutedByFocus?: boolean;
}

/** user-type, keyed by `entity`. */
export interface User {
  entity: string;
  state?: ElementState;
  displayText?: string;
  associatedAors?: UriList;
  roles?: string[];
  /** xs:language tags. */
  languages?: string[];
  cascadedFocus?: string;
  /** Merged by `entity` in a partial user. */
  endpoints: Endpoint[];
}

export interface Users {
  state?: ElementState;
  /** Merged by `entity` in a partial users element. */
  entries: User[];
}

/** The root conference-info element. */
export interface ConferenceInfo {
  /** The conference URI. */
  entity: string;
  state: ElementState;
  /** Per-subscription document version (xs:unsignedInt): +1 for each document sent to a subscriber. */
  version: number;
  description?: ConferenceDescription;
  hostInfo?: HostInfo;
  conferenceState?: ConferenceStateInfo;
  users?: Users;
}

export const MAX_UNSIGNED_INT = 4294967295;

export function isUnsignedInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_UNSIGNED_INT;
}
