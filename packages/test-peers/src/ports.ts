/**
 * Ports for peers that cannot bind port 0 and report it (baresip and linphonec listen on configured
 * ports, and baresip also binds the ports next to its SIP port: TLS on SIP + 1). Such a peer gets a
 * block of consecutive ports chosen at random in a range, probed free on UDP and TCP; probing is only
 * a hint (another process may bind a port between the probe and the peer's own bind), so the peer's
 * start is retried with another block when it reports "Address already in use" (PortInUseError).
 *
 * The default ranges lie below Linux's ephemeral range (32768-60999), where port-0 binds of this and
 * every other process land, and no other test or configuration of the repository uses them.
 */
import dgram from 'node:dgram';
import net from 'node:net';

export type PortRange = readonly [low: number, high: number];

/** SIP (and control) ports of peers. */
export const SIP_PEER_PORTS: PortRange = [21000, 22999];
/** RTP ports of peers. */
export const RTP_PEER_PORTS: PortRange = [23000, 24999];

/** A peer could not bind one of its ports: retry with another block. */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
}

/** What peers print (or errno names) when a bind fails because the port is taken. */
export function saysAddressInUse(output: string): boolean {
  return /Address already in use|EADDRINUSE/.test(output);
}

/** Ports this process has handed out and not released (several peers start at once). */
const handedOut = new Set<number>();

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A block of consecutive ports held for one peer until release(). */
export class PortBlock {
  readonly base: number;
  readonly count: number;
  #released = false;

  constructor(base: number, count: number) {
    this.base = base;
    this.count = count;
  }

  /** Port `i` of the block (0-based). */
  port(i: number): number {
    if (i < 0 || i >= this.count) throw new RangeError(`port ${i} outside a block of ${this.count}`);
    return this.base + i;
  }

  /** The last port of the block. */
  get last(): number {
    return this.base + this.count - 1;
  }

  get released(): boolean {
    return this.#released;
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    for (let p = this.base; p <= this.last; p++) handedOut.delete(p);
  }
}

/**
 * A block of `count` consecutive ports in `range`, starting on an even port (RTP/RTCP pairs), each free
 * on UDP and TCP when probed. Starts at a random place so that concurrent test processes rarely meet.
 */
export async function reservePortBlock(count: number, range: PortRange = SIP_PEER_PORTS): Promise<PortBlock> {
  const [lo, hi] = range;
  const first = lo + (lo % 2);
  const slots = Math.floor((hi - first + 1 - count) / 2) + 1;
  if (count < 1 || slots < 1) throw new RangeError(`no block of ${count} ports fits in ${lo}-${hi}`);
  const start = Math.floor(Math.random() * slots);
  for (let i = 0; i < slots; i++) {
    const base = first + 2 * ((start + i) % slots);
    let free = true;
    for (let p = base; p < base + count && free; p++) {
      free = !handedOut.has(p) && (await udpFree(p)) && (await tcpFree(p));
    }
    if (!free) continue;
    for (let p = base; p < base + count; p++) handedOut.add(p);
    return new PortBlock(base, count);
  }
  throw new Error(`no ${count} free consecutive ports in ${lo}-${hi}`);
}

export interface BlockRequest {
  count: number;
  range?: PortRange;
}

/**
 * Starts a peer on freshly reserved port blocks (one per request); when the start fails with
 * PortInUseError, releases the blocks and tries again with new ones, up to `attempts` times. Any other
 * error is final. On success the blocks stay reserved: the peer releases them when it closes.
 */
export async function startOnPortBlocks<T>(
  requests: BlockRequest[],
  start: (blocks: PortBlock[]) => Promise<T>,
  attempts = 8,
): Promise<T> {
  let last: PortInUseError | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const blocks: PortBlock[] = [];
    try {
      for (const r of requests) blocks.push(await reservePortBlock(r.count, r.range));
      return await start(blocks);
    } catch (err) {
      for (const b of blocks) b.release();
      if (!(err instanceof PortInUseError)) throw err;
      last = err;
    }
  }
  throw new Error(`gave up after ${attempts} port blocks, each had a port in use: ${last?.message}`);
}
