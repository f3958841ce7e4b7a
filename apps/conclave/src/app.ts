/**
 * Brings Conclave up in order — media, SIP server, focus, web page — and down in reverse on a signal.
 */
import { createHash } from 'node:crypto';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { createLogger } from '@conclave/log';
import { SipServer, type SipServerStats } from '@conclave/sip-server';
import { MediaService } from '@conclave/media';
import { AdminApi, directoryAuthenticator } from '@conclave/admin-api';
import { Focus, conferenceHostFor } from '@conclave/focus';
import type { ConclaveConfig } from './config.ts';
import { WebServer } from './web-server.ts';
import { Metrics } from './metrics.ts';
import { ClusterMode } from './cluster-mode.ts';

const WEB_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../web/dist');

/** Where a running Conclave listens, as bound (ports configured as 0 are the ones the kernel picked). */
export interface BoundAddresses {
  http: { host: string; port: number };
  sip: {
    udp?: { host: string; port: number };
    tcp?: { host: string; port: number };
    ws?: { host: string; port: number };
  };
  drachtio: { host: string; port: number };
  media: { rtcMinPort: number; rtcMaxPort: number };
}

/** Starts everything; resolves with the bound addresses once every listener is up. */
export async function runConclave(config: ConclaveConfig): Promise<BoundAddresses | undefined> {
  const level = (process.env['CONCLAVE_LOG_LEVEL'] as ConclaveConfig['logLevel'] | undefined) ?? config.logLevel;
  const log = createLogger('conclave', { level });
  const stoppers: Array<() => Promise<void> | void> = [];
  let stopping = false;
  const stop = async (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    for (const s of stoppers.reverse()) {
      try {
        await s();
      } catch (err) {
        log.warn('error while stopping', { error: (err as Error).message });
      }
    }
    log.info('stopped');
    process.exit(exitCode);
  };
  // Last line of defence: a stray rejection or exception in one call's handling is logged loudly and
  // must not take every other call down with the process.
  process.on('unhandledRejection', (reason) => {
    log.error('unhandled promise rejection (bug)', {
      error: reason instanceof Error ? (reason.stack ?? reason.message) : String(reason),
    });
  });
  process.on('uncaughtException', (err) => {
    log.error('uncaught exception (bug)', { error: err.stack ?? err.message });
  });
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  try {
    const media = await MediaService.create({
      workers: config.media.workers || cpus().length,
      listenIp: config.media.listenIp,
      announcedAddress: config.media.announcedAddress ?? undefined,
      rtcMinPort: config.media.rtcMinPort,
      rtcMaxPort: config.media.rtcMaxPort,
      speakerDetection: config.media.speakerDetection,
      iceConsentTimeout: config.media.iceConsentTimeout,
      plainRtpTimeout: config.media.plainRtpTimeout,
      logger: log.child('media'),
    });
    stoppers.push(() => media.close());

    const lines: string[] = [];
    let sipStats: (() => SipServerStats) | undefined;
    // What the focus and the page must use: the bound ports (a configured 0 is picked by the kernel).
    let bound: Pick<BoundAddresses, 'sip' | 'drachtio'> = {
      sip: {},
      drachtio: { host: config.drachtio.host, port: config.drachtio.port },
    };
    if (config.drachtio.embedded) {
      const sip = new SipServer({
        listen: {
          udp: { host: config.sip.host, port: config.sip.udpPort },
          tcp: { host: config.sip.host, port: config.sip.tcpPort },
          ws: { host: config.sip.host, port: config.sip.wsPort },
        },
        control: { host: config.drachtio.host, port: config.drachtio.port, secret: config.drachtio.secret },
        logger: log.child('sip-server'),
      });
      const a = await sip.start();
      stoppers.push(() => sip.close());
      sipStats = () => sip.stats();
      if (a.udp) lines.push(`SIP over UDP         sip:${a.udp.host}:${a.udp.port};transport=udp`);
      if (a.tcp) lines.push(`SIP over TCP         sip:${a.tcp.host}:${a.tcp.port};transport=tcp`);
      if (a.ws) lines.push(`SIP over WebSocket   ws://${a.ws.host}:${a.ws.port}`);
      lines.push(`drachtio control     ${a.control.host}:${a.control.port} (embedded server)`);
      bound = {
        sip: { ...(a.udp ? { udp: a.udp } : {}), ...(a.tcp ? { tcp: a.tcp } : {}), ...(a.ws ? { ws: a.ws } : {}) },
        drachtio: a.control,
      };
    } else {
      lines.push(`drachtio control     ${config.drachtio.host}:${config.drachtio.port} (external drachtio-server)`);
    }

    const focus = new Focus({
      drachtio: { ...config.drachtio, port: bound.drachtio.port },
      domain: config.domain,
      users: config.users,
      admins: config.admins,
      media,
      conference: {
        ...config.conference,
        // Conference URIs must route to the conference: through the edge in cluster mode.
        conferenceHost: conferenceHostFor(
          config.domain,
          config.cluster?.edgeSipPort ?? bound.sip.udp?.port ?? config.sip.udpPort,
        ),
        conferencesOnOtherNodes: config.cluster !== null,
      },
      sessionTimer: { expires: config.sip.sessionExpires, minSE: config.sip.minSessionExpires },
      ringTimeoutMs: config.sip.ringTimeout * 1000,
      ...(config.cluster?.nonceSecret
        ? { nonceKey: createHash('sha256').update(config.cluster.nonceSecret).digest() }
        : {}),
      // Users register at the edge: a node finds them in the edge's location store (ClusterMode).
      ...(config.cluster
        ? { locateUser: (user: string) => cluster?.locateUser(user) ?? Promise.resolve(undefined) }
        : {}),
      logger: log.child('focus'),
    });
    let cluster: ClusterMode | undefined;
    if (config.cluster) {
      // Before the focus takes requests: every conference it creates is claimed.
      cluster = await ClusterMode.start({
        config: config.cluster,
        domain: config.domain,
        conferences: focus.conferences.registry,
        logger: log.child('cluster'),
      });
      // Runs after focus.stop() (stoppers run in reverse): the conferences end with their BYEs, then
      // whatever claim is left is released and the node's record removed.
      stoppers.push(() => cluster?.close());
      lines.push(`Cluster node         ${config.cluster.nodeId} (Redis ${config.cluster.redis})`);
    }
    await focus.start();

    const admin = new AdminApi({
      control: focus.conferences,
      auth: directoryAuthenticator(focus.directory),
      domain: config.domain,
      logger: log.child('admin-api'),
      // every node's conferences, moderation forwarded to the hosting node (needs the shared secret)
      cluster: cluster && config.cluster?.nonceSecret ? cluster.adminCluster(config.cluster.nonceSecret) : undefined,
    });

    const metrics = new Metrics({
      sources: { focus: () => focus.stats(), media: () => media.stats(), sip: sipStats },
      auth: directoryAuthenticator(focus.directory),
      logger: log.child('metrics'),
    });

    const wsUri = config.cluster?.wsUri ?? `ws://${config.sip.host}:${bound.sip.ws?.port ?? config.sip.wsPort}`;
    const web = new WebServer({
      host: config.http.host,
      port: config.http.port,
      root: WEB_ROOT,
      pageConfig: {
        wsUri,
        domain: config.domain,
        conferenceFactoryUri: `sip:${config.conference.factoryUser}@${config.domain}`,
        adminApi: '/api',
      },
      routes: [metrics.handle, (req, res) => admin.handle(req, res)],
      logger: log.child('web'),
    });
    const w = await web.start();
    stoppers.push(() => web.close());
    stoppers.push(() => admin.close()); // runs before web.close(): event streams end first
    // Stop the focus first (BYE to every call) while the SIP server can still carry the BYEs, and
    // before mediasoup's own SIGTERM/SIGINT handler closes the workers under the calls.
    stoppers.push(() => focus.stop());
    lines.unshift(`Web page             http://${w.host}:${w.port}/`);
    if (cluster && config.cluster) {
      // Announced last, once everything serves: the edge may route conference requests here from now on.
      const sipTcp = bound.sip.tcp ?? { host: config.sip.host, port: config.sip.tcpPort };
      await cluster.announce({
        sip: config.cluster.sipUri ?? `sip:${hostForUri(sipTcp.host)}:${sipTcp.port};transport=tcp`,
        http: config.cluster.httpUrl ?? `http://${hostForUri(w.host)}:${w.port}`,
      });
    }
    lines.push(
      `mediasoup            ${media.workerPids.length} worker(s), RTC ports ${config.media.rtcMinPort}-${config.media.rtcMaxPort} on ${config.media.listenIp}`,
    );
    lines.push(
      `SIP domain           ${config.domain}  (conference factory sip:${config.conference.factoryUser}@${config.domain})`,
    );
    process.stdout.write(`\nConclave is running:\n  ${lines.join('\n  ')}\nPress Ctrl-C to stop.\n\n`);
    return {
      http: { host: w.host, port: w.port },
      ...bound,
      media: { rtcMinPort: config.media.rtcMinPort, rtcMaxPort: config.media.rtcMaxPort },
    };
  } catch (err) {
    log.error('start-up failed', { error: (err as Error).message });
    await stop('start-up failure', 1);
    return undefined;
  }
}

function hostForUri(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
