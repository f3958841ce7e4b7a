import { useId, type FormEvent } from 'react';
import type { Phone, PhoneSnapshot } from '../phone/phone.ts';
import { CredentialFields, useCredentials } from './CredentialFields.tsx';

export function LoginForm({ phone, snap }: { phone: Phone; snap: PhoneSnapshot }) {
  const credentials = useCredentials(snap.lastUser);
  const { user, password, remember } = credentials;
  const id = useId();

  // Signing in: the agent exists but has not registered yet (connecting, or waiting for the server).
  const pending = snap.account !== null && !snap.signedIn;

  const submit = (e: FormEvent<HTMLFormElement>): void => {
    e.preventDefault();
    if (pending) return;
    phone.login(user, password, remember);
  };

  return (
    <form className="card login" onSubmit={submit} aria-labelledby={`${id}-title`} noValidate>
      <h1 id={`${id}-title`} className="login-title">
        Sign in
      </h1>
      <p className="muted">
        Calls and conferences at <span className="mono">{snap.config.domain}</span>
      </p>
      <CredentialFields id={id} testIdPrefix="login" userLabel="User name" userPlaceholder="alice" {...credentials} />
      {remember && <p className="hint">Your password will be stored in this browser until you sign out.</p>}
      {snap.loginError !== null && (
        <p className="form-error" role="alert" data-testid="login-error">
          {snap.loginError}
        </p>
      )}
      <button
        type="submit"
        className="button button-primary button-wide"
        data-testid="login-submit"
        disabled={pending}
        aria-busy={pending}
      >
        {pending ? 'Signing in…' : 'Sign in'}
      </button>
      {pending && (
        <button
          type="button"
          className="button button-quiet button-wide"
          data-testid="login-cancel"
          onClick={() => void phone.logout()}
        >
          Cancel
        </button>
      )}
    </form>
  );
}
