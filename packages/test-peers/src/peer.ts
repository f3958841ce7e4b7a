/**
 * What a scenario needs from a SIP peer, whatever it is (baresip, linphonec, JsSIP in Node or Chromium):
 * place and end calls, re-INVITE, transfer, subscribe, and a log of normalised events to wait on.
 * Calls are answered automatically (that is how every peer is configured).
 */

export type PeerKind = 'baresip' | 'linphone' | 'jssip-node' | 'jssip-chromium';
export type PeerTransport = 'udp' | 'tcp' | 'ws';

/**
 * Normalised peer events:
 * - `incoming`: an INVITE arrived (before auto-answer); `ringing`: our INVITE got a 18x;
 * - `established`: a call is up (either direction); `closed`: a call ended (any reason);
 * - `notify`: a NOTIFY for our subscription arrived; `subscribed`/`unsubscribed`: subscription states;
 * - `transfer-ok` / `transfer-failed`: outcome reported for our REFER;
 * - `reinvite-failed`: our re-INVITE was rejected (e.g. 491).
 */
export type PeerEventType =
  | 'incoming'
  | 'ringing'
  | 'established'
  | 'closed'
  | 'notify'
  | 'subscribed'
  | 'unsubscribed'
  | 'transfer-ok'
  | 'transfer-failed'
  | 'reinvite-ok'
  | 'reinvite-failed';

export interface PeerEvent {
  type: PeerEventType;
  at: number;
  detail?: string;
}

export interface PeerCapabilities {
  /** Can send SUBSCRIBE on command. */
  subscribe: boolean;
  /** Can send REFER on command. */
  refer: boolean;
  /** Can send a re-INVITE on command. */
  reinvite: boolean;
  /** Speaks 100rel/PRACK. */
  prack: boolean;
  /** Reports received NOTIFYs as `notify` events (baresip does not, reliably). */
  notifyEvents: boolean;
  /** Why a capability is missing (for the README and test diagnostics). */
  notes: Partial<Record<'subscribe' | 'refer' | 'reinvite' | 'prack' | 'glare', string>>;
}

export interface Peer {
  readonly kind: PeerKind;
  readonly transport: PeerTransport;
  /** `baresip-udp`, `jssip-chromium-ws`, … */
  readonly label: string;
  readonly caps: PeerCapabilities;
  /** The URI an app uses to reach this peer (its Contact, or its registered Contact for WS clients). */
  readonly uri: string;
  /** Listening ports (for the wire capture); none for WebSocket clients. */
  readonly ports: number[];
  readonly log: EventLog;
  /** Place a call. */
  call(target: string): Promise<void>;
  /** End the current call: BYE when established, CANCEL while ringing. */
  hangup(): Promise<void>;
  /** Send a re-INVITE in the current call. */
  reinvite(): Promise<void>;
  /** Send REFER in the current call. */
  transfer(target: string): Promise<void>;
  /** SUBSCRIBE to presence at target. */
  subscribe(target: string): Promise<void>;
  /** End the subscription (SUBSCRIBE with Expires: 0). */
  unsubscribe(): Promise<void>;
  /** Make sure no call or subscription is left over from a previous scenario. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

/** An event log with waiters: `wait('established', mark)` resolves on the first such event after mark. */
export class EventLog {
  readonly events: PeerEvent[] = [];
  readonly #waiters = new Set<() => void>();

  push(type: PeerEventType, detail?: string): void {
    this.events.push({ type, at: Date.now(), ...(detail !== undefined ? { detail } : {}) });
    for (const w of [...this.#waiters]) w();
  }

  mark(): number {
    return this.events.length;
  }

  find(type: PeerEventType, since = 0): PeerEvent | undefined {
    return this.events.slice(since).find((e) => e.type === type);
  }

  wait(type: PeerEventType, since = 0, timeoutMs = 8000, who = 'peer'): Promise<PeerEvent> {
    const found = this.find(type, since);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const check = () => {
        const e = this.find(type, since);
        if (!e) return;
        cleanup();
        resolve(e);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `${who}: timed out after ${timeoutMs} ms waiting for '${type}' (events since mark: ${
              this.events
                .slice(since)
                .map((e) => e.type)
                .join(', ') || 'none'
            })`,
          ),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
    });
  }
}
