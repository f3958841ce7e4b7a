/** Addresses of the Conclave instance the e2e tests start (see conclave.e2e.json). */
export const E2E_BASE_URL = 'http://127.0.0.1:28080';
/** A second instance whose focus passes REFERs on to the party (conference.referMode "pass-through"). */
export const E2E_PASSTHROUGH_URL = 'http://127.0.0.1:27080';
export const E2E_DOMAIN = '127.0.0.1';
export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
