/**
 * Cluster mode (config `cluster`): this node behind a Kamailio edge that routes by what is in Redis.
 *
 * - Membership: the node's record { id, sip, http } stays in Redis while the node lives; the edge reads
 *   `sip` to reach the node hosting a conference, and a missing record means the node is gone.
 * - Claims: every conference the focus creates is claimed for this node as it is created (the claim is
 *   on the Redis connection before the factory INVITE's answer can be, so the edge finds it for the
 *   next request to the conference URI), renewed by a heartbeat, and released when the conference ends.
 *   A conference whose claim fails (Redis unreachable, id taken) or is lost later (expired during a
 *   partition, taken by another node) is ended: nobody could reach it through the edge any more.
 * - Calls to users (callees, dial-outs): users register at the edge, so the focus's own registrar is
 *   empty here. locateUser() reads the user's contacts from the edge's usrloc in Redis, only to choose
 *   the media to offer (a browser needs WebRTC, a phone plain RTP, and the focus offers first); the
 *   INVITE goes to the user's address of record through the edge, whose lookup() routes it.
 */
import type { Logger } from '@conclave/log';
import type { CallTarget, Focus } from '@conclave/focus';
import { AdminCluster } from '@conclave/admin-api';
import {
  ConferenceClaims,
  NodeMembership,
  connectRedis,
  getNode,
  listNodes,
  readUserLocations,
  type RedisTarget,
} from '@conclave/cluster';
import type { ClusterConfig } from './config.ts';

/** The conferences the focus hosts (its registry: 'created' and 'ended' events, end()). */
type HostedConferences = Focus['conferences']['registry'];
type HostedConference = ReturnType<HostedConferences['list']>[number];
type Redis = Awaited<ReturnType<typeof connectRedis>>;

export interface ClusterModeOptions {
  config: ClusterConfig;
  /** The SIP domain users register in (their usrloc rows are keyed by user and domain). */
  domain: string;
  conferences: HostedConferences;
  logger: Logger;
}

/** The claim id of a conference: its URI's user part (`conf-…`), which the edge matches on. */
export function claimIdOf(conferenceUri: string): string | undefined {
  return /^sips?:([^@;?]+)@/i.exec(conferenceUri)?.[1];
}

/** `redis://…` or `unix:<path>` as connectRedis takes it. */
export function redisTarget(spec: string): RedisTarget {
  return spec.startsWith('unix:') ? { path: spec.slice('unix:'.length) } : { url: spec };
}

export class ClusterMode {
  readonly nodeId: string;
  readonly #redis: Redis;
  #membership: NodeMembership | undefined;
  readonly #claims: ConferenceClaims;
  readonly #conferences: HostedConferences;
  readonly #log: Logger;
  readonly #domain: string;
  readonly #edgeProxy: string;
  /** claim id → registry id of the conferences this node hosts. */
  readonly #hosted = new Map<string, string>();
  readonly #onCreated = (conference: HostedConference) => void this.#claim(conference);
  readonly #onEnded = (conference: HostedConference) => void this.#release(conference);
  #closed = false;

  private constructor(options: ClusterModeOptions, redis: Redis) {
    this.nodeId = options.config.nodeId;
    this.#redis = redis;
    this.#conferences = options.conferences;
    this.#log = options.logger;
    this.#domain = options.domain;
    this.#edgeProxy =
      options.config.edgeProxy ?? `sip:${options.domain}:${options.config.edgeSipPort};transport=tcp;lr`;
    this.#claims = new ConferenceClaims({
      redis,
      nodeId: this.nodeId,
      ttlMs: options.config.claimTtlMs,
      log: options.logger,
    });
    this.#claims.on('lost', (claimId, owner) => this.#lost(claimId, owner));
    this.#claims.on('error', () => {
      // already logged by the claims; their TTL decides what happens if Redis stays away
    });
    this.#conferences.on('created', this.#onCreated);
    this.#conferences.on('ended', this.#onEnded);
  }

  /**
   * Connects to Redis and starts claiming the focus's conferences. Call it before the focus takes
   * requests, so that no conference is created unclaimed. Rejects when Redis cannot be reached.
   */
  static async start(options: ClusterModeOptions): Promise<ClusterMode> {
    const redis = await connectRedis(redisTarget(options.config.redis), options.logger);
    return new ClusterMode(options, redis);
  }

  /**
   * The admin API across the nodes (see packages/admin-api/src/cluster.ts): the other live nodes from
   * their records, a conference's node from its claim. `secret` is the cluster's shared secret.
   */
  adminCluster(secret: string): AdminCluster {
    return new AdminCluster({
      secret,
      peers: async () =>
        (await listNodes(this.#redis)).filter((n) => n.id !== this.nodeId).map(({ id, http }) => ({ id, http })),
      ownerOf: async (claimId) => {
        // not a conference id this cluster could have claimed (owner() refuses it): no node has it
        const owner = await this.#claims.owner(claimId).catch(() => null);
        if (owner === null || owner === this.nodeId) return undefined;
        const node = await getNode(this.#redis, owner);
        return node ? { id: node.id, http: node.http } : undefined;
      },
    });
  }

  /**
   * Where the focus calls `user`: its address of record through the edge, with the media its newest
   * registration needs; undefined (the focus answers 480) when the user has no live registration.
   */
  async locateUser(user: string): Promise<CallTarget | undefined> {
    const newest = (await readUserLocations(this.#redis, user, this.#domain))[0];
    if (!newest) return undefined;
    return { contact: `sip:${user}@${this.#domain}`, proxy: this.#edgeProxy, media: newest.media };
  }

  /** Announces this node (its record in Redis, kept alive until close()) once it serves everything. */
  async announce(node: { sip: string; http: string }): Promise<void> {
    if (this.#closed) throw new Error(`cluster node ${this.nodeId} is closed`);
    if (this.#membership) throw new Error(`cluster node ${this.nodeId} is already announced`);
    const membership = new NodeMembership({ redis: this.#redis, node: { id: this.nodeId, ...node }, log: this.#log });
    membership.on('error', () => {
      // already logged by the membership; the edge treats the node as gone once its record expires
    });
    this.#membership = membership;
    await membership.start();
    this.#log.info('cluster node announced', { nodeId: this.nodeId, ...node });
  }

  /**
   * Releases every claim and removes the node's record (the edge stops routing here at once), then
   * disconnects. Conferences still running are not ended here: the focus's own shutdown does that.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#conferences.off('created', this.#onCreated);
    this.#conferences.off('ended', this.#onEnded);
    await this.#claims.close();
    await this.#membership?.close();
    this.#redis.disconnect();
    this.#log.info('cluster node left', { nodeId: this.nodeId, releasedConferences: this.#hosted.size });
    this.#hosted.clear();
  }

  async #claim(conference: HostedConference): Promise<void> {
    const claimId = claimIdOf(conference.uri);
    if (!claimId) {
      this.#log.error('conference URI has no user part to claim: ending it', { conference: conference.uri });
      this.#conferences.end(conference.id, 'not claimable in the cluster');
      return;
    }
    this.#hosted.set(claimId, conference.id);
    let claimed: boolean;
    try {
      claimed = await this.#claims.claim(claimId);
    } catch (err) {
      this.#log.error('conference claim failed: ending the conference', {
        conference: conference.uri,
        error: (err as Error).message,
      });
      this.#hosted.delete(claimId);
      this.#conferences.end(conference.id, 'the cluster could not record this conference');
      return;
    }
    if (!claimed) {
      // Conference ids carry 128 random bits: another node holding the same one is practically impossible.
      this.#log.error('conference id already claimed by another node: ending the conference', {
        conference: conference.uri,
      });
      this.#hosted.delete(claimId);
      this.#conferences.end(conference.id, 'conference id already in use in the cluster');
      return;
    }
    if (!this.#hosted.has(claimId)) {
      // It ended while the claim was on its way: the release went first, so release again.
      await this.#releaseClaim(claimId, conference.uri);
      return;
    }
    this.#log.info('conference claimed', { conference: conference.uri, nodeId: this.nodeId });
  }

  async #release(conference: HostedConference): Promise<void> {
    const claimId = claimIdOf(conference.uri);
    if (!claimId || !this.#hosted.delete(claimId)) return;
    await this.#releaseClaim(claimId, conference.uri);
  }

  async #releaseClaim(claimId: string, uri: string): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#claims.release(claimId);
      this.#log.info('conference claim released', { conference: uri });
    } catch (err) {
      this.#log.warn('conference claim release failed (it expires with its TTL)', {
        conference: uri,
        error: (err as Error).message,
      });
    }
  }

  #lost(claimId: string, owner: string | null): void {
    const id = this.#hosted.get(claimId);
    if (id === undefined) return; // ended already
    this.#hosted.delete(claimId);
    this.#log.warn('conference claim lost: ending the conference (the edge no longer routes to it here)', {
      conference: claimId,
      nowOwnedBy: owner,
    });
    this.#conferences.end(id, owner ? `conference moved to node ${owner}` : 'conference lost by this node');
  }
}
