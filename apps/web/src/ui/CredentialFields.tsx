/**
 * The user name, password and "remember me" fields of a sign-in form: the phone's (LoginForm) and the
 * admin console's (AdminLogin). Test ids are `<testIdPrefix>-user`, `-password` and `-remember`.
 */
import { useState } from 'react';

/** What the fields hold, and their setters (useCredentials). */
export interface Credentials {
  user: string;
  onUser(value: string): void;
  password: string;
  onPassword(value: string): void;
  remember: boolean;
  onRemember(value: boolean): void;
}

/** The fields' state: the user name starts as the last one signed in, the password empty. */
export function useCredentials(lastUser: string): Credentials {
  const [user, onUser] = useState(lastUser);
  const [password, onPassword] = useState('');
  const [remember, onRemember] = useState(false);
  return { user, onUser, password, onPassword, remember, onRemember };
}

export interface CredentialFieldsProps extends Credentials {
  /** The form's useId(): the inputs' ids derive from it. */
  id: string;
  testIdPrefix: string;
  userLabel: string;
  userPlaceholder: string;
}

export function CredentialFields(props: CredentialFieldsProps) {
  const { id, testIdPrefix } = props;
  return (
    <>
      <div className="field">
        <label htmlFor={`${id}-user`}>{props.userLabel}</label>
        <input
          id={`${id}-user`}
          data-testid={`${testIdPrefix}-user`}
          name="username"
          autoComplete="username"
          autoCapitalize="none"
          autoCorrect="off"
          spellCheck={false}
          autoFocus
          required
          value={props.user}
          onChange={(e) => props.onUser(e.target.value)}
          placeholder={props.userPlaceholder}
        />
      </div>
      <div className="field">
        <label htmlFor={`${id}-password`}>Password</label>
        <input
          id={`${id}-password`}
          data-testid={`${testIdPrefix}-password`}
          type="password"
          name="password"
          autoComplete="current-password"
          required
          value={props.password}
          onChange={(e) => props.onPassword(e.target.value)}
        />
      </div>
      <label className="check">
        <input
          type="checkbox"
          data-testid={`${testIdPrefix}-remember`}
          checked={props.remember}
          onChange={(e) => props.onRemember(e.target.checked)}
        />
        <span>Remember me on this browser</span>
      </label>
    </>
  );
}
