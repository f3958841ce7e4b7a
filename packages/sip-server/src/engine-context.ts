import type { Logger } from '@conclave/log';
import type { AppHub } from './control/app-hub.ts';
import type { Destinations } from './destinations.ts';
import type { Dialog } from './dialog.ts';
import type { DialogTable } from './dialogs.ts';
import type { ProxyCore } from './proxy/proxy-core.ts';
import type { SipTimers, TimerSet } from './timers.ts';
import type { TransactionLayer } from './transaction-layer.ts';

/**
 * What the agent hands down to its UAS and UAC halves: the layers it owns (transactions, dialogs, apps,
 * destinations, proxy) and the one thing only it may do, adopting a new dialog (indexing it and
 * listening to it).
 */
export interface EngineContext {
  readonly log: Logger;
  readonly timers: SipTimers;
  readonly timerSet: TimerSet;
  readonly hub: AppHub;
  readonly txns: TransactionLayer;
  readonly dialogs: DialogTable;
  readonly dest: Destinations;
  readonly proxy: ProxyCore;
  adoptDialog(d: Dialog): void;
  isClosed(): boolean;
}
