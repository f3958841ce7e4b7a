/**
 * application/conference-info+xml → ConferenceInfo.
 *
 * Strict about the envelope (root element, entity, version, state), lenient inside: a value the
 * model cannot represent (an unknown status, a non-numeric count) is dropped as if absent, users
 * and endpoints without the entity key are skipped (section 4.6 indexes them by entity), and
 * elements from foreign namespaces are ignored. Every failure is a ConferenceInfoParseError.
 */

import { ConferenceInfoParseError } from './errors.ts';
import {
  CONCLAVE_EXTENSION_NAMESPACE,
  CONFERENCE_INFO_NAMESPACE,
  DISCONNECTION_METHODS,
  ELEMENT_STATES,
  ENDPOINT_STATUSES,
  JOINING_METHODS,
  MAX_UNSIGNED_INT,
  MEDIA_STATUSES,
  type AvailableMediaEntry,
  type ConferenceDescription,
  type ConferenceInfo,
  type ConferenceStateInfo,
  type ElementState,
  type Endpoint,
  type ExecutionInfo,
  type HostInfo,
  type Media,
  type SipDialogId,
  type UriEntry,
  type UriList,
  type User,
} from './model.ts';
import { DEFAULT_XML_READ_LIMITS, readXml, type XmlElement, type XmlReadLimits } from './xml-reader.ts';
import { isDateTime } from './xml-writer.ts';

export interface ParseOptions {
  /** Override the reader's limits (size, depth, element count, attributes per element). */
  limits?: Partial<XmlReadLimits>;
}

/**
 * Parses a conference-info document from a string or from UTF-8 bytes.
 * Throws ConferenceInfoParseError, and nothing else, when the body is refused.
 */
export function parse(body: string | Uint8Array, options: ParseOptions = {}): ConferenceInfo {
  try {
    const limits: XmlReadLimits = { ...DEFAULT_XML_READ_LIMITS, ...options.limits };
    let text: string;
    if (typeof body === 'string') text = body;
    else {
      // Bytes are limited before decoding: UTF-8 never has fewer bytes than UTF-16 code units.
      if (body.byteLength > limits.maxLength * 3)
        throw new ConferenceInfoParseError('too-large', `body is ${body.byteLength} bytes`, 0);
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(body);
      } catch {
        throw new ConferenceInfoParseError('bad-encoding', 'body is not valid UTF-8', 0);
      }
    }
    return toConferenceInfo(readXml(text, limits));
  } catch (error) {
    if (error instanceof ConferenceInfoParseError) throw error;
    throw new ConferenceInfoParseError('internal', error instanceof Error ? error.message : String(error));
  }
}

function toConferenceInfo(root: XmlElement): ConferenceInfo {
  if (root.namespace !== CONFERENCE_INFO_NAMESPACE || root.localName !== 'conference-info') {
    throw new ConferenceInfoParseError(
      'wrong-root',
      `root element is {${root.namespace}}${root.localName}, expected {${CONFERENCE_INFO_NAMESPACE}}conference-info`,
    );
  }
  const entity = attribute(root, 'entity')?.trim();
  if (!entity) throw new ConferenceInfoParseError('missing-entity', 'conference-info has no entity attribute');
  const rawVersion = attribute(root, 'version');
  if (rawVersion === undefined)
    throw new ConferenceInfoParseError('bad-version', 'conference-info has no version attribute');
  const version = unsignedInt(rawVersion);
  if (version === undefined)
    throw new ConferenceInfoParseError('bad-version', `version "${rawVersion.slice(0, 40)}" is not an xs:unsignedInt`);
  const rawState = attribute(root, 'state');
  const state = rawState === undefined ? 'full' : elementState(rawState);
  if (state === undefined)
    throw new ConferenceInfoParseError('bad-state', `state "${rawState?.slice(0, 40)}" is not full|partial|deleted`);

  const info: ConferenceInfo = { entity, state, version };
  const description = child(root, 'conference-description');
  if (description) info.description = toDescription(description);
  const hostInfo = child(root, 'host-info');
  if (hostInfo) info.hostInfo = toHostInfo(hostInfo);
  const conferenceState = child(root, 'conference-state');
  if (conferenceState) info.conferenceState = toConferenceState(conferenceState);
  const users = child(root, 'users');
  if (users) {
    info.users = {
      entries: children(users, 'user')
        .map(toUser)
        .filter((u): u is User => u !== undefined),
    };
    setState(info.users, users);
  }
  return info;
}

// --- element access -------------------------------------------------------------------------

function child(el: XmlElement, name: string, ns: string = CONFERENCE_INFO_NAMESPACE): XmlElement | undefined {
  return el.children.find((c) => c.localName === name && c.namespace === ns);
}

function children(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.localName === name && c.namespace === CONFERENCE_INFO_NAMESPACE);
}

/** Unqualified attribute (RFC 4575 attributes are unqualified). */
function attribute(el: XmlElement, name: string): string | undefined {
  return el.attributes.find((a) => a.localName === name && a.namespace === '')?.value;
}

function text(el: XmlElement, name: string, ns?: string): string | undefined {
  return child(el, name, ns)?.text;
}

/** Values of schema types with whitespace="collapse" (enumerations, numbers, booleans, URIs). */
function token(el: XmlElement, name: string, ns?: string): string | undefined {
  const value = text(el, name, ns);
  return value === undefined ? undefined : value.trim().replace(/[ \t\r\n]+/g, ' ');
}

function oneOf<T extends string>(allowed: readonly T[], value: string | undefined): T | undefined {
  return value !== undefined && (allowed as readonly string[]).includes(value) ? (value as T) : undefined;
}

function elementState(value: string | undefined): ElementState | undefined {
  return oneOf(ELEMENT_STATES, value?.trim());
}

function setState(target: { state?: ElementState }, el: XmlElement): void {
  const state = elementState(attribute(el, 'state'));
  if (state !== undefined) target.state = state;
}

function unsignedInt(value: string | undefined): number | undefined {
  const v = value?.trim();
  if (v === undefined || !/^\+?[0-9]{1,12}$/.test(v)) return undefined;
  const n = Number(v);
  return n <= MAX_UNSIGNED_INT ? n : undefined;
}

function boolean(value: string | undefined): boolean | undefined {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return undefined;
}

/** Assigns only defined values, so absent elements stay absent (meaningful in partial documents). */
function assignDefined<T extends object>(target: T, values: Partial<T>): T {
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined) (target as Record<string, unknown>)[key] = value;
  }
  return target;
}

// --- element types --------------------------------------------------------------------------

function toExecution(el: XmlElement | undefined): ExecutionInfo | undefined {
  if (!el) return undefined;
  const when = token(el, 'when');
  return assignDefined<ExecutionInfo>(
    {},
    {
      when: when !== undefined && isDateTime(when) ? when : undefined,
      reason: text(el, 'reason'),
      by: token(el, 'by'),
    },
  );
}

function toUriList(el: XmlElement | undefined): UriList | undefined {
  if (!el) return undefined;
  const entries: UriEntry[] = [];
  for (const entry of children(el, 'entry')) {
    const uri = token(entry, 'uri');
    if (!uri) continue;
    entries.push(
      assignDefined<UriEntry>(
        { uri },
        {
          displayText: text(entry, 'display-text'),
          purpose: text(entry, 'purpose'),
          modified: toExecution(child(entry, 'modified')),
        },
      ),
    );
  }
  const list: UriList = { entries };
  setState(list, el);
  return list;
}

function toDescription(el: XmlElement): ConferenceDescription {
  const keywords = token(el, 'keywords');
  const availableMediaEl = child(el, 'available-media');
  let availableMedia: AvailableMediaEntry[] | undefined;
  if (availableMediaEl) {
    availableMedia = [];
    for (const entry of children(availableMediaEl, 'entry')) {
      const label = attribute(entry, 'label');
      const type = text(entry, 'type');
      if (label === undefined || type === undefined) continue;
      availableMedia.push(
        assignDefined<AvailableMediaEntry>(
          { label, type },
          {
            displayText: text(entry, 'display-text'),
            status: oneOf(MEDIA_STATUSES, token(entry, 'status')),
          },
        ),
      );
    }
  }
  return assignDefined<ConferenceDescription>(
    {},
    {
      displayText: text(el, 'display-text'),
      subject: text(el, 'subject'),
      freeText: text(el, 'free-text'),
      keywords: keywords === undefined ? undefined : keywords.split(' ').filter((k) => k.length > 0),
      confUris: toUriList(child(el, 'conf-uris')),
      serviceUris: toUriList(child(el, 'service-uris')),
      maximumUserCount: unsignedInt(text(el, 'maximum-user-count')),
      availableMedia,
    },
  );
}

function toHostInfo(el: XmlElement): HostInfo {
  return assignDefined<HostInfo>(
    {},
    {
      displayText: text(el, 'display-text'),
      webPage: token(el, 'web-page'),
      uris: toUriList(child(el, 'uris')),
    },
  );
}

function toConferenceState(el: XmlElement): ConferenceStateInfo {
  return assignDefined<ConferenceStateInfo>(
    {},
    {
      userCount: unsignedInt(text(el, 'user-count')),
      active: boolean(token(el, 'active')),
      locked: boolean(token(el, 'locked')),
    },
  );
}

function toUser(el: XmlElement): User | undefined {
  const entity = attribute(el, 'entity')?.trim();
  if (!entity) return undefined;
  const roles = child(el, 'roles');
  const languages = token(el, 'languages');
  const user: User = {
    entity,
    endpoints: children(el, 'endpoint')
      .map(toEndpoint)
      .filter((e): e is Endpoint => e !== undefined),
  };
  setState(user, el);
  return assignDefined(user, {
    displayText: text(el, 'display-text'),
    associatedAors: toUriList(child(el, 'associated-aors')),
    roles: roles ? children(roles, 'entry').map((r) => r.text) : undefined,
    languages: languages === undefined ? undefined : languages.split(' ').filter((l) => l.length > 0),
    cascadedFocus: token(el, 'cascaded-focus'),
  });
}

function toEndpoint(el: XmlElement): Endpoint | undefined {
  const entity = attribute(el, 'entity');
  if (!entity) return undefined;
  const endpoint: Endpoint = {
    entity,
    media: children(el, 'media')
      .map(toMedia)
      .filter((m): m is Media => m !== undefined),
  };
  setState(endpoint, el);
  return assignDefined(endpoint, {
    displayText: text(el, 'display-text'),
    referred: toExecution(child(el, 'referred')),
    status: oneOf(ENDPOINT_STATUSES, token(el, 'status')),
    joiningMethod: oneOf(JOINING_METHODS, token(el, 'joining-method')),
    joiningInfo: toExecution(child(el, 'joining-info')),
    disconnectionMethod: oneOf(DISCONNECTION_METHODS, token(el, 'disconnection-method')),
    disconnectionInfo: toExecution(child(el, 'disconnection-info')),
    callInfo: toCallInfo(child(el, 'call-info')),
    speaking: boolean(token(el, 'speaking', CONCLAVE_EXTENSION_NAMESPACE)),
    mutedByFocus: boolean(token(el, 'muted-by-focus', CONCLAVE_EXTENSION_NAMESPACE)),
  });
}

function toCallInfo(el: XmlElement | undefined): SipDialogId | undefined {
  const sip = el && child(el, 'sip');
  if (!sip) return undefined;
  const callId = text(sip, 'call-id');
  const fromTag = text(sip, 'from-tag');
  const toTag = text(sip, 'to-tag');
  if (callId === undefined || fromTag === undefined || toTag === undefined) return undefined;
  return assignDefined<SipDialogId>({ callId, fromTag, toTag }, { displayText: text(sip, 'display-text') });
}

function toMedia(el: XmlElement): Media | undefined {
  const id = attribute(el, 'id');
  if (id === undefined || id === '') return undefined;
  return assignDefined<Media>(
    { id },
    {
      displayText: text(el, 'display-text'),
      type: text(el, 'type'),
      label: text(el, 'label'),
      srcId: text(el, 'src-id'),
      status: oneOf(MEDIA_STATUSES, token(el, 'status')),
    },
  );
}
