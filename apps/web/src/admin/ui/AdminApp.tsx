import type { AdminConsole, AdminSnapshot } from '../admin-console.ts';
import { AdminLogin } from './AdminLogin.tsx';
import { ConferenceList } from './ConferenceList.tsx';
import { useAdminSnapshot } from './useAdmin.ts';
import './admin.css';

export function AdminApp({ admin }: { admin: AdminConsole }) {
  const snap = useAdminSnapshot(admin);
  return (
    <div className="app admin" data-testid="admin-console" data-phase={snap.phase}>
      <AdminTopBar admin={admin} snap={snap} />
      <main className="main admin-main" id="main">
        {snap.phase === 'signed-in' ? (
          <ConferenceList admin={admin} snap={snap} />
        ) : (
          <AdminLogin admin={admin} snap={snap} />
        )}
      </main>
      <footer className="footer">
        <span>Conclave admin console</span>
        <span aria-hidden="true">·</span>
        <span className="mono">{snap.config.adminApi}</span>
        <span aria-hidden="true">·</span>
        <a href="/" className="footer-link">
          Softphone
        </a>
      </footer>
    </div>
  );
}

/** Same bar as the softphone's: brand, connection state, who is signed in. */
function AdminTopBar({ admin, snap }: { admin: AdminConsole; snap: AdminSnapshot }) {
  const signedIn = snap.phase === 'signed-in';
  const feedKind =
    snap.feed.state === 'live' ? 'registered' : snap.feed.state === 'closed' ? 'offline' : snap.feed.state;
  const sipKind = snap.sip === 'connected' ? 'registered' : snap.sip;
  return (
    <header className="topbar">
      <div className="brand">
        <span className="brand-mark" aria-hidden="true" />
        <span className="brand-name">Conclave</span>
        <span className="brand-sub">admin</span>
      </div>
      {signedIn && (
        <div className="admin-states">
          <p
            className={`status status-${feedKind}`}
            role="status"
            aria-live="polite"
            data-testid="admin-feed-status"
            data-state={snap.feed.state}
            data-attempts={snap.feed.attempts}
          >
            <span className="status-dot" aria-hidden="true" />
            <span className="status-text">{snap.feedText === 'live' ? 'conference list: live' : snap.feedText}</span>
          </p>
          <p className={`status status-${sipKind}`} data-testid="admin-sip-status" data-state={snap.sip}>
            <span className="status-dot" aria-hidden="true" />
            <span className="status-text">{snap.sipText}</span>
          </p>
        </div>
      )}
      {signedIn && snap.user !== null && (
        <div className="account">
          <span className="account-uri mono" data-testid="admin-user">
            {snap.user}
          </span>
          <button
            type="button"
            className="button button-quiet"
            data-testid="admin-logout-button"
            onClick={() => void admin.logout()}
          >
            Sign out
          </button>
        </div>
      )}
    </header>
  );
}
