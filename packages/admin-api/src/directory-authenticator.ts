/**
 * An AdminAuthenticator over the focus's user directory: only admins, password compared in
 * constant time (over SHA-256 digests, so lengths do not leak either).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AdminAuthenticator } from './control.ts';

/** The part of UserDirectory this needs. */
export interface AdminDirectory {
  get(name: string): { password: string; admin: boolean } | undefined;
}

export function directoryAuthenticator(directory: AdminDirectory): AdminAuthenticator {
  return {
    verify(user: string, password: string): boolean {
      const entry = directory.get(user);
      // Compare even for unknown users, so the answer takes as long either way.
      const expected = digest(entry?.password ?? '\u0000no such user');
      const matches = timingSafeEqual(expected, digest(password));
      return entry !== undefined && entry.admin && matches;
    },
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
