/**
 * Entry of the admin console (/admin): loaded on demand by src/main.tsx, so the softphone's bundle
 * does not grow and the softphone's Phone is never created on this page.
 */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import type { PhoneConfig } from '../phone/config.ts';
import type { Logger } from '../phone/log.ts';
import { AdminConsole } from './admin-console.ts';
import { AdminApp } from './ui/AdminApp.tsx';

declare global {
  interface Window {
    /** For debugging from the console / e2e tests: the admin console store. */
    conclaveAdmin?: AdminConsole;
  }
}

export function startAdmin(container: HTMLElement, config: PhoneConfig, log: Logger): AdminConsole {
  document.title = 'Conclave admin';
  const admin = new AdminConsole({ config, log: log.child({ app: 'admin' }) });
  window.conclaveAdmin = admin;
  // Unsubscribe and close the SIP connection when the tab goes away (the token stays valid).
  window.addEventListener('pagehide', () => admin.close());
  void admin.restore();
  createRoot(container).render(
    <StrictMode>
      <AdminApp admin={admin} />
    </StrictMode>,
  );
  return admin;
}
