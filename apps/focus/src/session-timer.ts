/**
 * RFC 4028 session timers for the dialogs the focus holds. A dialog whose peer vanished silently
 * (its media on hold, so no media timeout can see it) is found when a refresh fails, or when the
 * peer, being the refresher, stops refreshing.
 *
 * Negotiation is pure (headers in, agreement and headers out); SessionTimer runs the clock.
 */
import type { Logger } from '@conclave/log';

export interface SessionTimerSettings {
  /** Session interval the focus asks for or grants, seconds (RFC 4028 recommends 1800). */
  expires: number;
  /** The smallest interval the focus accepts (Min-SE), seconds; at least 90 (RFC 4028 §4). */
  minSE: number;
}

export const DEFAULT_SESSION_TIMER: SessionTimerSettings = { expires: 600, minSE: 90 };

/** Who sends the refreshes: the focus ('local') or the peer ('remote'). */
export type Refresher = 'local' | 'remote';

export interface SessionTimerAgreement {
  interval: number;
  refresher: Refresher;
  /** The peer said `Supported: timer` (then responses carry `Require: timer`). */
  peerSupports: boolean;
}

/** Read-only access to a request's or response's headers (drachtio-srf's req/res have `get`). */
export interface HeaderSource {
  get(name: string): string | undefined;
}

interface SessionExpires {
  delta: number;
  refresher: 'uac' | 'uas' | undefined;
}

export function parseSessionExpires(value: string | undefined): SessionExpires | undefined {
  if (!value) return undefined;
  const m = /^\s*(\d+)\s*((?:;[^;]*)*)$/.exec(value);
  if (!m) return undefined;
  const refresher = /;\s*refresher\s*=\s*(uac|uas)\b/i.exec(m[2] ?? '')?.[1]?.toLowerCase() as
    'uac' | 'uas' | undefined;
  return { delta: parseInt(m[1]!, 10), refresher };
}

function header(src: HeaderSource, long: string, compact?: string): string | undefined {
  const v = src.get(long);
  if (v !== undefined && v !== '') return v;
  return compact ? src.get(compact) : undefined;
}

function supportsTimer(src: HeaderSource): boolean {
  const list = `${header(src, 'Supported', 'k') ?? ''},${src.get('Require') ?? ''}`;
  return list.split(',').some((t) => t.trim().toLowerCase() === 'timer');
}

export type UasNegotiation =
  | { ok: true; agreement: SessionTimerAgreement; headers: Record<string, string> }
  | { ok: false; status: 422; headers: Record<string, string> };

/**
 * The focus answering an initial INVITE (RFC 4028 §9). A Session-Expires below our Min-SE gets 422;
 * otherwise the interval is the request's (capped at ours, never under either Min-SE), and the peer
 * refreshes when it supports timers, else the focus does.
 */
export function negotiateAsUas(req: HeaderSource, settings: SessionTimerSettings): UasNegotiation {
  const requested = parseSessionExpires(header(req, 'Session-Expires', 'x'));
  const theirMin = parseInt(req.get('Min-SE') ?? '', 10);
  if (requested && requested.delta < settings.minSE) {
    return { ok: false, status: 422, headers: { 'Min-SE': String(settings.minSE) } };
  }
  const floor = Math.max(settings.minSE, Number.isFinite(theirMin) ? theirMin : 0);
  const interval = Math.max(floor, Math.min(requested?.delta ?? settings.expires, settings.expires));
  const peerSupports = supportsTimer(req);
  const refresherParam = requested?.refresher ?? (peerSupports ? 'uac' : 'uas');
  const headers: Record<string, string> = { 'Session-Expires': `${interval};refresher=${refresherParam}` };
  if (peerSupports) headers['Require'] = 'timer';
  return {
    ok: true,
    agreement: { interval, refresher: refresherParam === 'uac' ? 'remote' : 'local', peerSupports },
    headers,
  };
}

/** Headers of an initial INVITE the focus sends (RFC 4028 §7.1); `interval` rises after a 422. */
export function uacRequestHeaders(settings: SessionTimerSettings, interval = settings.expires): Record<string, string> {
  return { Supported: 'timer', 'Session-Expires': String(interval), 'Min-SE': String(settings.minSE) };
}

/** After a 422: the interval to retry with (the peer's Min-SE), or undefined when it makes no sense. */
export function intervalAfter422(res: HeaderSource, settings: SessionTimerSettings): number | undefined {
  const min = parseInt(res.get('Min-SE') ?? '', 10);
  return Number.isFinite(min) && min >= settings.minSE && min <= 86_400 ? min : undefined;
}

/**
 * The focus's INVITE was answered 2xx (RFC 4028 §7.2): a Session-Expires in the answer is the
 * agreement (refresher=uac means the focus); none means the peer does not do session timers.
 */
export function agreementFromAnswer(res: HeaderSource): SessionTimerAgreement | undefined {
  const se = parseSessionExpires(header(res, 'Session-Expires', 'x'));
  if (!se || se.delta <= 0) return undefined;
  return { interval: se.delta, refresher: se.refresher === 'uas' ? 'remote' : 'local', peerSupports: true };
}

/** Headers a refresh (or the answer to the peer's refresh) carries, naming the same refresher. */
export function refreshHeaders(agreement: SessionTimerAgreement, role: 'uac' | 'uas'): Record<string, string> {
  // The focus is UAC of this dialog when it sent the initial INVITE; refresher names the role.
  const localName = role;
  const remoteName = role === 'uac' ? 'uas' : 'uac';
  const who = agreement.refresher === 'local' ? localName : remoteName;
  const h: Record<string, string> = { 'Session-Expires': `${agreement.interval};refresher=${who}` };
  if (agreement.peerSupports) h['Supported'] = 'timer';
  return h;
}

export interface SessionTimerHooks {
  /** Send a refresh (re-INVITE or UPDATE); resolve when answered 2xx, reject otherwise. */
  refresh(): Promise<void>;
  /** The session expired: no refresh arrived, or ours failed. */
  expired(why: string): void;
}

/**
 * Runs one dialog's session timer. The focus refreshes at half the interval (RFC 4028 §10); when the
 * peer refreshes, the session expires at interval − min(32, interval/3) without one (§10).
 */
export class SessionTimer {
  readonly agreement: SessionTimerAgreement;
  readonly #hooks: SessionTimerHooks;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(agreement: SessionTimerAgreement, hooks: SessionTimerHooks, logger: Logger) {
    this.agreement = agreement;
    this.#hooks = hooks;
    this.#log = logger;
    this.#arm();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** A refresh went through (sent by either side): the interval starts again. */
  refreshed(): void {
    if (!this.#closed) this.#arm();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  #arm(): void {
    clearTimeout(this.#timer);
    const { interval, refresher } = this.agreement;
    if (refresher === 'local') {
      this.#timer = setTimeout(() => void this.#refresh(), (interval * 1000) / 2);
    } else {
      const ms = (interval - Math.min(32, interval / 3)) * 1000;
      this.#timer = setTimeout(() => {
        if (this.#closed) return;
        this.#closed = true;
        this.#log.warn('session expired: the peer did not refresh', { interval });
        this.#hooks.expired('no session refresh from the peer');
      }, ms);
    }
    this.#timer.unref?.();
  }

  async #refresh(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#hooks.refresh();
      this.refreshed();
    } catch (err) {
      if (this.#closed) return;
      this.#closed = true;
      this.#log.warn('session refresh failed', { error: (err as Error).message });
      this.#hooks.expired(`session refresh failed: ${(err as Error).message}`);
    }
  }
}
