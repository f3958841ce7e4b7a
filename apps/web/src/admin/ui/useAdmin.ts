import { useSyncExternalStore } from 'react';
import type { AdminConsole, AdminSnapshot } from '../admin-console.ts';

export function useAdminSnapshot(admin: AdminConsole): AdminSnapshot {
  return useSyncExternalStore(admin.subscribe, admin.getSnapshot);
}
