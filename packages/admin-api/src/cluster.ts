/**
 * The admin API across the nodes of a cluster: GET /conferences on any node lists the conferences of
 * every node, and a request for a conference hosted elsewhere (its detail, mute, kick, lock, end...) is
 * forwarded to the node that hosts it and answered with that node's answer.
 *
 * Authentication between nodes: the node the admin talks to authenticates them as usual (their bearer
 * token or Basic credentials never leave it); the forwarded request carries a node key — derived from a
 * secret all nodes share — and the admin's user name. A node accepts that pair only with the right key,
 * and never forwards a forwarded request again (no loops). The nodes know nothing of each other's
 * sessions: a token stays valid only on the node that issued it.
 *
 * Where the other nodes are (and which one holds a conference's claim) comes from outside (Redis in the
 * conclave app): this package only speaks HTTP.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Another node's admin API: `http` is its origin (`http://host:port`); the base path is the same. */
export interface ClusterPeer {
  id: string;
  http: string;
}

export interface AdminClusterOptions {
  /** The cluster's shared secret (the conclave app uses cluster.nonceSecret); the key is derived from it. */
  secret: string;
  /** The other live nodes. */
  peers(): Promise<ClusterPeer[]>;
  /** The node holding the claim of a conference (its URI's user part), when it is another node. */
  ownerOf(claimId: string): Promise<ClusterPeer | undefined>;
  /** Per request to another node, default 3000 ms. */
  timeoutMs?: number;
}

/** The node key (hex), sent with every forwarded request. */
export const NODE_KEY_HEADER = 'x-conclave-node-key';
/** The admin on whose behalf a node forwards (already authenticated by that node). */
export const NODE_ADMIN_HEADER = 'x-conclave-admin';

export class AdminCluster {
  readonly #key: Buffer;
  readonly #options: AdminClusterOptions;

  constructor(options: AdminClusterOptions) {
    if (options.secret.length < 16) throw new Error('the cluster admin secret must be at least 16 characters');
    this.#options = options;
    this.#key = createHmac('sha256', options.secret).update('conclave admin forwarding').digest();
  }

  get timeoutMs(): number {
    return this.#options.timeoutMs ?? 3000;
  }

  /** True when the header value is this cluster's node key. */
  verify(header: string | undefined): boolean {
    if (header === undefined || !/^[0-9a-f]{64}$/.test(header)) return false;
    return timingSafeEqual(Buffer.from(header, 'hex'), this.#key);
  }

  /** Headers of a request forwarded on behalf of `user`. */
  headers(user: string): Record<string, string> {
    return { [NODE_KEY_HEADER]: this.#key.toString('hex'), [NODE_ADMIN_HEADER]: encodeURIComponent(user) };
  }

  peers(): Promise<ClusterPeer[]> {
    return this.#options.peers();
  }

  ownerOf(claimId: string): Promise<ClusterPeer | undefined> {
    return this.#options.ownerOf(claimId);
  }
}

/** The claim id of a conference URI (its user part, `conf-…`), as the edge routes on it. */
export function claimIdOfUri(uri: string): string | undefined {
  return /^sips?:([^@;?]+)@/i.exec(uri)?.[1];
}
