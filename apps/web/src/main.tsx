import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { loadConfig } from './phone/config.ts';
import { createLogger } from './phone/log.ts';
import { Phone } from './phone/phone.ts';
import { App } from './ui/App.tsx';
import './ui/styles.css';

declare global {
  interface Window {
    /** For debugging from the console / e2e tests: the softphone store. */
    conclave?: { phone: Phone };
  }
}

const log = createLogger('conclave-web');
const { config, warning } = await loadConfig();
if (warning) log.warn(warning);

const container = document.getElementById('root');
if (!container) throw new Error('index.html has no #root element');

// The launcher serves index.html for every path: /admin is the admin console (its own chunk).
if (/^\/admin(?:\/|$)/.test(window.location.pathname)) {
  const { startAdmin } = await import('./admin/main.tsx');
  startAdmin(container, config, log);
} else {
  const phone = new Phone({ config, configWarning: warning, log });
  window.conclave = { phone };
  // Hang up and unregister when the tab goes away (best effort: the page may not get the chance).
  window.addEventListener('pagehide', () => phone.close());
  phone.autoLogin();

  createRoot(container).render(
    <StrictMode>
      <App phone={phone} />
    </StrictMode>,
  );
}
