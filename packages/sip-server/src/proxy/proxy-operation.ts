import type { SipResponse } from '@conclave/sip-message';
import type { AppConnection } from '../control/app-connection.ts';
import type { ClientTransaction, ServerTransaction } from '../transactions.ts';

/** Options of an app `proxy` command (srf.proxyRequest), as on the wire. */
export interface ProxyOptions {
  recordRoute: boolean;
  fullResponse: boolean;
  followRedirects: boolean;
  simultaneous: boolean;
  /** ms without a provisional response before trying the next target; 0 = none. */
  provisionalTimeout: number;
  /** ms without a final response before cancelling and trying the next target; 0 = none. */
  finalTimeout: number;
}

/**
 * One stateful proxy operation (RFC 3261 §16): an incoming server transaction forked to one or
 * more targets, serially or in parallel, until a 2xx or the best final response goes upstream.
 * `app` is undefined for in-dialog requests relayed because we Record-Routed the dialog.
 */
export class ProxyOperation {
  readonly st: ServerTransaction;
  readonly app: AppConnection | undefined;
  readonly msgId: string;
  readonly opts: ProxyOptions;
  readonly pending: string[];
  readonly tried = new Set<string>();
  readonly branches = new Set<ClientTransaction>();
  best: SipResponse | undefined;
  answered = false;
  finished = false;
  templateHeaders: Array<{ name: string; value: string }> = [];

  constructor(
    st: ServerTransaction,
    app: AppConnection | undefined,
    msgId: string,
    opts: ProxyOptions,
    targets: string[],
  ) {
    this.st = st;
    this.app = app;
    this.msgId = msgId;
    this.opts = opts;
    this.pending = [...targets];
  }
}

/** `2s`, `1500ms`, `1500` → milliseconds; '' → 0. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$/i.exec(text ?? '');
  if (!m) return 0;
  const n = Number(m[1]);
  return (m[2] ?? 'ms').toLowerCase() === 's' ? n * 1000 : n;
}

/** RFC 3261 §16.7 step 6, simplified: 6xx first, then 3xx, 4xx, 5xx; the first of a class wins. */
export function betterResponse(a: SipResponse | undefined, b: SipResponse): boolean {
  if (!a) return true;
  const rank = (s: number) => (s >= 600 ? 0 : s >= 300 && s < 400 ? 1 : s >= 400 && s < 500 ? 2 : 3);
  return rank(b.status) < rank(a.status);
}
