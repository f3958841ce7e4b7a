/** Small helpers over SIP URIs and name-addr values, as the focus needs them. */
import Srf from 'drachtio-srf';

export interface SipAddress {
  displayName: string | undefined;
  uri: string;
  user: string | undefined;
  host: string | undefined;
}

/** `"Alice" <sip:alice@example.com>;tag=x` → display name, URI, user and host. */
export function parseNameAddr(value: string): SipAddress | undefined {
  const angle = /^\s*(?:"((?:[^"\\]|\\.)*)"|([^<"]*?))\s*<([^>]+)>/.exec(value);
  const uri = angle ? angle[3]! : value.split(';')[0]!.trim();
  const display = angle
    ? angle[1] !== undefined
      ? angle[1].replace(/\\(.)/g, '$1')
      : angle[2]?.trim() || undefined
    : undefined;
  const parsed = Srf.parseUri(uri);
  if (!parsed || (parsed.scheme !== 'sip' && parsed.scheme !== 'sips')) return undefined;
  return { displayName: display, uri, user: parsed.user, host: parsed.host };
}

/** The user part of a request-URI, or undefined when it is not a SIP URI. */
export function userOf(uri: string): string | undefined {
  const parsed = Srf.parseUri(uri);
  return parsed && (parsed.scheme === 'sip' || parsed.scheme === 'sips') ? parsed.user : undefined;
}

/** Quotes a display name for a name-addr. */
export function quoteDisplayName(name: string): string {
  return `"${name.replace(/["\\]/g, (c) => '\\' + c)}"`;
}
