/** Resource limits that protect the server from floods and garbage. All have safe defaults. */
export interface LimitOptions {
  /** Largest SIP message accepted on any transport; bigger requests get 513 (UDP/WS) or a close (TCP). Default 65535. */
  maxMessageSize?: number;
  /** Most header fields in one message; more is a 400. Default 256. */
  maxHeaders?: number;
  /**
   * Incoming transactions still waiting for their final response, in total; beyond it new requests get
   * 503 + Retry-After. Default 10000. (Answered transactions that only wait out their RFC 3261 timers do
   * not count: at 2 per call for 32 s they would cap a busy server at ~156 calls/s.)
   */
  maxServerTransactions?: number;
  /** Every incoming transaction the server keeps, answered ones included (memory bound). Default 250000. */
  maxTrackedServerTransactions?: number;
  /** Concurrent unanswered incoming transactions from one source address (0 = unlimited). Default 200. */
  maxTransactionsPerSource?: number;
  /** Concurrent TCP/TLS/WS connections from one source address (0 = unlimited). Default 100. */
  maxConnectionsPerSource?: number;
  /** Idle TCP/TLS connections are closed after this many ms. Default 600000. */
  connectionIdleTimeout?: number;
}

export type Limits = Required<LimitOptions>;

export function resolveLimits(o: LimitOptions = {}): Limits {
  return {
    maxMessageSize: o.maxMessageSize ?? 65535,
    maxHeaders: o.maxHeaders ?? 256,
    maxServerTransactions: o.maxServerTransactions ?? 10000,
    maxTrackedServerTransactions: o.maxTrackedServerTransactions ?? 250000,
    maxTransactionsPerSource: o.maxTransactionsPerSource ?? 200,
    maxConnectionsPerSource: o.maxConnectionsPerSource ?? 100,
    connectionIdleTimeout: o.connectionIdleTimeout ?? 600000,
  };
}
