/**
 * Turns what a person types into the dial box into a SIP URI.
 *   "bob"                 -> sip:bob@<domain>
 *   "bob@example.org"     -> sip:bob@example.org
 *   "sip:bob@host;x=y"    -> unchanged (sips: too)
 */
export type DialTarget = { readonly ok: true; readonly uri: string } | { readonly ok: false; readonly error: string };

// RFC 3261 "user" characters: unreserved / escaped / user-unreserved.
const USER = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+$/;
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?)(?::\d{1,5})?$/;
const SIP_URI = /^sips?:(?:[^\s@]+@)?[^\s@]+$/i;

export function normalizeTarget(input: string, domain: string): DialTarget {
  const text = input.trim();
  if (text === '') return { ok: false, error: 'enter a user name or a SIP address' };
  if (/\s/.test(text))
    return { ok: false, error: `"${text}" contains spaces; enter a user name like "bob" or sip:bob@${domain}` };
  if (/^sips?:/i.test(text)) {
    if (!SIP_URI.test(text)) return { ok: false, error: `"${text}" is not a valid SIP address` };
    const scheme = text.slice(0, text.indexOf(':')).toLowerCase();
    return { ok: true, uri: `${scheme}${text.slice(scheme.length)}` };
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(text) && !/^[^@]+@/.test(text)) {
    return { ok: false, error: `only sip: addresses can be dialled, not "${text}"` };
  }
  const at = text.lastIndexOf('@');
  const user = at === -1 ? text : text.slice(0, at);
  const host = at === -1 ? domain : text.slice(at + 1);
  if (!USER.test(user)) return { ok: false, error: `"${user}" is not a valid user name` };
  if (!HOST.test(host)) return { ok: false, error: `"${host}" is not a valid host` };
  return { ok: true, uri: `sip:${user}@${host.toLowerCase()}` };
}

/** "sip:bob@127.0.0.1;transport=ws" -> "bob" (for short labels). */
export function userPart(uri: string): string {
  const withoutScheme = uri.replace(/^sips?:/i, '');
  const at = withoutScheme.indexOf('@');
  const user = at === -1 ? withoutScheme : withoutScheme.slice(0, at);
  return user.split(/[;?]/)[0] ?? user;
}
