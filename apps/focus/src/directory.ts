/** Who may use this Conclave: users and admins with their passwords. */

export interface DirectoryEntry {
  name: string;
  password: string;
  displayName: string;
  admin: boolean;
}

export interface DirectoryUserInput {
  name: string;
  password: string;
  displayName?: string | undefined;
}

export class UserDirectory {
  readonly #entries = new Map<string, DirectoryEntry>();

  constructor(users: DirectoryUserInput[], admins: DirectoryUserInput[]) {
    for (const [list, admin] of [
      [users, false],
      [admins, true],
    ] as const) {
      for (const u of list) {
        this.#entries.set(u.name, { name: u.name, password: u.password, displayName: u.displayName ?? u.name, admin });
      }
    }
  }

  get(name: string): DirectoryEntry | undefined {
    return this.#entries.get(name);
  }

  passwordOf = (name: string): string | undefined => this.#entries.get(name)?.password;

  isAdmin(name: string): boolean {
    return this.#entries.get(name)?.admin === true;
  }

  list(): DirectoryEntry[] {
    return [...this.#entries.values()];
  }
}
