/**
 * A whole Conclave signalling stack on ephemeral ports for integration tests: the embedded SIP server,
 * a real mediasoup worker and the focus connected to the server through drachtio-srf.
 */
import { createLogger } from '@conclave/log';
import { MediaService } from '@conclave/media';
import { SipServer } from '@conclave/sip-server';
import { SipTestUa } from '@conclave/sip-test-ua';
import { Focus, conferenceHostFor, type UserLocator } from '../../src/index.ts';

export const DOMAIN = '127.0.0.1';
const USERS = ['alice', 'bob', 'carol', 'dave', 'erin'].map((name) => ({ name, password: `${name}-secret` }));

export interface TestStack {
  focus: Focus;
  server: SipServer;
  media: MediaService;
  sipPort: number;
  ua(user: string, options?: { password?: string; userAgent?: string }): Promise<SipTestUa>;
  close(): Promise<void>;
}

export async function startStack(
  options: { referMode?: 'intercept' | 'pass-through'; ringTimeoutMs?: number; locateUser?: UserLocator } = {},
): Promise<TestStack> {
  const logger = createLogger('test', { level: (process.env['CONCLAVE_LOG_LEVEL'] as 'debug' | undefined) ?? 'warn' });
  const media = await MediaService.create({
    workers: 1,
    listenIp: '127.0.0.1',
    rtcMinPort: 43000,
    rtcMaxPort: 43999,
    logger: logger.child('media'),
  });
  const server = new SipServer({
    listen: { udp: { host: '127.0.0.1', port: 0 }, tcp: { host: '127.0.0.1', port: 0 } },
    control: { host: '127.0.0.1', port: 0, secret: 'test-secret' },
    logger: logger.child('sip-server'),
  });
  const addrs = await server.start();
  const focus = new Focus({
    drachtio: { host: '127.0.0.1', port: addrs.control.port, secret: 'test-secret' },
    domain: DOMAIN,
    users: USERS,
    admins: [{ name: 'admin', password: 'admin-secret' }],
    media,
    conference: {
      factoryUser: 'conference',
      referMode: options.referMode ?? 'intercept',
      maxParticipants: 16,
      allowExternalDialOut: false,
      conferenceHost: conferenceHostFor(DOMAIN, addrs.udp!.port),
    },
    ...(options.ringTimeoutMs !== undefined ? { ringTimeoutMs: options.ringTimeoutMs } : {}),
    ...(options.locateUser ? { locateUser: options.locateUser } : {}),
    logger: logger.child('focus'),
  });
  await focus.start();
  const uas: SipTestUa[] = [];
  const sipPort = addrs.udp!.port;
  return {
    focus,
    server,
    media,
    sipPort,
    async ua(user, options = {}) {
      const ua = await SipTestUa.create({
        user,
        password: options.password ?? `${user}-secret`,
        domain: DOMAIN,
        server: { host: '127.0.0.1', port: sipPort },
        ...(options.userAgent ? { userAgent: options.userAgent } : {}),
      });
      uas.push(ua);
      return ua;
    },
    async close() {
      for (const ua of uas) ua.close();
      await focus.stop();
      await server.close();
      media.close();
    },
  };
}
