import { useId, type FormEvent } from 'react';
import type { AdminConsole, AdminSnapshot } from '../admin-console.ts';
import { CredentialFields, useCredentials } from '../../ui/CredentialFields.tsx';

export function AdminLogin({ admin, snap }: { admin: AdminConsole; snap: AdminSnapshot }) {
  const credentials = useCredentials(snap.lastUser);
  const { user, password, remember } = credentials;
  const id = useId();
  const pending = snap.phase === 'signing-in';

  const submit = (e: FormEvent<HTMLFormElement>): void => {
    e.preventDefault();
    if (pending || snap.throttled) return;
    void admin.login(user, password, remember);
  };

  return (
    <form
      className="card login"
      onSubmit={submit}
      aria-labelledby={`${id}-title`}
      aria-describedby={`${id}-what`}
      noValidate
      data-testid="admin-login"
    >
      <h1 id={`${id}-title`} className="login-title">
        Admin console
      </h1>
      <p id={`${id}-what`} className="muted">
        Watch and moderate every conference at <span className="mono">{snap.config.domain}</span>
      </p>
      <CredentialFields
        id={id}
        testIdPrefix="admin-login"
        userLabel="Administrator"
        userPlaceholder="admin"
        {...credentials}
      />
      <p className="hint">
        {remember
          ? 'Your password stays in this browser until you sign out (the console also signs in to SIP with it).'
          : 'You stay signed in on this tab until you close it or sign out.'}
      </p>
      {snap.loginError !== null && (
        <p className="form-error" role="alert" data-testid="admin-login-error">
          {snap.loginError}
        </p>
      )}
      <button
        type="submit"
        className="button button-primary button-wide"
        data-testid="admin-login-submit"
        disabled={pending || snap.throttled}
        aria-busy={pending}
      >
        {pending ? 'Signing in…' : 'Sign in'}
      </button>
    </form>
  );
}
