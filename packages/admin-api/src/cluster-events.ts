/**
 * Cluster mode's event stream: every node keeps one Server-Sent Events connection to each other live
 * node's admin API (`GET <base>/events` with the node key, answered with that node's own conferences
 * only) and relays what it hears to its own admins' streams, so that the console of any node sees every
 * node's conferences live. A node that stops answering or leaves the node list: its conferences end
 * (`conference-ended`) on the streams here; the peer list is re-read every `refreshMs`.
 */
import type { Logger } from '@conclave/log';
import type { AdminCluster, ClusterPeer } from './cluster.ts';
import type { AdminEventHub, AdminEventName } from './event-stream.ts';
import type { ConferenceDetail } from './representation.ts';

/** The name the relay acts under on the other nodes (read-only: it only watches). */
const RELAY_USER = 'cluster-relay';

export interface ClusterEventRelayOptions {
  cluster: AdminCluster;
  /** The admin API's base path (the same on every node). */
  basePath: string;
  logger: Logger;
  /** How often the node list is read again, default 2000 ms. */
  refreshMs?: number;
}

interface PeerFeed {
  peer: ClusterPeer;
  abort: AbortController;
  conferences: Map<string, ConferenceDetail>;
  closed: boolean;
}

export class ClusterEventRelay {
  readonly #options: ClusterEventRelayOptions;
  readonly #log: Logger;
  readonly #feeds = new Map<string, PeerFeed>();
  #hub: AdminEventHub | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: ClusterEventRelayOptions) {
    this.#options = options;
    this.#log = options.logger;
  }

  /** The other nodes' conferences as last heard (for the snapshot of a new stream). */
  conferences(): ConferenceDetail[] {
    return [...this.#feeds.values()].flatMap((f) => [...f.conferences.values()]);
  }

  start(hub: AdminEventHub): void {
    this.#hub = hub;
    const tick = () => {
      void this.#refresh().finally(() => {
        if (!this.#closed) this.#timer = setTimeout(tick, this.#options.refreshMs ?? 2000).unref();
      });
    };
    tick();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const feed of [...this.#feeds.values()]) this.#drop(feed, null);
  }

  async #refresh(): Promise<void> {
    let peers: ClusterPeer[];
    try {
      peers = await this.#options.cluster.peers();
    } catch (error) {
      this.#log.warn('admin event relay: the node list could not be read', { error });
      return;
    }
    if (this.#closed) return;
    const live = new Set(peers.map((p) => p.id));
    for (const feed of [...this.#feeds.values()])
      if (!live.has(feed.peer.id)) this.#drop(feed, 'node left the cluster');
    for (const peer of peers) if (!this.#feeds.has(peer.id)) this.#follow(peer);
  }

  #follow(peer: ClusterPeer): void {
    const feed: PeerFeed = { peer, abort: new AbortController(), conferences: new Map(), closed: false };
    this.#feeds.set(peer.id, feed);
    void this.#read(feed).then(
      () => this.#drop(feed, 'node unavailable'),
      (error: unknown) => {
        if (!feed.closed) this.#log.info('admin event relay: stream from a node ended', { node: peer.id, error });
        this.#drop(feed, 'node unavailable');
      },
    );
  }

  async #read(feed: PeerFeed): Promise<void> {
    const res = await fetch(new URL(`${this.#options.basePath}/events`, feed.peer.http), {
      headers: this.#options.cluster.headers(RELAY_USER),
      signal: feed.abort.signal,
    });
    if (res.status !== 200 || !res.body) throw new Error(`GET /events: ${res.status}`);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.+)$/m.exec(block)?.[1];
        const data = /^data: (.+)$/m.exec(block)?.[1];
        if (event && data) this.#onEvent(feed, event as AdminEventName, JSON.parse(data) as unknown);
      }
    }
  }

  #onEvent(feed: PeerFeed, event: AdminEventName, data: unknown): void {
    const hub = this.#hub;
    if (!hub || feed.closed) return;
    switch (event) {
      case 'snapshot': {
        const list = (data as { conferences: ConferenceDetail[] }).conferences;
        const now = new Set(list.map((c) => c.id));
        for (const [id, c] of feed.conferences)
          if (!now.has(id)) {
            feed.conferences.delete(id);
            hub.relay('conference-ended', { id, uri: c.uri, reason: null });
          }
        for (const c of list) {
          const known = feed.conferences.has(c.id);
          feed.conferences.set(c.id, c);
          hub.relay(known ? 'conference-updated' : 'conference-created', c);
        }
        return;
      }
      case 'conference-created':
      case 'conference-updated': {
        const c = data as ConferenceDetail;
        feed.conferences.set(c.id, c);
        hub.relay(event, c);
        return;
      }
      case 'conference-ended': {
        feed.conferences.delete((data as { id: string }).id);
        hub.relay(event, data);
        return;
      }
    }
  }

  /** Stops following a node; its conferences end on the streams here (reason null: relay closed). */
  #drop(feed: PeerFeed, reason: string | null): void {
    if (feed.closed) return;
    feed.closed = true;
    feed.abort.abort();
    if (this.#feeds.get(feed.peer.id) === feed) this.#feeds.delete(feed.peer.id);
    if (reason === null) return;
    for (const [id, c] of feed.conferences) this.#hub?.relay('conference-ended', { id, uri: c.uri, reason });
    feed.conferences.clear();
  }
}
