/**
 * `conclave`: starts the whole product on one machine — the embedded drachtio-compatible SIP server,
 * the focus (a drachtio-srf app connected to it like to any drachtio-server), a mediasoup worker pool
 * and the web page. With `drachtio.embedded: false` the focus connects to a real drachtio-server instead.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type ConclaveConfig } from './config.ts';

const HELP = `Usage: conclave [options]

Starts Conclave: web page, conference focus, embedded SIP server and mediasoup media.

Options:
  -c, --config <file>   JSON config file (see README "Configuration"); default: built-in defaults,
                        or $CONCLAVE_CONFIG when set
      --print-config    print the effective configuration as JSON and exit
      --ready-file <f>  once every listener is up, write JSON with the bound addresses to <f>
                        ({ pid, http, sip: { udp, tcp, ws }, drachtio, media }): ports configured
                        as 0 are picked by the system, and this is how a test harness learns them
  -h, --help            show this help

Environment:
  CONCLAVE_CONFIG       config file path (when --config is not given)
  CONCLAVE_LOG_LEVEL    debug | info | warn | error (overrides "logLevel")
  CONCLAVE_NODE_ID      cluster mode: this node's id (overrides "cluster.nodeId")
  CONCLAVE_REDIS_URL    cluster mode: the shared Redis (overrides "cluster.redis")
`;

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        config: { type: 'string', short: 'c' },
        'print-config': { type: 'boolean' },
        'ready-file': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (err) {
    process.stderr.write(`conclave: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(HELP);
    return 0;
  }
  let config: ConclaveConfig;
  try {
    config = loadConfig(args.config ?? process.env['CONCLAVE_CONFIG']);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`conclave: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  if (args['print-config']) {
    process.stdout.write(JSON.stringify(config, null, 2) + '\n');
    return 0;
  }
  // The runtime (mediasoup, SIP, focus) is loaded only now, so --help and config errors stay instant.
  const { runConclave } = await import('./app.ts');
  const bound = await runConclave(config);
  const readyFile = args['ready-file'];
  if (bound && readyFile) {
    // Written whole then renamed, so a reader never sees half a file.
    writeFileSync(`${readyFile}.tmp`, JSON.stringify({ pid: process.pid, ...bound }, null, 2) + '\n');
    renameSync(`${readyFile}.tmp`, readyFile);
  }
  return -1; // keeps running until a signal
}

main().then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: Error) => {
    process.stderr.write(`conclave: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
