import type { Phone } from '../phone/phone.ts';
import { ErrorBanner } from './ErrorBanner.tsx';
import { LoginForm } from './LoginForm.tsx';
import { PhoneView } from './PhoneView.tsx';
import { StatusBar } from './StatusBar.tsx';
import { usePhoneSnapshot } from './usePhone.ts';

export function App({ phone }: { phone: Phone }) {
  const snap = usePhoneSnapshot(phone);
  return (
    <div className="app" data-testid="phone" data-idle={String(snap.idle)}>
      <StatusBar phone={phone} snap={snap} />
      <main className="main" id="main">
        {snap.error !== null && <ErrorBanner message={snap.error} onDismiss={() => phone.dismissError()} />}
        {snap.signedIn ? <PhoneView phone={phone} snap={snap} /> : <LoginForm phone={phone} snap={snap} />}
      </main>
      <footer className="footer">
        <span>Conclave</span>
        <span aria-hidden="true">·</span>
        <span className="mono">{snap.config.wsUri}</span>
        {snap.configWarning !== null && (
          <span className="footer-warning" title={snap.configWarning}>
            default settings
          </span>
        )}
      </footer>
    </div>
  );
}
