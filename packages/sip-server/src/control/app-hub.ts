import { EnhancedEventEmitter } from '@conclave/events';
import { RouteTable } from '../routes.ts';
import type { AppConnection, AppCommand } from './app-connection.ts';
import { cdrFrame, sipFrame } from './wire-protocol.ts';
import { wireTransport, type Flow, type HostPort } from '../transport/flow.ts';

export interface AppHubEvents {
  /** An app authenticated (its `authenticate` was answered OK). */
  authenticated: [app: AppConnection];
  /** An app's connection closed (`app.authenticated` tells whether it had been announced). */
  closed: [app: AppConnection];
  /** A `sip` or `proxy` command of an authenticated app: what it means is the agent's business. */
  command: [app: AppConnection, cmd: AppCommand];
}

/**
 * The control-port side of the server: the connected drachtio apps, their authentication, the routes they
 * asked for (`route|invite`), keep-alives, and delivery of `sip|…` and `cdr:…` messages to them.
 */
export class AppHub extends EnhancedEventEmitter<AppHubEvents> {
  readonly #secret: string;
  readonly #version: string;
  readonly #hostports: () => string;
  readonly #apps = new Set<AppConnection>();
  readonly #routes = new RouteTable();
  #closed = false;

  constructor(opts: { secret: string; version: string; hostports: () => string }) {
    super();
    this.#secret = opts.secret;
    this.#version = opts.version;
    this.#hostports = opts.hostports;
  }

  get size(): number {
    return this.#apps.size;
  }

  attach(app: AppConnection): void {
    this.#apps.add(app);
    app.onCommand = (cmd) => this.#onCommand(app, cmd);
    app.onClose = () => this.#onClosed(app);
  }

  /** Next live app that routed this verb (lower-case method, or `cdr:start` …), round-robin. */
  pick(verb: string): AppConnection | undefined {
    return this.#routes.pick(verb);
  }

  /** `sip|<source>|…` to an app (dropped if its connection is gone). */
  sendSip(
    app: AppConnection,
    source: string,
    bytes: Buffer,
    transport: string,
    remote: HostPort,
    txnId: string,
    dialogId: string,
    extra: string,
  ): void {
    if (app.closed) return;
    app.send(sipFrame(source, bytes, transport, remote, txnId, dialogId, extra));
  }

  /** A message from the network (`sip|network|…`) as received on `flow`. */
  fromNetwork(app: AppConnection, bytes: Buffer, flow: Flow, txnId: string, dialogId: string, extra = ''): void {
    this.sendSip(app, 'network', bytes, wireTransport(flow.transport), flow.remote, txnId, dialogId, extra);
  }

  /** Call detail records go to one app that routed `cdr:<type>` (round-robin). */
  cdr(type: 'attempt' | 'start' | 'stop', source: 'network' | 'application', bytes: Buffer, extra?: string): void {
    const app = this.#routes.pick(`cdr:${type}`);
    if (!app) return;
    app.send(cdrFrame(type, source, bytes, extra));
  }

  close(): void {
    this.#closed = true;
    for (const app of this.#apps) app.destroy();
    this.#apps.clear();
  }

  #onClosed(app: AppConnection): void {
    if (!this.#apps.delete(app)) return;
    this.#routes.removeApp(app);
    this.emit('closed', app);
  }

  #onCommand(app: AppConnection, cmd: AppCommand): void {
    if (this.#closed) return;
    if (!app.authenticated) {
      this.#authenticate(app, cmd);
      return;
    }
    switch (cmd.type) {
      case 'route': {
        const verb = (cmd.args[0] ?? '').toLowerCase();
        if (verb) this.#routes.add(verb, app);
        app.respond(cmd.msgId, 'OK');
        app.log.debug('route added', { verb });
        return;
      }
      case 'remove_route': {
        const verb = (cmd.args[0] ?? '').toLowerCase();
        this.#routes.remove(verb, app);
        app.respond(cmd.msgId, 'OK');
        return;
      }
      case 'ping':
        app.respond(cmd.msgId, 'OK', 'pong');
        return;
      case 'sip':
      case 'proxy':
        this.emit('command', app, cmd);
        return;
      case 'authenticate':
        app.respond(cmd.msgId, 'OK', this.#hostports(), this.#version, this.#hostports());
        return;
      default:
        app.log.warn('unsupported app command', { type: cmd.type });
        app.respond(cmd.msgId, 'NOK', `unsupported command ${cmd.type}`);
    }
  }

  #authenticate(app: AppConnection, cmd: AppCommand): void {
    if (cmd.type !== 'authenticate') {
      app.log.warn('command before authentication, closing', { type: cmd.type });
      app.respond(cmd.msgId, 'NO', 'not authenticated');
      app.close();
      return;
    }
    if (cmd.args[0] !== this.#secret) {
      app.log.warn('app authentication failed: incorrect secret');
      app.respond(cmd.msgId, 'NO', 'incorrect secret');
      app.close();
      return;
    }
    app.authenticated = true;
    app.tags = (cmd.args[1] ?? '').split(',').filter(Boolean);
    const hp = this.#hostports();
    app.respond(cmd.msgId, 'OK', hp, this.#version, hp);
    app.log.info(app.outbound ? 'outbound app connection authenticated' : 'app connected', {
      tags: app.tags.join(',') || undefined,
    });
    this.emit('authenticated', app);
  }
}
