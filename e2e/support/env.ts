/**
 * Addresses of the Conclave instances the e2e tests run against. The instances bind port 0 and
 * global-setup.ts (Playwright's globalSetup, which runs before any worker starts) puts their bound
 * addresses in the environment, which the workers inherit; these constants are read when a worker
 * imports this module. In the runner's own process, before the set-up, they are placeholders.
 */
function fromEnv(name: string): string {
  return process.env[name] ?? 'http://127.0.0.1:0';
}

/** The instance with the default refer mode (conclave.e2e.json). */
export const E2E_BASE_URL = fromEnv('E2E_BASE_URL');
/** Its SIP-over-WebSocket URL (what the page connects to). */
export const E2E_WS_URL = fromEnv('E2E_WS_URL');
/** A second instance whose focus passes REFERs on to the party (conference.referMode "pass-through"). */
export const E2E_PASSTHROUGH_URL = fromEnv('E2E_PASSTHROUGH_URL');
export const E2E_DOMAIN = '127.0.0.1';
export { CHROMIUM } from '@conclave/test-peers';
/** Process ids of the two instances (for fault injection: their mediasoup workers are its children). */
export const E2E_PID = Number(process.env['E2E_PID'] ?? 0);
export const E2E_PASSTHROUGH_PID = Number(process.env['E2E_PASSTHROUGH_PID'] ?? 0);
