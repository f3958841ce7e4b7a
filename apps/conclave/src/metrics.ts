/**
 * /metrics in the Prometheus text format (prom-client): the live counts of every layer — conferences,
 * participants, calls and subscriptions of the focus; transactions, dialogs and connections of the
 * embedded SIP server; workers, routers, transports, producers, consumers and mixer processes of
 * mediasoup — read at scrape time, plus the process's own default metrics.
 *
 * Who may read it: requests from loopback, and admins (HTTP Basic) from anywhere else.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '@conclave/log';
import type { AdminAuthenticator } from '@conclave/admin-api';
import type { FocusStats } from '@conclave/focus';
import type { MediaStats } from '@conclave/media';
import type { SipServerStats } from '@conclave/sip-server';

export interface MetricsSources {
  focus: () => FocusStats;
  media: () => MediaStats;
  /** Absent when the focus runs on an external drachtio-server. */
  sip?: (() => SipServerStats) | undefined;
}

export interface MetricsOptions {
  sources: MetricsSources;
  auth: AdminAuthenticator;
  logger: Logger;
}

/** A gauge whose value is read from `read()` at every scrape. */
function liveGauge(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

/** A gauge with one label whose values are read at every scrape. */
function liveLabelledGauge(
  registry: Registry,
  name: string,
  help: string,
  label: string,
  read: () => Record<string, number>,
): void {
  new Gauge({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      for (const [value, n] of Object.entries(read())) this.set({ [label]: value }, n);
    },
  });
}

export class Metrics {
  readonly registry = new Registry();
  readonly #auth: AdminAuthenticator;
  readonly #log: Logger;

  constructor(options: MetricsOptions) {
    this.#auth = options.auth;
    this.#log = options.logger;
    const r = this.registry;
    const { focus, media, sip } = options.sources;
    collectDefaultMetrics({ register: r, prefix: 'conclave_process_' });

    liveGauge(r, 'conclave_conferences', 'Live conferences.', () => focus().conferences);
    liveGauge(
      r,
      'conclave_participants',
      'Participants of live conferences (connected or joining).',
      () => focus().participants,
    );
    liveGauge(r, 'conclave_conference_members', 'Conference members holding a media dialog.', () => focus().members);
    liveGauge(r, 'conclave_calls', 'Two-party calls through the focus.', () => focus().calls);
    liveGauge(r, 'conclave_subscriptions', 'Conference event package subscriptions.', () => focus().subscriptions);
    liveGauge(r, 'conclave_registrations', 'Registered contacts (bindings).', () => focus().registrations);

    if (sip) {
      liveLabelledGauge(r, 'conclave_sip_transactions', 'Live SIP transactions of the embedded server.', 'kind', () => {
        const s = sip();
        return { server: s.serverTransactions, client: s.clientTransactions };
      });
      liveGauge(r, 'conclave_sip_dialogs', 'SIP dialogs the embedded server keeps.', () => sip().dialogs);
      liveGauge(r, 'conclave_sip_pending_invites', 'INVITEs without a final response.', () => sip().pendingInvites);
      liveGauge(r, 'conclave_sip_proxy_operations', 'Proxy operations still forwarding.', () => sip().proxyOperations);
      liveLabelledGauge(r, 'conclave_sip_connections', 'Connection-oriented SIP flows.', 'transport', () => ({
        ...sip().connections,
      }));
    }

    liveGauge(r, 'conclave_media_workers', 'mediasoup worker processes alive.', () => media().workers);
    liveGauge(r, 'conclave_media_routers', 'mediasoup routers.', () => media().routers);
    liveGauge(r, 'conclave_media_transports', 'mediasoup transports (WebRTC, plain, pipe).', () => media().transports);
    liveGauge(r, 'conclave_media_producers', 'mediasoup producers.', () => media().producers);
    liveGauge(r, 'conclave_media_consumers', 'mediasoup consumers.', () => media().consumers);
    liveGauge(r, 'conclave_media_rooms', 'Media rooms (calls and conferences).', () => media().rooms);
    liveGauge(r, 'conclave_media_legs', 'Media legs of open rooms.', () => media().legs);
    liveGauge(
      r,
      'conclave_media_mixer_processes',
      'Mixer and transcoder processes alive (plain RTP legs).',
      () => media().mixerProcesses,
    );
  }

  /** Route handler for the web server: answers GET /metrics, leaves every other path alone. */
  handle = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return true;
    }
    if (!this.authorized(req.socket.remoteAddress, req.headers.authorization)) {
      this.#log.warn('metrics refused: not an admin', { from: req.socket.remoteAddress });
      res
        .writeHead(401, { 'WWW-Authenticate': 'Basic realm="conclave metrics"', 'Content-Type': 'text/plain' })
        .end('admin credentials required\n');
      return true;
    }
    const body = await this.registry.metrics();
    res.writeHead(200, { 'Content-Type': this.registry.contentType, 'Cache-Control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };

  /** Loopback callers, or an admin's HTTP Basic credentials. */
  authorized(remoteAddress: string | undefined, authorization: string | undefined): boolean {
    if (isLoopback(remoteAddress)) return true;
    const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(authorization ?? '');
    if (!m) return false;
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon > 0 && this.#auth.verify(decoded.slice(0, colon), decoded.slice(colon + 1));
  }
}

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}
