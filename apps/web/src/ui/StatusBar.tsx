import type { Phone, PhoneSnapshot } from '../phone/phone.ts';

/** data-status of the registration-status element. */
export type StatusKind = 'registered' | 'registering' | 'connecting' | 'reconnecting' | 'failed' | 'offline';

export function statusKind(snap: PhoneSnapshot): StatusKind {
  const { connection, registration } = snap.status;
  if (registration === 'failed') return 'failed';
  if (connection === 'offline') return 'offline';
  if (connection === 'reconnecting') return 'reconnecting';
  if (connection === 'connecting') return 'connecting';
  return registration === 'registered' ? 'registered' : 'registering';
}

export function StatusBar({ phone, snap }: { phone: Phone; snap: PhoneSnapshot }) {
  const kind = statusKind(snap);
  return (
    <header className="topbar">
      <div className="brand">
        <span className="brand-mark" aria-hidden="true" />
        <span className="brand-name">Conclave</span>
      </div>
      <p
        className={`status status-${kind}`}
        role="status"
        aria-live="polite"
        data-testid="registration-status"
        data-status={kind}
      >
        <span className="status-dot" aria-hidden="true" />
        <span className="status-text">{snap.statusText}</span>
      </p>
      {snap.account && snap.signedIn && (
        <div className="account">
          <span className="account-uri mono" title={snap.account.uri}>
            {snap.account.user}
          </span>
          <button
            type="button"
            className="button button-quiet"
            data-testid="logout-button"
            onClick={() => void phone.logout()}
          >
            Sign out
          </button>
        </div>
      )}
    </header>
  );
}
