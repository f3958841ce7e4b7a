/** Live counts of the embedded SIP server, for /metrics and leak checks. Plain numbers, cheap to read. */

/** Connection-oriented flows (UDP has no connections: each peer address is just a destination). */
export interface SipConnectionCounts {
  tcp: number;
  tls: number;
  ws: number;
  wss: number;
}

export interface SipServerStats {
  /** Live transactions, server + client, including those only waiting out their RFC 3261 timers. */
  transactions: number;
  serverTransactions: number;
  clientTransactions: number;
  /** INVITEs without a final response yet: incoming ones the app has not answered, plus outgoing ones. */
  pendingInvites: number;
  /** Incoming requests of any method without a final response yet (what the overload limit counts). */
  pendingRequests: number;
  /** Source addresses with unanswered requests (the per-source limit's table). */
  pendingSources: number;
  /** Dialogs (INVITE, SUBSCRIBE and out-of-dialog REFER; early or confirmed) the server keeps for its apps. */
  dialogs: number;
  /** Proxy operations (srf.proxyRequest, Record-Route relays) still forwarding. */
  proxyOperations: number;
  /** Open connections by transport. */
  connections: SipConnectionCounts;
  /** Connections in total (the sum of `connections`). */
  flows: number;
  /** Authenticated and not yet authenticated drachtio apps on the control port. */
  apps: number;
  /** Timers armed (retransmissions, timeouts); 0 when nothing is in flight. */
  timers: number;
}

/** The agent's share of the stats (the server adds its connections). */
export type AgentStats = Omit<SipServerStats, 'connections' | 'flows'>;
