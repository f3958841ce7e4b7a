import { useId, useState, type FormEvent } from 'react';
import type { AdminConsole, AdminSnapshot } from '../admin-console.ts';

export function AdminLogin({ admin, snap }: { admin: AdminConsole; snap: AdminSnapshot }) {
  const [user, setUser] = useState(snap.lastUser);
  const [password, setPassword] = useState('');
  const [remember, setRemember] = useState(false);
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
      <div className="field">
        <label htmlFor={`${id}-user`}>Administrator</label>
        <input
          id={`${id}-user`}
          data-testid="admin-login-user"
          name="username"
          autoComplete="username"
          autoCapitalize="none"
          autoCorrect="off"
          spellCheck={false}
          autoFocus
          required
          value={user}
          onChange={(e) => setUser(e.target.value)}
          placeholder="admin"
        />
      </div>
      <div className="field">
        <label htmlFor={`${id}-password`}>Password</label>
        <input
          id={`${id}-password`}
          data-testid="admin-login-password"
          type="password"
          name="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
      </div>
      <label className="check">
        <input
          type="checkbox"
          data-testid="admin-login-remember"
          checked={remember}
          onChange={(e) => setRemember(e.target.checked)}
        />
        <span>Remember me on this browser</span>
      </label>
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
