/**
 * Child process for the "embedded" target: Conclave's SipServer and the drachtio-srf B2BUA app in one
 * Node process (the way Conclave embeds them), separate from the benchmark driver so its CPU and memory
 * can be measured on their own. Run with --expose-gc. Controlled over the IPC channel:
 *
 *   argv[2] = JSON EmbeddedTargetConfig
 *   child -> parent  { type: 'ready', addresses }  |  { type: 'failed', message }
 *   parent -> child  { type: 'memory', id, gc }    -> { type: 'memory', id, usage, calls }
 *   parent -> child  { type: 'stop' }              -> closes everything and exits
 */
import { SipServer } from '../packages/sip-server/src/index.ts';
import { createLogger, type LogLevel } from '../packages/log/src/index.ts';
import { B2buaApp, type B2buaStats } from './b2bua-app.ts';

export interface EmbeddedTargetConfig {
  sipPort: number;
  controlPort: number;
  calleeUri: string;
  logLevel: LogLevel;
  /** limits.maxServerTransactions; undefined = the server's default. */
  maxServerTransactions?: number;
}

export type TargetRequest = { type: 'memory'; id: number; gc: boolean } | { type: 'stop' };

export type TargetMessage =
  | { type: 'ready'; addresses: unknown }
  | { type: 'failed'; message: string }
  | { type: 'memory'; id: number; usage: NodeJS.MemoryUsage; calls: B2buaStats };

const send = (msg: TargetMessage): void => {
  process.send?.(msg);
};

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as EmbeddedTargetConfig;
  const log = createLogger('bench-embedded', { level: cfg.logLevel });
  const secret = 'bench-secret';
  const server = new SipServer({
    listen: { udp: { host: '127.0.0.1', port: cfg.sipPort } },
    control: { host: '127.0.0.1', port: cfg.controlPort, secret },
    logger: log.child('sip-server'),
    ...(cfg.maxServerTransactions !== undefined
      ? { limits: { maxServerTransactions: cfg.maxServerTransactions } }
      : {}),
  });
  const addresses = await server.start();
  const app = await B2buaApp.start({
    control: { host: '127.0.0.1', port: addresses.control.port, secret },
    calleeUri: cfg.calleeUri,
    log: log.child('b2bua'),
  });

  const gc = (globalThis as { gc?: () => void }).gc;
  process.on('message', (raw) => {
    const msg = raw as TargetRequest;
    if (msg.type === 'memory') {
      if (msg.gc && gc) {
        // Two passes: the first may only queue finalizers / weak callbacks.
        gc();
        gc();
      }
      send({ type: 'memory', id: msg.id, usage: process.memoryUsage(), calls: app.stats });
    } else if (msg.type === 'stop') {
      app.close();
      void server.close().finally(() => process.exit(0));
      setTimeout(() => process.exit(0), 3000).unref();
    }
  });
  // The driver went away: do not linger.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', addresses });
}

main().catch((err: unknown) => {
  send({ type: 'failed', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  setTimeout(() => process.exit(1), 100);
});
