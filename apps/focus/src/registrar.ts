/**
 * The registrar (RFC 3261 §10): who is reachable where. Bindings live in memory and expire on their
 * own; a user may have several (one per page or phone). Calls ring the newest binding (see README).
 */
import { EnhancedEventEmitter } from '@conclave/events';
import type { Logger } from '@conclave/log';
import { authenticatedUser } from './sip-auth.ts';
import { parseNameAddr } from './sip-uri.ts';
import { reply, type SrfRequest, type SrfResponse } from './srf.ts';

export interface Binding {
  user: string;
  /** The Contact URI to send requests to (for WebSocket clients a `.invalid` host the SIP server maps to the flow). */
  contact: string;
  expiresAt: number;
  /** When this contact first registered; the newest binding is the one calls ring. */
  createdAt: number;
  callId: string;
  userAgent: string | undefined;
  source: string;
  transport: string;
  /**
   * How the focus must talk media to it when it calls: 'webrtc' for browsers (contact over WebSocket,
   * or the +sip.ice feature tag of RFC 5768), 'plain' for plain-RTP phones.
   */
  media: 'webrtc' | 'plain';
}

export interface RegistrarOptions {
  logger: Logger;
  minExpires?: number;
  maxExpires?: number;
  defaultExpires?: number;
  now?: () => number;
}

type RegistrarEvents = {
  registered: [binding: Binding];
  unregistered: [binding: Binding, why: 'removed' | 'expired'];
};

export class Registrar extends EnhancedEventEmitter<RegistrarEvents> {
  readonly #bindings = new Map<string, Map<string, Binding>>();
  readonly #log: Logger;
  readonly #min: number;
  readonly #max: number;
  readonly #default: number;
  readonly #now: () => number;
  readonly #sweeper: NodeJS.Timeout;

  constructor(options: RegistrarOptions) {
    super(options.logger);
    this.#log = options.logger;
    this.#min = options.minExpires ?? 60;
    this.#max = options.maxExpires ?? 3600;
    this.#default = options.defaultExpires ?? 600;
    this.#now = options.now ?? Date.now;
    this.#sweeper = setInterval(() => this.#sweep(), 5000).unref();
  }

  /** The binding a call to `user` should ring, if the user is reachable. */
  lookup(user: string): Binding | undefined {
    this.#sweep();
    const all = [...(this.#bindings.get(user)?.values() ?? [])];
    return all.sort((a, b) => b.createdAt - a.createdAt)[0];
  }

  /** Live bindings of every user (for /metrics). */
  get bindingCount(): number {
    let n = 0;
    for (const map of this.#bindings.values()) n += map.size;
    return n;
  }

  bindingsOf(user: string): Binding[] {
    this.#sweep();
    return [...(this.#bindings.get(user)?.values() ?? [])];
  }

  isRegistered(user: string): boolean {
    return this.lookup(user) !== undefined;
  }

  /** Handles an authenticated REGISTER. */
  handle(req: SrfRequest, res: SrfResponse): void {
    const user = authenticatedUser(req);
    const callId = req.get('Call-ID');
    const log = this.#log.child({ callId });
    const to = parseNameAddr(req.get('To'));
    if (!user || !to || to.user !== user) {
      log.warn('REGISTER for another user refused', { user, to: req.get('To') });
      reply(res, 403, 'Forbidden - may only register your own address');
      return;
    }
    const contactHeader = req.get('Contact');
    const expiresHeader = req.has('Expires') ? parseInt(req.get('Expires'), 10) : undefined;
    const now = this.#now();

    if (contactHeader && contactHeader.trim() === '*') {
      if (expiresHeader !== 0) {
        reply(res, 400, 'Bad Request - Contact * requires Expires: 0');
        return;
      }
      for (const b of this.bindingsOf(user)) this.#remove(b, 'removed');
      reply(res, 200, undefined, { headers: { Expires: '0' } });
      return;
    }

    const contacts = contactHeader ? splitContacts(contactHeader) : [];
    for (const c of contacts) {
      const requested = c.expires ?? expiresHeader ?? this.#default;
      if (!Number.isFinite(requested) || requested < 0) {
        reply(res, 400, 'Bad Request - invalid expires');
        return;
      }
      if (requested > 0 && requested < this.#min) {
        reply(res, 423, 'Interval Too Brief', { headers: { 'Min-Expires': String(this.#min) } });
        return;
      }
    }
    for (const c of contacts) {
      const requested = Math.min(c.expires ?? expiresHeader ?? this.#default, this.#max);
      const existing = this.#bindings.get(user)?.get(c.uri);
      if (requested === 0) {
        if (existing) this.#remove(existing, 'removed');
        continue;
      }
      const binding: Binding = {
        user,
        contact: c.uri,
        expiresAt: now + requested * 1000,
        createdAt: existing?.createdAt ?? now,
        callId,
        userAgent: req.get('User-Agent') || undefined,
        source: `${req.source_address}:${req.source_port}`,
        transport: req.protocol,
        media: c.webrtc ? 'webrtc' : 'plain',
      };
      let map = this.#bindings.get(user);
      if (!map) this.#bindings.set(user, (map = new Map<string, Binding>()));
      map.set(c.uri, binding);
      if (!existing) {
        log.info('registered', { user, contact: c.uri, expires: requested, source: binding.source });
        this.safeEmit('registered', binding);
      }
    }
    const current = this.bindingsOf(user);
    const headers: Record<string, string> = {};
    if (current.length > 0) {
      headers['Contact'] = current
        .map((b) => `<${b.contact}>;expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}`)
        .join(', ');
    }
    const mine = contacts[0] && current.find((b) => b.contact === contacts[0]!.uri);
    headers['Expires'] = String(mine ? Math.round((mine.expiresAt - now) / 1000) : 0);
    reply(res, 200, undefined, { headers });
  }

  close(): void {
    clearInterval(this.#sweeper);
    this.#bindings.clear();
  }

  #remove(binding: Binding, why: 'removed' | 'expired'): void {
    const map = this.#bindings.get(binding.user);
    if (!map?.delete(binding.contact)) return;
    if (map.size === 0) this.#bindings.delete(binding.user);
    this.#log.info(why === 'expired' ? 'registration expired' : 'unregistered', {
      user: binding.user,
      contact: binding.contact,
    });
    this.safeEmit('unregistered', binding, why);
  }

  #sweep(): void {
    const now = this.#now();
    for (const map of this.#bindings.values()) {
      for (const b of map.values()) if (b.expiresAt <= now) this.#remove(b, 'expired');
    }
  }
}

/** Splits a Contact header value into URIs with their expires parameter. */
export function splitContacts(value: string): Array<{ uri: string; expires: number | undefined; webrtc: boolean }> {
  const out: Array<{ uri: string; expires: number | undefined; webrtc: boolean }> = [];
  // Commas inside <…> or quotes do not separate contacts.
  let depth = 0;
  let quoted = false;
  let start = 0;
  const parts: string[] = [];
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (ch === '"' && value[i - 1] !== '\\') quoted = !quoted;
    else if (!quoted && ch === '<') depth++;
    else if (!quoted && ch === '>') depth--;
    else if (!quoted && depth === 0 && ch === ',') {
      parts.push(value.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(value.slice(start));
  for (const part of parts) {
    const addr = parseNameAddr(part);
    if (!addr) continue;
    const params = part.includes('>') ? part.slice(part.indexOf('>') + 1) : '';
    const m = /;\s*expires\s*=\s*(\d+)/i.exec(params);
    const webrtc = /;transport=wss?\b/i.test(addr.uri) || /;\s*\+sip\.ice\b/i.test(params);
    out.push({ uri: addr.uri, expires: m ? parseInt(m[1]!, 10) : undefined, webrtc });
  }
  return out;
}
