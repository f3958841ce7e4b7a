/**
 * The application under test: a plain drachtio-srf (5.0.29, unmodified) back-to-back user agent.
 * Every incoming INVITE becomes an outgoing INVITE to the SIPp callee with the caller's SDP passed
 * through unchanged (no media); the callee's answer goes back to the caller; a BYE on either side
 * tears down the other. This is the textbook `srf.createB2BUA` app, as a Conclave service would use it.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Logger } from '../packages/log/src/index.ts';
import type SrfModule from '../packages/sip-server/node_modules/drachtio-srf/lib/@types/index.d.ts';

// drachtio-srf is a dependency of the sip-server package (bench/ is not a workspace package).
const requireFromSipServer = createRequire(join(import.meta.dirname, '..', 'packages', 'sip-server', 'package.json'));
const Srf = requireFromSipServer('drachtio-srf') as typeof SrfModule;
type Srf = InstanceType<typeof SrfModule>;
type SrfRequest = SrfModule.SrfRequest;
type SrfResponse = SrfModule.SrfResponse;

export interface B2buaAppOptions {
  control: { host: string; port: number; secret: string };
  /** Where every call goes, e.g. `sip:service@127.0.0.1:35063`. */
  calleeUri: string;
  log: Logger;
}

export interface B2buaStats {
  /** INVITEs received. */
  offered: number;
  /** Calls answered on both legs. */
  connected: number;
  /** Calls that failed before being connected. */
  failed: number;
  /** Calls connected and not yet torn down. */
  active: number;
}

export class B2buaApp {
  readonly #srf: Srf;
  readonly #opts: B2buaAppOptions;
  readonly #log: Logger;
  readonly #stats: B2buaStats = { offered: 0, connected: 0, failed: 0, active: 0 };
  #closed = false;

  private constructor(srf: Srf, opts: B2buaAppOptions) {
    this.#srf = srf;
    this.#opts = opts;
    this.#log = opts.log;
  }

  /** Connect to the SIP server's control port and start taking calls. */
  static start(opts: B2buaAppOptions): Promise<B2buaApp> {
    const srf = new Srf();
    const app = new B2buaApp(srf, opts);
    srf.invite((req, res) => app.#onInvite(req, res));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`drachtio-srf: no connect to ${opts.control.host}:${opts.control.port} within 10 s`)),
        10_000,
      );
      srf.on('connect', (err, hostport) => {
        clearTimeout(timer);
        if (err) {
          reject(new Error(`drachtio-srf connect failed: ${err.message}`));
          return;
        }
        opts.log.info('b2bua connected', { hostport });
        resolve(app);
      });
      // srf emits 'error' for socket problems; without a listener it would throw.
      srf.on('error', (err) => opts.log.warn('drachtio-srf error', { err }));
      // failures come as 'error' events (above); the connection is awaited by 'connect'
      void srf.connect({ host: opts.control.host, port: opts.control.port, secret: opts.control.secret });
    });
  }

  get stats(): B2buaStats {
    return { ...this.#stats };
  }

  #onInvite(req: SrfRequest, res: SrfResponse): void {
    this.#stats.offered++;
    this.#srf
      .createB2BUA(req, res, this.#opts.calleeUri, { localSdpB: req.body })
      .then(({ uas, uac }) => {
        this.#stats.connected++;
        this.#stats.active++;
        let ended = false;
        const end = (): void => {
          if (ended) return;
          ended = true;
          this.#stats.active--;
        };
        uas.on('destroy', () => {
          end();
          uac.destroy();
        });
        uac.on('destroy', () => {
          end();
          uas.destroy();
        });
      })
      .catch((err: unknown) => {
        this.#stats.failed++;
        if (this.#log.enabled('debug')) this.#log.debug('b2bua call failed', { err, callId: req.get('Call-ID') });
      });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#srf.disconnect();
  }
}
