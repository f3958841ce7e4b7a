/**
 * Fixed ports for peers that cannot use ephemeral ones (baresip, linphonec listen on a configured port):
 * taken from an unusual range no other test in the repo uses, probed free on UDP and TCP first.
 */
import dgram from 'node:dgram';
import net from 'node:net';

/** Where peers listen for SIP. The wire capture watches this range. */
export const PEER_PORT_RANGE: [number, number] = [52000, 52499];
/** Where peers put RTP (not captured: media is not the point and would keep the capture busy). */
export const MEDIA_PORT_RANGE: [number, number] = [52500, 52999];

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

/**
 * A block of `count` consecutive ports, each free on UDP and TCP (baresip also binds TLS on its SIP
 * port + 1, so callers ask for blocks).
 */
export async function allocatePorts(count: number, range: [number, number] = PEER_PORT_RANGE): Promise<number> {
  const [lo, hi] = range;
  const span = hi - lo - count;
  const start = lo + Math.floor(Math.random() * span);
  for (let i = 0; i < span; i += 1) {
    const base = lo + ((start - lo + i * 7) % span);
    let ok = true;
    for (let p = base; p < base + count && ok; p++) {
      if (handedOut.has(p) || !(await udpFree(p)) || !(await tcpFree(p))) ok = false;
    }
    if (!ok) continue;
    for (let p = base; p < base + count; p++) handedOut.add(p);
    return base;
  }
  throw new Error(`no ${count} free consecutive ports in ${lo}-${hi}`);
}
