/**
 * ConferenceInfo → application/conference-info+xml. Elements are written in the order of the RFC 4575
 * schema's sequences, so every document is schema-valid (the tests validate each one with xmllint).
 */

import { ConferenceInfoSerializeError } from './errors.ts';
import {
  CONCLAVE_EXTENSION_NAMESPACE,
  CONFERENCE_INFO_NAMESPACE,
  DISCONNECTION_METHODS,
  ELEMENT_STATES,
  ENDPOINT_STATUSES,
  isUnsignedInt,
  JOINING_METHODS,
  MEDIA_STATUSES,
  type ConferenceDescription,
  type ConferenceInfo,
  type ConferenceStateInfo,
  type Endpoint,
  type ExecutionInfo,
  type HostInfo,
  type Media,
  type UriList,
  type User,
} from './model.ts';
import { isDateTime, sanitizeUri, XmlWriter } from './xml-writer.ts';

export interface SerializeOptions {
  /** Indent with newlines and two spaces (default true). Leaf text is never padded. */
  pretty?: boolean;
  /** Write the `<?xml ...?>` declaration (default true). */
  declaration?: boolean;
}

const EXT_PREFIX = 'cx';
const LANGUAGE_RE = /^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$/;

/** Serialises a document. Throws ConferenceInfoSerializeError when a key or number is unusable. */
export function serialize(info: ConferenceInfo, options: SerializeOptions = {}): string {
  const w = new XmlWriter(options.pretty ?? true);
  requireNonEmpty(info.entity, 'entity');
  if (!isUnsignedInt(info.version))
    throw new ConferenceInfoSerializeError('version', `must be an integer 0..4294967295, got ${String(info.version)}`);
  const usesExtension = (info.users?.entries ?? []).some((u) =>
    (u.endpoints ?? []).some((e) => e.speaking !== undefined || e.mutedByFocus !== undefined),
  );
  const root = 'conference-info';
  w.open(root, {
    xmlns: CONFERENCE_INFO_NAMESPACE,
    [`xmlns:${EXT_PREFIX}`]: usesExtension ? CONCLAVE_EXTENSION_NAMESPACE : undefined,
    entity: sanitizeUri(info.entity),
    state: checkState(info.state, 'state') ?? 'full',
    version: String(info.version),
  });
  if (info.description) writeDescription(w, info.description, 'description');
  if (info.hostInfo) writeHostInfo(w, info.hostInfo, 'hostInfo');
  if (info.conferenceState) writeConferenceState(w, info.conferenceState, 'conferenceState');
  if (info.users) {
    const state = checkState(info.users.state, 'users.state');
    const entries = info.users.entries ?? [];
    if (entries.length === 0) w.empty('users', { state });
    else {
      w.open('users', { state });
      entries.forEach((u, i) => writeUser(w, u, `users.entries[${i}]`));
      w.close('users');
    }
  }
  w.close(root);
  const body = w.toString();
  return (options.declaration ?? true)
    ? `<?xml version="1.0" encoding="UTF-8"?>${(options.pretty ?? true) ? '\n' : ''}${body}`
    : body;
}

function requireNonEmpty(value: unknown, path: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0)
    throw new ConferenceInfoSerializeError(path, 'must be a non-empty string');
}

function checkEnum<T extends string>(allowed: readonly T[], value: T | undefined, path: string): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value))
    throw new ConferenceInfoSerializeError(path, `must be one of ${allowed.join('|')}, got ${String(value)}`);
  return value;
}

function checkState(value: ConferenceInfo['state'] | undefined, path: string): ConferenceInfo['state'] | undefined {
  return checkEnum(ELEMENT_STATES, value, path);
}

function formatUnsignedInt(value: number | undefined, path: string): string | undefined {
  if (value === undefined) return undefined;
  if (!isUnsignedInt(value))
    throw new ConferenceInfoSerializeError(path, `must be an integer 0..4294967295, got ${String(value)}`);
  return String(value);
}

function formatBoolean(value: boolean | undefined, path: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean')
    throw new ConferenceInfoSerializeError(path, `must be a boolean, got ${String(value)}`);
  return value ? 'true' : 'false';
}

function formatDateTime(value: string | undefined, path: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !isDateTime(value))
    throw new ConferenceInfoSerializeError(
      path,
      `must be an xs:dateTime such as 2026-01-31T12:00:00Z, got ${String(value)}`,
    );
  return value;
}

function optionalUri(value: string | undefined): string | undefined {
  return value === undefined ? undefined : sanitizeUri(value);
}

function writeExecution(w: XmlWriter, name: string, info: ExecutionInfo, path: string): void {
  w.open(name);
  w.leaf('when', formatDateTime(info.when, `${path}.when`));
  w.leaf('reason', info.reason);
  w.leaf('by', optionalUri(info.by));
  w.close(name);
}

function writeUriList(w: XmlWriter, name: string, list: UriList, path: string): void {
  const entries = list.entries ?? [];
  // uris-type requires at least one entry: an empty list is written as no element.
  if (entries.length === 0) return;
  w.open(name, { state: checkState(list.state, `${path}.state`) });
  entries.forEach((entry, i) => {
    requireNonEmpty(entry.uri, `${path}.entries[${i}].uri`);
    w.open('entry');
    w.leaf('uri', sanitizeUri(entry.uri));
    w.leaf('display-text', entry.displayText);
    w.leaf('purpose', entry.purpose);
    if (entry.modified) writeExecution(w, 'modified', entry.modified, `${path}.entries[${i}].modified`);
    w.close('entry');
  });
  w.close(name);
}

function writeDescription(w: XmlWriter, d: ConferenceDescription, path: string): void {
  w.open('conference-description');
  w.leaf('display-text', d.displayText);
  w.leaf('subject', d.subject);
  w.leaf('free-text', d.freeText);
  if (d.keywords && d.keywords.length > 0) {
    // xs:list of xs:string: items are separated by whitespace, so whitespace inside an item splits it.
    const words = d.keywords.flatMap((k) => k.split(/[ \t\r\n]+/)).filter((k) => k.length > 0);
    if (words.length > 0) w.leaf('keywords', words.join(' '));
  }
  if (d.confUris) writeUriList(w, 'conf-uris', d.confUris, `${path}.confUris`);
  if (d.serviceUris) writeUriList(w, 'service-uris', d.serviceUris, `${path}.serviceUris`);
  w.leaf('maximum-user-count', formatUnsignedInt(d.maximumUserCount, `${path}.maximumUserCount`));
  if (d.availableMedia && d.availableMedia.length > 0) {
    w.open('available-media');
    d.availableMedia.forEach((m, i) => {
      const p = `${path}.availableMedia[${i}]`;
      if (typeof m.label !== 'string') throw new ConferenceInfoSerializeError(`${p}.label`, 'must be a string');
      if (typeof m.type !== 'string') throw new ConferenceInfoSerializeError(`${p}.type`, 'must be a string');
      w.open('entry', { label: m.label });
      w.leaf('display-text', m.displayText);
      w.leaf('type', m.type);
      w.leaf('status', checkEnum(MEDIA_STATUSES, m.status, `${p}.status`));
      w.close('entry');
    });
    w.close('available-media');
  }
  w.close('conference-description');
}

function writeHostInfo(w: XmlWriter, h: HostInfo, path: string): void {
  w.open('host-info');
  w.leaf('display-text', h.displayText);
  w.leaf('web-page', optionalUri(h.webPage));
  if (h.uris) writeUriList(w, 'uris', h.uris, `${path}.uris`);
  w.close('host-info');
}

function writeConferenceState(w: XmlWriter, s: ConferenceStateInfo, path: string): void {
  w.open('conference-state');
  w.leaf('user-count', formatUnsignedInt(s.userCount, `${path}.userCount`));
  w.leaf('active', formatBoolean(s.active, `${path}.active`));
  w.leaf('locked', formatBoolean(s.locked, `${path}.locked`));
  w.close('conference-state');
}

function writeUser(w: XmlWriter, u: User, path: string): void {
  requireNonEmpty(u.entity, `${path}.entity`);
  const attributes = { entity: sanitizeUri(u.entity), state: checkState(u.state, `${path}.state`) };
  const languages = (u.languages ?? []).filter((l) => LANGUAGE_RE.test(l));
  const endpoints = u.endpoints ?? [];
  const hasContent =
    u.displayText !== undefined ||
    (u.associatedAors?.entries.length ?? 0) > 0 ||
    (u.roles?.length ?? 0) > 0 ||
    languages.length > 0 ||
    u.cascadedFocus !== undefined ||
    endpoints.length > 0;
  if (!hasContent) {
    w.empty('user', attributes);
    return;
  }
  w.open('user', attributes);
  w.leaf('display-text', u.displayText);
  if (u.associatedAors) writeUriList(w, 'associated-aors', u.associatedAors, `${path}.associatedAors`);
  if (u.roles && u.roles.length > 0) {
    w.open('roles');
    for (const role of u.roles) w.leaf('entry', role);
    w.close('roles');
  }
  if (languages.length > 0) w.leaf('languages', languages.join(' '));
  w.leaf('cascaded-focus', optionalUri(u.cascadedFocus));
  endpoints.forEach((e, i) => writeEndpoint(w, e, `${path}.endpoints[${i}]`));
  w.close('user');
}

function writeEndpoint(w: XmlWriter, e: Endpoint, path: string): void {
  requireNonEmpty(e.entity, `${path}.entity`);
  const attributes = { entity: e.entity, state: checkState(e.state, `${path}.state`) };
  const media = e.media ?? [];
  const hasContent =
    e.displayText !== undefined ||
    e.referred !== undefined ||
    e.status !== undefined ||
    e.joiningMethod !== undefined ||
    e.joiningInfo !== undefined ||
    e.disconnectionMethod !== undefined ||
    e.disconnectionInfo !== undefined ||
    media.length > 0 ||
    e.callInfo !== undefined ||
    e.speaking !== undefined ||
    e.mutedByFocus !== undefined;
  if (!hasContent) {
    w.empty('endpoint', attributes);
    return;
  }
  w.open('endpoint', attributes);
  w.leaf('display-text', e.displayText);
  if (e.referred) writeExecution(w, 'referred', e.referred, `${path}.referred`);
  w.leaf('status', checkEnum(ENDPOINT_STATUSES, e.status, `${path}.status`));
  w.leaf('joining-method', checkEnum(JOINING_METHODS, e.joiningMethod, `${path}.joiningMethod`));
  if (e.joiningInfo) writeExecution(w, 'joining-info', e.joiningInfo, `${path}.joiningInfo`);
  w.leaf(
    'disconnection-method',
    checkEnum(DISCONNECTION_METHODS, e.disconnectionMethod, `${path}.disconnectionMethod`),
  );
  if (e.disconnectionInfo) writeExecution(w, 'disconnection-info', e.disconnectionInfo, `${path}.disconnectionInfo`);
  media.forEach((m, i) => writeMedia(w, m, `${path}.media[${i}]`));
  if (e.callInfo) {
    const c = e.callInfo;
    for (const key of ['callId', 'fromTag', 'toTag'] as const) {
      if (typeof c[key] !== 'string')
        throw new ConferenceInfoSerializeError(`${path}.callInfo.${key}`, 'must be a string');
    }
    w.open('call-info');
    w.open('sip');
    w.leaf('display-text', c.displayText);
    w.leaf('call-id', c.callId);
    w.leaf('from-tag', c.fromTag);
    w.leaf('to-tag', c.toTag);
    w.close('sip');
    w.close('call-info');
  }
  w.leaf(`${EXT_PREFIX}:speaking`, formatBoolean(e.speaking, `${path}.speaking`));
  w.leaf(`${EXT_PREFIX}:muted-by-focus`, formatBoolean(e.mutedByFocus, `${path}.mutedByFocus`));
  w.close('endpoint');
}

function writeMedia(w: XmlWriter, m: Media, path: string): void {
  requireNonEmpty(m.id, `${path}.id`);
  const hasContent =
    m.displayText !== undefined ||
    m.type !== undefined ||
    m.label !== undefined ||
    m.srcId !== undefined ||
    m.status !== undefined;
  if (!hasContent) {
    w.empty('media', { id: m.id });
    return;
  }
  w.open('media', { id: m.id });
  w.leaf('display-text', m.displayText);
  w.leaf('type', m.type);
  w.leaf('label', m.label);
  w.leaf('src-id', m.srcId);
  w.leaf('status', checkEnum(MEDIA_STATUSES, m.status, `${path}.status`));
  w.close('media');
}
