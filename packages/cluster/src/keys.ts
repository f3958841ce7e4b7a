/**
 * Redis key names shared by every node and by the edge (deploy/kamailio.cfg reads the first two with
 * ndb_redis: keep them in step).
 */
export const DEFAULT_PREFIX = 'conclave';

export interface ClusterKeys {
  /** String, value = id of the node holding the conference; PX = the claim's TTL. */
  conference(conferenceId: string): string;
  /** Hash { id, sip, http, startedAt }; PX = the node's heartbeat TTL. */
  node(nodeId: string): string;
  /** Sorted set of every claimed conference id, score = its claim's expiry (ms since epoch): the admin's index. */
  conferenceIndex(): string;
  /** Sorted set of every registered node id, score = its record's expiry. */
  nodeIndex(): string;
}

export function clusterKeys(prefix = DEFAULT_PREFIX): ClusterKeys {
  return {
    conference: (id) => `${prefix}:conference:${id}`,
    node: (id) => `${prefix}:node:${id}`,
    conferenceIndex: () => `${prefix}:conferences`,
    nodeIndex: () => `${prefix}:nodes`,
  };
}

/** Conference ids are URI user parts: keep them to characters that are safe in a key and in Kamailio's $rU. */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$/;

export function checkId(kind: string, id: string): void {
  if (typeof id !== 'string' || !ID_RE.test(id))
    throw new TypeError(`${kind} id ${JSON.stringify(id)} is not a safe identifier`);
}
