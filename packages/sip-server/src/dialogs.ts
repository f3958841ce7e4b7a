import type { AppConnection } from './control/app-connection.ts';
import type { Flow } from './transport/flow.ts';
import type { ServerTransaction } from './transactions.ts';

/**
 * Server-side dialog state (RFC 3261 §12) for a dialog an app is in. The server keeps it so that
 * in-dialog requests from the network reach the right app with the dialog id, and so that the app's
 * in-dialog requests (`sip:placeholder`) get the right Request-URI, tags, CSeq and route set.
 */
export class Dialog {
  /** drachtio dialog id: `<Call-ID>;from-tag=<From tag of the dialog-creating request>`. */
  readonly id: string;
  readonly role: 'uas' | 'uac';
  /** Method that created the dialog: INVITE or SUBSCRIBE (REFER subscriptions live in the INVITE dialog). */
  readonly method: string;
  readonly callId: string;
  readonly localTag: string;
  remoteTag: string;
  /** Full From/To header values for requests we send: local is our side (with our tag). */
  localHeader: string;
  remoteHeader: string;
  remoteTarget: string;
  routeSet: string[];
  localSeq: number;
  remoteSeq: number;
  state: 'early' | 'confirmed' = 'early';
  flow: Flow;
  app: AppConnection;
  /** UAS: the INVITE server transaction whose 2xx waits for an ACK. */
  pendingAck: ServerTransaction | undefined;
  /** UAC: CSeq and final status of the most recent INVITE we sent in this dialog. */
  lastInviteSeq = 0;
  lastInviteStatus = 0;
  /** UAC: the last ACK sent, re-sent when the peer retransmits its 2xx. */
  lastAck: { seq: number; bytes: Buffer; flow: Flow } | undefined;

  constructor(init: {
    id: string;
    role: 'uas' | 'uac';
    method: string;
    callId: string;
    localTag: string;
    remoteTag: string;
    localHeader: string;
    remoteHeader: string;
    remoteTarget: string;
    routeSet: string[];
    localSeq: number;
    remoteSeq: number;
    flow: Flow;
    app: AppConnection;
  }) {
    this.id = init.id;
    this.role = init.role;
    this.method = init.method;
    this.callId = init.callId;
    this.localTag = init.localTag;
    this.remoteTag = init.remoteTag;
    this.localHeader = init.localHeader;
    this.remoteHeader = init.remoteHeader;
    this.remoteTarget = init.remoteTarget;
    this.routeSet = init.routeSet;
    this.localSeq = init.localSeq;
    this.remoteSeq = init.remoteSeq;
    this.flow = init.flow;
    this.app = init.app;
    this.pendingAck = undefined;
    this.lastAck = undefined;
  }
}

export function dialogIdOf(callId: string, fromTag: string): string {
  return `${callId};from-tag=${fromTag}`;
}

/** Dialogs by drachtio id and by (Call-ID, local tag, remote tag) for matching network requests. */
export class DialogTable {
  readonly #byId = new Map<string, Dialog>();
  readonly #byTags = new Map<string, Dialog>();

  add(d: Dialog): void {
    this.#byId.set(d.id, d);
    this.#byTags.set(tagKey(d.callId, d.localTag, d.remoteTag), d);
  }

  /** Re-index after the remote tag changed (a different fork answered). */
  setRemoteTag(d: Dialog, remoteTag: string): void {
    this.#byTags.delete(tagKey(d.callId, d.localTag, d.remoteTag));
    d.remoteTag = remoteTag;
    this.#byTags.set(tagKey(d.callId, d.localTag, d.remoteTag), d);
  }

  get(id: string): Dialog | undefined {
    return this.#byId.get(id);
  }

  /** For a request from the network: local tag = To tag, remote tag = From tag. */
  match(callId: string, localTag: string, remoteTag: string): Dialog | undefined {
    return this.#byTags.get(tagKey(callId, localTag, remoteTag));
  }

  remove(d: Dialog): void {
    if (this.#byId.get(d.id) === d) this.#byId.delete(d.id);
    const k = tagKey(d.callId, d.localTag, d.remoteTag);
    if (this.#byTags.get(k) === d) this.#byTags.delete(k);
  }

  ownedBy(app: AppConnection): Dialog[] {
    return [...this.#byId.values()].filter((d) => d.app === app);
  }

  get size(): number {
    return this.#byId.size;
  }

  all(): Dialog[] {
    return [...this.#byId.values()];
  }
}

function tagKey(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}\u0000${localTag}\u0000${remoteTag}`;
}
