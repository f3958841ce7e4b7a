/**
 * The embedded SipServer as a standalone process, configured like the reference drachtio-server
 * (UDP and TCP on one port, WebSocket on another, a control port with a secret). Used to exercise the
 * suite's external-server mode (DRACHTIO_HOST/PORT/SECRET) without a drachtio-server build:
 *
 *   node packages/sip-conformance/src/serve-embedded.ts --sip 52480 --ws 52481 --control 52482 &
 *   DRACHTIO_HOST=127.0.0.1 DRACHTIO_PORT=52482 DRACHTIO_SECRET=cymru node --test --test-concurrency=1 packages/sip-conformance/test/*.test.ts
 */
import { parseArgs } from 'node:util';
import { createLogger } from '@conclave/log';
import { SipServer } from '@conclave/sip-server';

const { values } = parseArgs({
  options: {
    sip: { type: 'string', default: '52480' },
    ws: { type: 'string', default: '52481' },
    control: { type: 'string', default: '52482' },
    secret: { type: 'string', default: 'cymru' },
  },
});
const server = new SipServer({
  listen: {
    udp: { host: '127.0.0.1', port: Number(values.sip) },
    tcp: { host: '127.0.0.1', port: Number(values.sip) },
    ws: { host: '127.0.0.1', port: Number(values.ws) },
  },
  control: { host: '127.0.0.1', port: Number(values.control), secret: values.secret },
  logger: createLogger('sip-server', { level: 'warn' }),
});
const addrs = await server.start();
process.stdout.write(`${JSON.stringify(addrs)}\n`);
const stop = () => void server.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
