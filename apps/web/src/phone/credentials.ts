/**
 * "Remember me on this browser": credentials in localStorage. The password is stored as typed
 * (that is what remembering means for SIP digest auth); logging out forgets it.
 */
export interface StoredCredentials {
  readonly user: string;
  readonly password: string;
}

const CREDENTIALS_KEY = 'conclave.credentials';
const LAST_USER_KEY = 'conclave.lastUser';

export class CredentialStore {
  #storage: Storage | null;

  constructor(storage: Storage | null = CredentialStore.#defaultStorage()) {
    this.#storage = storage;
  }

  static #defaultStorage(): Storage | null {
    try {
      return globalThis.localStorage ?? null;
    } catch {
      return null; // storage disabled (privacy mode, sandboxed iframe)
    }
  }

  load(): StoredCredentials | null {
    const raw = this.#get(CREDENTIALS_KEY);
    if (raw === null) return null;
    try {
      const value = JSON.parse(raw) as Partial<StoredCredentials>;
      if (typeof value.user === 'string' && value.user !== '' && typeof value.password === 'string') {
        return { user: value.user, password: value.password };
      }
    } catch {
      // fall through: corrupt entry
    }
    this.forget();
    return null;
  }

  save(credentials: StoredCredentials): void {
    this.#set(CREDENTIALS_KEY, JSON.stringify({ user: credentials.user, password: credentials.password }));
    this.#set(LAST_USER_KEY, credentials.user);
  }

  forget(): void {
    try {
      this.#storage?.removeItem(CREDENTIALS_KEY);
    } catch {
      // ignore
    }
  }

  /** The last user name used on this browser (pre-fills the login form). */
  lastUser(): string {
    return this.#get(LAST_USER_KEY) ?? '';
  }

  rememberUser(user: string): void {
    this.#set(LAST_USER_KEY, user);
  }

  #get(key: string): string | null {
    try {
      return this.#storage?.getItem(key) ?? null;
    } catch {
      return null;
    }
  }

  #set(key: string, value: string): void {
    try {
      this.#storage?.setItem(key, value);
    } catch {
      // quota or disabled storage: remembering is best effort
    }
  }
}
