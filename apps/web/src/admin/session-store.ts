/**
 * Where the console keeps its login: the API token, and the password the console's SIP user agent
 * needs for digest authentication of its SUBSCRIBEs (the admin is also a SIP user; a token cannot
 * answer a SIP challenge). sessionStorage by default (this tab only, gone when it closes);
 * localStorage with "remember me". Logging out forgets both.
 */
export interface StoredAdminSession {
  readonly user: string;
  readonly token: string;
  readonly password: string;
}

const KEY = 'conclave.admin.session';
const LAST_USER_KEY = 'conclave.admin.lastUser';

function storage(kind: 'sessionStorage' | 'localStorage'): Storage | null {
  try {
    return globalThis[kind] ?? null;
  } catch {
    return null; // storage disabled (privacy mode, sandboxed iframe)
  }
}

export class AdminSessionStore {
  #session: Storage | null;
  #local: Storage | null;

  constructor(session: Storage | null = storage('sessionStorage'), local: Storage | null = storage('localStorage')) {
    this.#session = session;
    this.#local = local;
  }

  load(): StoredAdminSession | null {
    return parse(get(this.#session, KEY)) ?? parse(get(this.#local, KEY));
  }

  save(value: StoredAdminSession, remember: boolean): void {
    const text = JSON.stringify({ user: value.user, token: value.token, password: value.password });
    set(this.#session, KEY, text);
    if (remember) set(this.#local, KEY, text);
    else remove(this.#local, KEY);
    set(this.#local, LAST_USER_KEY, value.user);
  }

  forget(): void {
    remove(this.#session, KEY);
    remove(this.#local, KEY);
  }

  /** The session is kept in localStorage ("remember me"). */
  remembered(): boolean {
    return parse(get(this.#local, KEY)) !== null;
  }

  lastUser(): string {
    return get(this.#local, LAST_USER_KEY) ?? '';
  }
}

function parse(raw: string | null): StoredAdminSession | null {
  if (raw === null) return null;
  try {
    const v = JSON.parse(raw) as Partial<StoredAdminSession>;
    if (
      typeof v.user === 'string' &&
      v.user !== '' &&
      typeof v.token === 'string' &&
      v.token !== '' &&
      typeof v.password === 'string'
    ) {
      return { user: v.user, token: v.token, password: v.password };
    }
  } catch {
    // corrupt entry
  }
  return null;
}

function get(s: Storage | null, key: string): string | null {
  try {
    return s?.getItem(key) ?? null;
  } catch {
    return null;
  }
}

function set(s: Storage | null, key: string, value: string): void {
  try {
    s?.setItem(key, value);
  } catch {
    // quota or disabled storage: remembering is best effort
  }
}

function remove(s: Storage | null, key: string): void {
  try {
    s?.removeItem(key);
  } catch {
    // ignore
  }
}
