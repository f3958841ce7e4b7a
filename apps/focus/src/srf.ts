/**
 * The slice of drachtio-srf the focus uses, typed. drachtio-srf's bundled typings miss or mistype a few
 * members (srf.register, srf.subscribe, SipError, Dialog.request's options, cbRequest's arguments, a
 * SUBSCRIBE dialog's events), so they are declared here once: this is the only module that casts
 * drachtio-srf's objects.
 */
import Srf from 'drachtio-srf';

export type { Srf };
export type SrfRequest = Srf.SrfRequest;
export type SrfResponse = Srf.SrfResponse;
export type SrfDialog = Srf.Dialog;
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- drachtio-srf's own signature
export type SrfMiddleware = (req: SrfRequest, res: SrfResponse, next: Function) => void;
export type SrfHandler = (req: SrfRequest, res: SrfResponse) => void;

/** Method-specific handler registration that drachtio-srf adds at run time (one per SIP method). */
export interface SrfMethodHandlers {
  register(handler: SrfHandler): void;
  subscribe(handler: SrfHandler): void;
  refer(handler: SrfHandler): void;
  options(handler: SrfHandler): void;
  message(handler: SrfHandler): void;
  invite(handler: SrfHandler): void;
}

export function methodHandlers(srf: Srf): SrfMethodHandlers {
  return srf as unknown as SrfMethodHandlers;
}

/** The error drachtio-srf rejects createUAC/createUAS/request promises with on a SIP failure. */
export interface SipFailure extends Error {
  status: number;
  reason?: string;
  res?: SrfResponse;
}

export function isSipFailure(err: unknown): err is SipFailure {
  return err instanceof Error && typeof (err as Partial<SipFailure>).status === 'number';
}

export function createSrf(): Srf {
  return new Srf();
}

export interface ReplyOptions {
  headers?: Record<string, string>;
  body?: string;
}

/** Sends a final or provisional response; the reason phrase is optional (drachtio fills in the standard one). */
export function reply(res: SrfResponse, status: number, reason?: string, options: ReplyOptions = {}): void {
  if (reason === undefined) res.send(status, options);
  else res.send(status, reason, options);
}

/** A request sent inside an existing dialog (NOTIFY, REFER, UPDATE...). */
export interface InDialogRequest {
  method: string;
  headers?: Record<string, string>;
  body?: string;
}

/** Sends a request inside `dialog` and resolves with its final response (drachtio-srf's typings want a whole SrfRequest). */
export function requestInDialog(dialog: SrfDialog, request: InDialogRequest): Promise<SrfResponse> {
  return dialog.request(request as unknown as SrfRequest);
}

/**
 * The `cbRequest` progress callback of createUAC, which drachtio-srf calls as (err, req) although its
 * typings say (req): `callback` sees the INVITE once it is sent (to CANCEL it later).
 */
export function onRequestSent(callback: (req: SrfRequest) => void): (req: SrfRequest) => void {
  const adapted = (_err: unknown, req: SrfRequest | undefined): void => {
    if (req) callback(req);
  };
  return adapted as unknown as (req: SrfRequest) => void;
}

/**
 * Answers 2xx to a request that creates a dialog without SDP (a SUBSCRIBE, an out-of-dialog REFER) and
 * resolves with that dialog; drachtio-srf's typings insist on a localSdp.
 */
export function acceptDialog(
  srf: Srf,
  req: SrfRequest,
  res: SrfResponse,
  headers: Record<string, string>,
): Promise<SrfDialog> {
  return srf.createUAS(req, res, { headers } as unknown as Srf.CreateUASOptions);
}

/** What a SUBSCRIBE dialog receives after its creation. */
export interface SubscriptionDialogHandlers {
  /** A refreshing SUBSCRIBE (the handler answers it). */
  subscribe(req: SrfRequest, res: SrfResponse): void;
  /** A SUBSCRIBE with Expires: 0 (drachtio-srf has answered it). */
  unsubscribe(): void;
}

/** drachtio-srf emits these on SUBSCRIBE dialogs; its typings only list an INVITE dialog's events. */
export function onSubscriptionRequests(dialog: SrfDialog, handlers: SubscriptionDialogHandlers): void {
  const events = dialog as unknown as NodeJS.EventEmitter;
  events.on('subscribe', (req: SrfRequest, res: SrfResponse) => handlers.subscribe(req, res));
  events.on('unsubscribe', () => handlers.unsubscribe());
}

/** Runtime members of drachtio-srf's Dialog that its typings omit. */
interface DialogRuntime {
  connected: boolean;
  id: string;
  /** The request that created the dialog (the INVITE or SUBSCRIBE). */
  req: SrfRequest;
  /** The final response that created it (a UAC dialog's 2xx). */
  res: SrfResponse;
}

/** Header access common to requests and responses. */
export interface SipHeaders {
  get(name: string): string | undefined;
}

/** The 2xx that established a dialog the focus created as UAC (its headers: Allow, Session-Expires...). */
export function dialogAnswer(dialog: SrfDialog): SipHeaders {
  const res = (dialog as unknown as DialogRuntime).res;
  return { get: (name: string) => res?.get(name) ?? undefined };
}

/** The peer said it accepts UPDATE (an Allow header listing it). */
export function allowsUpdate(message: SipHeaders): boolean {
  return /(^|[\s,])UPDATE([\s,]|$)/i.test(message.get('Allow') ?? '');
}

/** False once the dialog has ended (BYE sent or received). */
export function dialogConnected(dialog: SrfDialog): boolean {
  return (dialog as unknown as DialogRuntime).connected === true;
}

/** drachtio-srf's private gate that lets one re-INVITE of a dialog out at a time. */
interface ReinviteGate {
  count: number;
  admitOne: Array<() => void>;
}

/**
 * Sends a re-INVITE with `sdp` and resolves with the answer; rejects with a SipFailure on a non-2xx.
 *
 * Why not plain `dialog.modify()`: drachtio-srf (5.0.29, pinned) lets one re-INVITE per dialog out at a
 * time, and on a non-2xx final response (491 glare, 488...) it reports the failure but never opens
 * that gate again: every later modify() on the dialog would wait for ever, silently. We open it here.
 */
export async function reinviteDialog(dialog: SrfDialog, sdp: string, headers: Record<string, string>): Promise<string> {
  try {
    return await dialog.modify(sdp, { headers } as unknown as { noAck: boolean });
  } catch (err) {
    if (isSipFailure(err)) {
      const gate = (dialog as unknown as { _reinvitesInProgress?: ReinviteGate })._reinvitesInProgress;
      if (gate && gate.count > 0) {
        gate.count--;
        const next = gate.admitOne.shift();
        if (next) setImmediate(next);
      }
    }
    throw err;
  }
}

/** BYEs (or final NOTIFYs) sent by endDialog and not yet answered, so a shutdown can let them leave. */
const endingDialogs = new Set<Promise<unknown>>();

/**
 * Ends a dialog with BYE (or a final NOTIFY for a subscription) and never throws: drachtio-srf's
 * destroy() returns a promise that rejects when the dialog is already gone (a benign race with the
 * other side hanging up), and an unhandled rejection would take the whole process down.
 */
export function endDialog(dialog: SrfDialog | undefined, reason?: string): void {
  if (!dialog || !dialogConnected(dialog)) return;
  const opts = reason
    ? { headers: { Reason: `SIP;cause=200;text="${reason.replace(/["\\\r\n]/g, "'")}"` } }
    : undefined;
  const done = (dialog.destroy(opts) as unknown as Promise<unknown> | undefined)?.catch?.(() => undefined);
  if (done) {
    endingDialogs.add(done);
    void done.finally(() => endingDialogs.delete(done));
  }
}

/**
 * Forgets the dialog an out-of-dialog REFER's 202 created, once its final NOTIFY has been answered:
 * drachtio-srf drops SUBSCRIBE dialogs on their final NOTIFY but keeps REFER ones for ever (its
 * destroy() knows only INVITE and SUBSCRIBE dialogs), one leaked Dialog per such REFER.
 */
export function forgetReferDialog(dialog: SrfDialog): void {
  const inner = dialog as unknown as { connected: boolean; srf?: { removeDialog?(d: unknown): void } };
  inner.connected = false;
  inner.srf?.removeDialog?.(dialog);
  dialog.removeAllListeners();
}

/** Resolves once every BYE sent by endDialog has been answered, or after `timeoutMs`. */
export async function dialogsEnded(timeoutMs: number): Promise<void> {
  if (endingDialogs.size === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(endingDialogs), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
  clearTimeout(timer);
}
