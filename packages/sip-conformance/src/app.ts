/**
 * A real, unmodified drachtio-srf app connected to the server (through the control tap). srf's bundled
 * typings lag its API (no subscribe()/proxyRequest options, partial Dialog), so scenarios use this loose
 * facade.
 */
import Srf from 'drachtio-srf';

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface AppReq {
  method: string;
  uri: string;
  body: string;
  protocol: string;
  source_address: string;
  source_port: number;
  get(name: string): string;
  has(name: string): boolean;
  on(event: string, fn: (...args: any[]) => void): void;
}
export interface AppRes {
  send(status: number, ...rest: any[]): void;
  finalResponseSent?: boolean;
}
export interface AppDialog {
  id: string;
  sip: { callId: string; localTag: string; remoteTag: string };
  local: { sdp: string; contact: string };
  remote: { sdp: string };
  connected: boolean;
  on(event: string, fn: (...args: any[]) => void): void;
  once(event: string, fn: (...args: any[]) => void): void;
  modify(sdp: string, opts?: any): Promise<string>;
  request(opts: any): Promise<any>;
  destroy(opts?: any): Promise<void>;
}
type Handler = (req: AppReq, res: AppRes) => void;
export interface LooseSrf {
  invite(h: Handler): void;
  options(h: Handler): void;
  register(h: Handler): void;
  subscribe(h: Handler): void;
  message(h: Handler): void;
  refer(h: Handler): void;
  createUAS(req: AppReq, res: AppRes, opts: any): Promise<AppDialog>;
  createUAC(uri: string, opts: any, cbs?: any): Promise<AppDialog>;
  createB2BUA(req: AppReq, res: AppRes, uri: string, opts: any, cbs?: any): Promise<{ uac: AppDialog; uas: AppDialog }>;
  proxyRequest(req: AppReq, dest: string | string[], opts?: any): Promise<any>;
  request(uri: string, opts: any): Promise<any>;
  on(event: string, fn: (...args: any[]) => void): void;
  connect(opts: any): void;
  disconnect(): void;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

export interface ConnectedApp {
  srf: LooseSrf;
  /** `ws/…,tcp/…,udp/…` as reported by the server. */
  hostport: string;
  version: string;
  close(): void;
}

/** Connect a drachtio-srf app; `setup` registers handlers before the connection (as apps do). */
export function connectApp(
  control: { host: string; port: number; secret: string },
  setup?: (srf: LooseSrf) => void,
): Promise<ConnectedApp> {
  const srf = new Srf() as unknown as LooseSrf;
  setup?.(srf);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stopReconnecting(srf);
      reject(new Error('drachtio-srf app did not connect within 5 s'));
    }, 5000);
    srf.on('connect', (err: Error | null, hostport: string, version: string) => {
      clearTimeout(timer);
      if (err) {
        stopReconnecting(srf);
        reject(err);
        return;
      }
      resolve({
        srf,
        hostport,
        version,
        close: () => {
          stopReconnecting(srf);
          try {
            srf.disconnect();
          } catch {
            // already disconnected
          }
        },
      });
    });
    srf.on('error', () => {});
    srf.connect({ host: control.host, port: control.port, secret: control.secret });
  });
}

/** srf reconnects forever; a closed test app must not. */
function stopReconnecting(srf: LooseSrf): void {
  const wp = (
    srf as unknown as {
      _app?: { client?: { wp?: { closing?: boolean; reconnectVars?: { retryTimer?: NodeJS.Timeout } } } };
    }
  )._app?.client?.wp;
  if (!wp) return;
  wp.closing = true;
  if (wp.reconnectVars?.retryTimer) clearTimeout(wp.reconnectVars.retryTimer);
}

/** Parse srf's `connect` hostport string into SIP listen addresses. */
export function parseHostports(hostport: string): {
  udp?: { host: string; port: number };
  tcp?: { host: string; port: number };
  ws?: { host: string; port: number };
} {
  const out: ReturnType<typeof parseHostports> = {};
  for (const part of hostport.split(',')) {
    const m = /^(udp|tcp|ws|wss|tls)\/([^:]+|\[[^\]]+\]):(\d+)$/.exec(part.trim());
    if (!m) continue;
    const t = m[1] as 'udp' | 'tcp' | 'ws';
    if (t === 'udp' || t === 'tcp' || t === 'ws') out[t] ??= { host: m[2]!, port: Number(m[3]) };
  }
  return out;
}
