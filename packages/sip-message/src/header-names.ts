/** Header name handling: compact forms, case-insensitive comparison and canonical spelling. */

const COMPACT: Record<string, string> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  o: 'event',
  u: 'allow-events',
  r: 'refer-to',
  b: 'referred-by',
  x: 'session-expires',
  y: 'identity',
  a: 'accept-contact',
  j: 'reject-contact',
  d: 'request-disposition',
};

/**
 * Known headers in the order a sofia-sip based server (drachtio) serialises them. Headers not in this
 * list are "unknown" and go after Content-Length, in the order the application gave them.
 */
const ORDERED: readonly string[] = [
  'Via',
  'Route',
  'Record-Route',
  'Max-Forwards',
  'Proxy-Require',
  'From',
  'To',
  'Call-ID',
  'CSeq',
  'Contact',
  'RSeq',
  'RAck',
  'Request-Disposition',
  'Accept-Contact',
  'Reject-Contact',
  'Expires',
  'Date',
  'Retry-After',
  'Timestamp',
  'Min-Expires',
  'Subject',
  'Priority',
  'Call-Info',
  'Organization',
  'Server',
  'User-Agent',
  'In-Reply-To',
  'Accept',
  'Accept-Encoding',
  'Accept-Language',
  'Allow',
  'Require',
  'Supported',
  'Unsupported',
  'Event',
  'Allow-Events',
  'Subscription-State',
  'Proxy-Authenticate',
  'Proxy-Authentication-Info',
  'Proxy-Authorization',
  'Authorization',
  'WWW-Authenticate',
  'Authentication-Info',
  'Error-Info',
  'Warning',
  'Refer-To',
  'Referred-By',
  'Replaces',
  'Session-Expires',
  'Min-SE',
  'Path',
  'Service-Route',
  'Reason',
  'Security-Client',
  'Security-Server',
  'Security-Verify',
  'Privacy',
  'SIP-ETag',
  'SIP-If-Match',
  'MIME-Version',
  'Content-Type',
  'Content-Encoding',
  'Content-Language',
  'Content-Disposition',
  'Content-Length',
];

const EXTRA_CANONICAL: readonly string[] = [
  'Alert-Info',
  'Identity',
  'Identity-Info',
  'Reply-To',
  'P-Asserted-Identity',
  'P-Preferred-Identity',
  'Refer-Sub',
  'Target-Dialog',
  'Join',
  'Allow-Events',
];

const CANONICAL = new Map<string, string>();
const RANK = new Map<string, number>();
ORDERED.forEach((name, i) => {
  CANONICAL.set(name.toLowerCase(), name);
  RANK.set(name.toLowerCase(), i);
});
for (const name of EXTRA_CANONICAL) CANONICAL.set(name.toLowerCase(), name);
CANONICAL.set('etag', 'SIP-ETag');
CANONICAL.set('if-match', 'SIP-If-Match');

/** Lower-case long form: `v` → `via`, `Call-Id` → `call-id`. Use this to compare names. */
export function normalizeHeaderName(name: string): string {
  const lower = name.trim().toLowerCase();
  return COMPACT[lower] ?? lower;
}

/** Canonical spelling for known headers (`cseq` → `CSeq`); unknown names are returned as given. */
export function canonicalHeaderName(name: string): string {
  const norm = normalizeHeaderName(name);
  return CANONICAL.get(norm) ?? name.trim();
}

/** Serialisation rank of a header; unknown headers get +Infinity (they go last). */
export function headerRank(name: string): number {
  return RANK.get(normalizeHeaderName(name)) ?? Number.POSITIVE_INFINITY;
}

/** Headers whose value is a comma separated list (RFC 3261 §7.3.1) and may be split. */
const LIST_HEADERS = new Set([
  'via',
  'contact',
  'route',
  'record-route',
  'allow',
  'supported',
  'require',
  'proxy-require',
  'unsupported',
  'accept',
  'accept-encoding',
  'accept-language',
  'allow-events',
  'path',
  'service-route',
  'warning',
  'call-info',
  'alert-info',
  'error-info',
  'in-reply-to',
  'reason',
  'security-client',
  'security-server',
  'security-verify',
  'p-asserted-identity',
  'p-preferred-identity',
  'content-encoding',
  'content-language',
  'proxy-authorization-info',
]);

export function isListHeader(name: string): boolean {
  return LIST_HEADERS.has(normalizeHeaderName(name));
}
