import type { SipRequest } from '@conclave/sip-message';
import type { AppConnection } from './control/app-connection.ts';
import { newUuid } from './ids.ts';
import type { ProxyOperation } from './proxy/proxy-operation.ts';
import type { Flow } from './transport/flow.ts';

/**
 * RFC 3261 §17.2 server transaction (with RFC 6026's Accepted state for INVITE 2xx). The timers are
 * driven by the agent; this object holds the state and what is needed to absorb retransmissions.
 */
export class ServerTransaction {
  readonly id = newUuid();
  readonly key: string;
  readonly request: SipRequest;
  readonly method: string;
  readonly flow: Flow;
  /** The app handling the request; set late when it is routed over an outbound connection. */
  app: AppConnection | undefined;
  state: 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated' = 'proceeding';
  toTag: string | undefined;
  lastResponse: Buffer | undefined;
  lastStatus = 0;
  /** Dialog the request was received in (in-dialog requests). */
  dialogId: string | undefined;
  /** Set once the ACK for a 2xx was forwarded; later copies are absorbed. */
  acked = false;
  /** RFC 3262: last RSeq used for reliable provisional responses, and the one awaiting PRACK. */
  rseq = 0;
  awaitingPrack: { rseq: number; timers: Array<NodeJS.Timeout | undefined> } | undefined;
  /** Set when an app handed this request to the proxy (or we relay it along our Record-Route). */
  proxy: ProxyOperation | undefined;
  timers: Array<NodeJS.Timeout | undefined> = [];

  constructor(key: string, request: SipRequest, flow: Flow, app: AppConnection | undefined) {
    this.key = key;
    this.request = request;
    this.method = request.method;
    this.flow = flow;
    this.app = app;
    this.proxy = undefined;
  }
}

/** RFC 3261 §17.1 client transaction for a request an app (or the server itself) sent. */
export class ClientTransaction {
  readonly id = newUuid();
  readonly key: string;
  readonly request: SipRequest;
  readonly bytes: Buffer;
  readonly method: string;
  readonly flow: Flow;
  /** Undefined for server-originated requests (the BYE after an ACK timeout). */
  readonly app: AppConnection | undefined;
  /** Dialog the request was sent in, for the dialog id field of forwarded responses. */
  readonly dialogId: string | undefined;
  state: 'calling' | 'trying' | 'proceeding' | 'completed' | 'accepted' | 'terminated';
  provisionalReceived = false;
  /** To tags of 2xx responses already forwarded (absorb retransmissions, pass new forks). */
  readonly acceptedTags = new Set<string>();
  /** Transaction-level ACK for a non-2xx final response, re-sent on retransmissions. */
  ackBytes: Buffer | undefined;
  /** A CANCEL waiting for the first provisional response (RFC 3261 §9.1). */
  pendingCancel: (() => void) | undefined;
  cancelled = false;
  /** Set when this request is a branch of a proxy operation: responses go upstream, not to an app. */
  proxy: ProxyOperation | undefined;
  /** Where the branch was sent (proxy result reporting). */
  target = '';
  /** Proxy provisional/final timeouts: separate from the RFC 3261 timers, which state changes clear. */
  proxyTimers: Array<NodeJS.Timeout | undefined> = [];
  timers: Array<NodeJS.Timeout | undefined> = [];

  constructor(init: { key: string; request: SipRequest; bytes: Buffer; flow: Flow; app: AppConnection | undefined; dialogId: string | undefined }) {
    this.key = init.key;
    this.request = init.request;
    this.bytes = init.bytes;
    this.method = init.request.method;
    this.flow = init.flow;
    this.app = init.app;
    this.dialogId = init.dialogId;
    this.state = this.method === 'INVITE' ? 'calling' : 'trying';
    this.proxy = undefined;
  }
}
