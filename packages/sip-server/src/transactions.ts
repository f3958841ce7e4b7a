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

export { ClientTransaction } from './client-transaction.ts';
