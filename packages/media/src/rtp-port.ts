/**
 * The UDP port pair a phone talks to: RTP on an even port of the MediaService RTC range (the range
 * the firewall opens), RTCP on the next one (used only by phones without rtcp-mux). We receive on and
 * send from the RTP port, so a phone sees symmetric RTP (RFC 4961).
 */
import dgram from 'node:dgram';

const MAX_ATTEMPTS = 64;

function bindSocket(ip: string, port: number): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: ip.includes(':') ? 'udp6' : 'udp4' });
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind(port, ip, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

export class RtpPortPair {
  readonly rtp: dgram.Socket;
  readonly rtcp: dgram.Socket;
  readonly ip: string;
  readonly port: number;
  #closed = false;

  private constructor(ip: string, rtp: dgram.Socket, rtcp: dgram.Socket) {
    this.ip = ip;
    this.rtp = rtp;
    this.rtcp = rtcp;
    this.port = rtp.address().port;
  }

  /** Binds an even/odd pair at a random place in [minPort, maxPort]. */
  static async bind(ip: string, minPort: number, maxPort: number): Promise<RtpPortPair> {
    const first = minPort % 2 === 0 ? minPort : minPort + 1;
    const pairs = Math.floor((maxPort - first - 1) / 2) + 1;
    if (pairs < 1) throw new RangeError(`RTC port range ${minPort}-${maxPort} has no even/odd port pair`);
    const start = Math.floor(Math.random() * pairs);
    let lastError: unknown;
    for (let i = 0; i < Math.min(pairs, MAX_ATTEMPTS); i++) {
      const port = first + ((start + i) % pairs) * 2;
      let rtp: dgram.Socket | undefined;
      try {
        rtp = await bindSocket(ip, port);
        const rtcp = await bindSocket(ip, port + 1);
        return new RtpPortPair(ip, rtp, rtcp);
      } catch (err) {
        rtp?.close();
        lastError = err;
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') break;
      }
    }
    throw new Error(
      `no free RTP port pair in ${minPort}-${maxPort} on ${ip}: ${(lastError as Error)?.message ?? 'range exhausted'}`,
    );
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.rtp.close();
    this.rtcp.close();
  }
}

/** A loopback socket on a kernel-chosen port: the relay's side towards mediasoup and GStreamer. */
export function bindLoopback(): Promise<dgram.Socket> {
  return bindSocket('127.0.0.1', 0);
}
