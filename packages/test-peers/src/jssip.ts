/**
 * JsSIP 3.13.8 over WebSocket as a conformance peer, in Node (ws as the global WebSocket, a media
 * stand-in for RTCPeerConnection) or in Chromium (playwright-core, /usr/bin/chromium, fake media
 * devices, JsSIP bundled by jssip-bundle.ts). Each UA registers (a registrar app answers) with a fixed
 * `.invalid` Contact, which is how an app reaches it through the server.
 *
 * Capabilities: re-INVITE (renegotiate), REFER, SUBSCRIBE (ua.subscribe). No 100rel/PRACK in JsSIP.
 * Glare: see JSSIP_CAPS.notes.glare.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from '@playwright/test';
import { WebSocket as WsWebSocket } from 'ws';
import { CHROMIUM, chromiumArgs } from './chromium.ts';
import { jssipBundle } from './jssip-bundle.ts';
import { jssipDriver, type JssipApi, type JssipDriver } from './jssip-driver.ts';
import { EventLog, type Peer, type PeerCapabilities, type PeerKind, type PeerTransport } from './peer.ts';
import { installRtcShim } from './rtc-shim.ts';

export const JSSIP_CAPS: PeerCapabilities = {
  subscribe: true,
  refer: true,
  reinvite: true,
  prack: false,
  notifyEvents: true,
  notes: {
    prack: 'JsSIP 3.13.8 has no 100rel/PRACK support (ignores Require: 100rel, never sends PRACK)',
    glare:
      'JsSIP answers a re-INVITE that crosses its own, and ends the call (BYE, 500 "Media Renegotiation Failed" cause) when its own re-INVITE gets 491, instead of retrying',
  },
};

abstract class JssipPeerBase implements Peer {
  abstract readonly kind: PeerKind;
  readonly transport: PeerTransport = 'ws';
  readonly label: string;
  readonly caps = JSSIP_CAPS;
  readonly uri: string;
  readonly ports: number[] = [];
  readonly log = new EventLog();

  constructor(label: string, user: string) {
    this.label = label;
    this.uri = `sip:${user}@${user}.invalid;transport=ws`;
  }

  protected abstract exec(cmd: keyof JssipDriver, arg?: string): Promise<unknown>;

  async waitRegistered(): Promise<void> {
    await this.log.wait('registered' as never, 0, 8000, this.label);
  }

  async call(target: string): Promise<void> {
    await this.exec('call', target);
  }

  async hangup(): Promise<void> {
    await this.exec('hangup');
  }

  async reinvite(): Promise<void> {
    const ok = await this.exec('reinvite');
    if (!ok) throw new Error(`${this.label}: JsSIP refused to renegotiate now`);
  }

  async transfer(target: string): Promise<void> {
    await this.exec('transfer', target);
  }

  async subscribe(target: string): Promise<void> {
    await this.exec('subscribe', target);
  }

  async unsubscribe(): Promise<void> {
    await this.exec('unsubscribe');
  }

  async reset(): Promise<void> {
    await this.exec('reset');
  }

  abstract close(): Promise<void>;
}

/** JsSIP in this Node process. */
export class JssipNodePeer extends JssipPeerBase {
  readonly kind = 'jssip-node' as const;
  #driver: JssipDriver | undefined;

  static async start(opts: { wsUrl: string; user: string; label?: string }): Promise<JssipNodePeer> {
    installRtcShim();
    (globalThis as Record<string, unknown>)['WebSocket'] = WsWebSocket;
    const JsSIP = (await import('jssip')).default;
    await patchTimerH();
    const peer = new JssipNodePeer(opts.label ?? 'jssip-node', opts.user);
    peer.#driver = jssipDriver(
      JsSIP,
      {
        wsUrl: opts.wsUrl,
        uri: `sip:${opts.user}@127.0.0.1`,
        contactUri: peer.uri,
        mediaConstraints: { audio: false, video: false },
      },
      (type, detail) => peer.log.push(type as never, detail),
    );
    await peer.waitRegistered();
    return peer;
  }

  protected exec(cmd: keyof JssipDriver, arg?: string): Promise<unknown> {
    const d = this.#driver!;
    // Through an executor so that a driver that throws (no call to transfer, ...) rejects, as in Chromium.
    return new Promise((resolve) => resolve((d[cmd] as (a?: string) => unknown)(arg)));
  }

  async close(): Promise<void> {
    this.#driver?.stop();
    this.#driver = undefined;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * JsSIP 3.13.8 leaves Timer H (64*T1) running after the ACK to a non-2xx final response (Timer I
 * terminates the transaction but H is never cleared). Harmless in a browser, it keeps a Node process
 * alive for 32 s after e.g. a 491. Clear it when Timer I fires.
 */
let timerHPatched = false;
async function patchTimerH(): Promise<void> {
  if (timerHPatched) return;
  timerHPatched = true;
  const spec = 'jssip/lib/Transactions.js'; // untyped internal module
  const mod = (await import(spec)) as unknown as {
    default?: { InviteServerTransaction?: { prototype: Record<string, unknown> } };
  };
  const proto = mod.default?.InviteServerTransaction?.prototype as
    { timer_I?: (this: { H?: NodeJS.Timeout }) => void } | undefined;
  const timerI = proto?.timer_I;
  if (!proto || !timerI) return;
  proto.timer_I = function (this: { H?: NodeJS.Timeout }) {
    clearTimeout(this.H);
    timerI.call(this);
  };
}

/** What start() puts into the page: JsSIP, the driver, the UAs by user, the event callback. */
interface DriverPage {
  JsSIP: JssipApi;
  __jssipDriver: typeof jssipDriver;
  __peers: Record<string, JssipDriver>;
  __conformanceEvent(id: string, type: string, detail?: string): void;
}

/** One Chromium with one page that hosts any number of JsSIP UAs. */
export class JssipBrowser {
  readonly browser: Browser;
  readonly page: Page;
  readonly #server: http.Server;
  readonly #logs = new Map<string, EventLog>();
  readonly consoleErrors: string[] = [];
  #closed = false;

  // Playwright kills the browsers it launched when this process exits, whatever the reason.
  private constructor(browser: Browser, page: Page, server: http.Server) {
    this.browser = browser;
    this.page = page;
    this.#server = server;
  }

  static async start(): Promise<JssipBrowser> {
    const bundle = jssipBundle();
    const server = http.createServer((req, res) => {
      if (req.url === '/jssip.js') {
        res.writeHead(200, { 'Content-Type': 'text/javascript' });
        res.end(bundle);
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<!doctype html><title>conformance</title><script src="/jssip.js"></script>');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const browser = await chromium
      .launch({
        executablePath: CHROMIUM,
        args: chromiumArgs(),
      })
      .catch(async (err: Error) => {
        await new Promise((r) => server.close(() => r(undefined)));
        throw err;
      });
    try {
      const context = await browser.newContext({ permissions: ['microphone'] });
      const page = await context.newPage();
      const jb = new JssipBrowser(browser, page, server);
      page.on('console', (m) => {
        if (m.type() === 'error') jb.consoleErrors.push(m.text());
      });
      await page.exposeFunction('__conformanceEvent', (id: string, type: string, detail?: string) => {
        jb.#logs.get(id)?.push(type as never, detail);
      });
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      await page.addScriptTag({ content: `window.__jssipDriver = ${jssipDriver.toString()}; window.__peers = {};` });
      return jb;
    } catch (err) {
      await browser.close().catch(() => {});
      await new Promise((r) => server.close(() => r(undefined)));
      throw err;
    }
  }

  /** A new UA in the page. */
  async peer(opts: { wsUrl: string; user: string; label?: string }): Promise<JssipBrowserPeer> {
    const peer = new JssipBrowserPeer(this, opts.label ?? 'jssip-chromium', opts.user);
    this.#logs.set(opts.user, peer.log);
    await this.page.evaluate(
      ({ wsUrl, user, contactUri }) => {
        const w = globalThis as unknown as DriverPage;
        w.__peers[user] = w.__jssipDriver(
          w.JsSIP,
          { wsUrl, uri: `sip:${user}@127.0.0.1`, contactUri, mediaConstraints: { audio: true, video: false } },
          (type: string, detail?: string) => w.__conformanceEvent(user, type, detail),
        );
      },
      { wsUrl: opts.wsUrl, user: opts.user, contactUri: peer.uri },
    );
    await peer.waitRegistered();
    return peer;
  }

  exec(user: string, cmd: keyof JssipDriver, arg?: string): Promise<unknown> {
    return this.page.evaluate(
      ({ user, cmd, arg }) => {
        const w = globalThis as unknown as DriverPage;
        return (w.__peers[user]![cmd] as (a?: string) => unknown)(arg);
      },
      { user, cmd, arg },
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.browser.close().catch(() => {});
    await new Promise((r) => this.#server.close(() => r(undefined)));
  }
}

/** One JsSIP UA in the shared Chromium page. */
export class JssipBrowserPeer extends JssipPeerBase {
  readonly kind = 'jssip-chromium' as const;
  readonly #browser: JssipBrowser;
  readonly #user: string;

  constructor(browser: JssipBrowser, label: string, user: string) {
    super(label, user);
    this.#browser = browser;
    this.#user = user;
  }

  protected exec(cmd: keyof JssipDriver, arg?: string): Promise<unknown> {
    return this.#browser.exec(this.#user, cmd, arg);
  }

  async close(): Promise<void> {
    await this.#browser.exec(this.#user, 'stop').catch(() => {});
  }
}
