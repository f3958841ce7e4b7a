/**
 * A scriptable SIP user agent over a real UDP socket: REGISTER, INVITE/ACK/BYE, in-dialog requests,
 * SUBSCRIBE, REFER, answering incoming requests, and digest authentication (MD5 or SHA-256, whatever the
 * challenge says). Loopback only, so it does not retransmit; it does ACK, as a UAC must.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { EnhancedEventEmitter } from '@conclave/events';
import { computeDigestResponse, parseDigestParams, type DigestAlgorithm } from '@conclave/sip-digest';
import { parseMessage, SipRequest, SipResponse, tagOf, type SipMessage } from '@conclave/sip-message';
import { answerFor, identityOf, newAnswerIdentity, type AnswerIdentity } from './sdp.ts';

export interface SipTestUaOptions {
  user: string;
  password?: string;
  displayName?: string;
  domain: string;
  /** The SIP server (UDP). */
  server: { host: string; port: number };
  userAgent?: string;
  /** The address to bind and to put in Via and Contact, default 127.0.0.1. */
  localAddress?: string;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: string;
  contentType?: string;
  /** Milliseconds to wait for a final response. */
  timeoutMs?: number;
}

export interface TransactionResult {
  final: SipResponse;
  provisional: SipResponse[];
  request: SipRequest;
}

export interface IncomingRequest {
  request: SipRequest;
  /** Sends a response; a To-tag is added for dialog-creating requests. */
  respond(
    status: number,
    reason?: string,
    options?: { headers?: Record<string, string>; body?: string; contentType?: string },
  ): void;
}

type UaEvents = { request: [incoming: IncomingRequest] };

const rand = (n: number) => randomBytes(n).toString('hex');

export class SipTestUa extends EnhancedEventEmitter<UaEvents> {
  readonly options: SipTestUaOptions;
  readonly aor: string;
  readonly #socket: Socket;
  #port = 0;
  #cseq = 1;
  readonly #pending = new Map<string, (msg: SipResponse) => void>();
  readonly dialogs = new Map<string, SipTestDialog>();
  /** Last messages received, for assertions on what the server sent. */
  readonly received: SipMessage[] = [];
  #localTagByCallId = new Map<string, string>();

  private constructor(options: SipTestUaOptions) {
    super();
    this.options = options;
    this.aor = `sip:${options.user}@${options.domain}`;
    this.#socket = createSocket('udp4');
    this.#socket.on('message', (data) => this.#onMessage(data));
  }

  static async create(options: SipTestUaOptions): Promise<SipTestUa> {
    const ua = new SipTestUa(options);
    await new Promise<void>((ok) => ua.#socket.bind(0, options.localAddress ?? '127.0.0.1', () => ok()));
    ua.#port = ua.#socket.address().port;
    return ua;
  }

  get contact(): string {
    // +sip.ice: this agent speaks ICE/DTLS media like a browser (RFC 5768), so the focus offers it WebRTC.
    return `<sip:${this.options.user}@${this.host}:${this.#port};transport=udp>;+sip.ice`;
  }

  /** The address this agent sends from (Via, Contact). */
  get host(): string {
    return this.options.localAddress ?? '127.0.0.1';
  }

  get port(): number {
    return this.#port;
  }

  close(): void {
    this.#socket.close();
  }

  register(expires = 300): Promise<TransactionResult> {
    return this.send('REGISTER', `sip:${this.options.domain}`, {
      headers: { To: `<${this.aor}>`, Expires: String(expires) },
    });
  }

  /** SUBSCRIBE; on a 2xx a dialog is returned (NOTIFYs: notifiesFor(callId)). */
  async subscribe(
    uri: string,
    event: string,
    expires = 600,
    options: RequestOptions = {},
  ): Promise<TransactionResult & { dialog?: SipTestDialog }> {
    const callId = `${rand(8)}@testua`;
    const result = await this.send(
      'SUBSCRIBE',
      uri,
      {
        ...options,
        headers: {
          Event: event,
          Expires: String(expires),
          Accept: 'application/conference-info+xml',
          ...options.headers,
        },
      },
      callId,
    );
    if (result.final.status >= 200 && result.final.status < 300) {
      const dialog = SipTestDialog.fromUacResponse(this, result.request, result.final);
      // The first NOTIFY may have come before the 2xx: take the focus's Contact from it if so.
      this.dialogs.set(dialog.callId, dialog);
      return { ...result, dialog };
    }
    return result;
  }

  /** Requests of a method received in one call (e.g. the NOTIFYs of a subscription), oldest first. */
  requestsFor(callId: string, method: string): SipRequest[] {
    return this.received.filter(
      (m): m is SipRequest => m.kind === 'request' && m.callId === callId && m.method === method,
    );
  }

  /** INVITE; on a 2xx the ACK is sent and a dialog returned. */
  async invite(
    target: string,
    sdp: string,
    options: RequestOptions = {},
  ): Promise<TransactionResult & { dialog?: SipTestDialog }> {
    const result = await this.send('INVITE', target, { ...options, body: sdp, contentType: 'application/sdp' });
    if (result.final.status >= 200 && result.final.status < 300) {
      const dialog = SipTestDialog.fromUacResponse(this, result.request, result.final);
      dialog.identity = identityOf(sdp) ?? dialog.identity; // answers to re-offers keep our transport
      this.dialogs.set(dialog.callId, dialog);
      dialog.sendAck(result.final);
      return { ...result, dialog };
    }
    return result;
  }

  /** Sends an out-of-dialog request, answering one digest challenge. */
  async send(
    method: string,
    uri: string,
    options: RequestOptions = {},
    callId = `${rand(8)}@testua`,
  ): Promise<TransactionResult> {
    const fromTag = rand(4);
    this.#localTagByCallId.set(callId, fromTag);
    const build = (auth?: string) => {
      const req = new SipRequest(method, uri);
      req.append('Via', `SIP/2.0/UDP ${this.host}:${this.#port};rport;branch=z9hG4bK${rand(8)}`);
      req.append('Max-Forwards', '70');
      const display = this.options.displayName ? `"${this.options.displayName}" ` : '';
      req.append('From', `${display}<${this.aor}>;tag=${fromTag}`);
      req.append('To', options.headers?.['To'] ?? `<${uri}>`);
      req.append('Call-ID', callId);
      req.append('CSeq', `${this.#cseq++} ${method}`);
      req.append('Contact', this.contact);
      req.append('User-Agent', this.options.userAgent ?? 'conclave-test-ua');
      for (const [k, v] of Object.entries(options.headers ?? {})) if (k !== 'To') req.append(k, v);
      if (auth) req.append('Authorization', auth);
      req.setBody(options.body ?? '', options.body ? (options.contentType ?? 'application/sdp') : undefined);
      return req;
    };
    let request = build();
    let result = await this.transact(request, options.timeoutMs);
    if ((result.final.status === 401 || result.final.status === 407) && this.options.password !== undefined) {
      if (method === 'INVITE') this.#ackNon2xx(request, result.final);
      const challenge = result.final.get(result.final.status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate');
      request = build(this.#authorize(method, uri, challenge ?? ''));
      result = await this.transact(request, options.timeoutMs);
    }
    if (method === 'INVITE' && result.final.status >= 300) this.#ackNon2xx(request, result.final);
    return result;
  }

  /** Sends a request and collects responses until a final one. */
  transact(request: SipRequest, timeoutMs = 10_000): Promise<TransactionResult> {
    const branch = /branch=([^;\s]+)/.exec(request.get('Via') ?? '')?.[1] ?? '';
    const key = `${branch}|${request.method === 'ACK' ? 'INVITE' : request.method}`;
    const provisional: SipResponse[] = [];
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(key);
        reject(new Error(`${request.method} ${request.uri}: no final response within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(key, (res) => {
        if (res.status < 200) {
          provisional.push(res);
          return;
        }
        clearTimeout(timer);
        this.#pending.delete(key);
        resolve({ final: res, provisional, request });
      });
      this.sendRaw(request);
    });
  }

  sendRaw(message: SipMessage | string): void {
    const data = typeof message === 'string' ? Buffer.from(message) : message.toBuffer();
    this.#socket.send(data, this.options.server.port, this.options.server.host);
  }

  nextCSeq(): number {
    return this.#cseq++;
  }

  /** Answers an incoming INVITE with 200 and an SDP answer; returns the new dialog. */
  acceptInvite(incoming: IncomingRequest, sdp: string): SipTestDialog {
    const req = incoming.request;
    const localTag = this.#localTagByCallId.get(req.callId) ?? rand(4);
    this.#localTagByCallId.set(req.callId, localTag);
    incoming.respond(200, 'OK', { body: sdp, contentType: 'application/sdp' });
    const dialog: SipTestDialog = new SipTestDialog(this, {
      callId: req.callId,
      localUri: req.get('To')!.replace(/;tag=.*$/, ''),
      remoteUri: req.get('From')!.replace(/;tag=.*$/, ''),
      localTag,
      remoteTag: tagOf(req.from) ?? '',
      remoteTarget: req.contacts[0]?.uri ?? req.uri,
      remoteSdp: req.body.toString(),
    });
    dialog.identity = identityOf(sdp) ?? dialog.identity;
    dialog.routeSet = recordRoutes(req);
    this.dialogs.set(req.callId, dialog);
    return dialog;
  }

  #authorize(method: string, uri: string, challenge: string): string {
    const c = parseDigestParams(challenge);
    if (!c) throw new Error(`unreadable challenge: ${challenge}`);
    const algorithm = (c['algorithm'] ?? 'MD5') as DigestAlgorithm;
    const cnonce = rand(8);
    const nc = '00000001';
    const qop = c['qop']
      ?.split(',')
      .map((s) => s.trim())
      .includes('auth')
      ? 'auth'
      : undefined;
    const response = computeDigestResponse({
      algorithm,
      username: this.options.user,
      realm: c['realm'] ?? '',
      password: this.options.password ?? '',
      method,
      uri,
      nonce: c['nonce'] ?? '',
      qop,
      nc,
      cnonce,
    });
    return (
      `Digest username="${this.options.user}", realm="${c['realm']}", nonce="${c['nonce']}", uri="${uri}", ` +
      `response="${response}", algorithm=${algorithm}` +
      (qop ? `, qop=auth, nc=${nc}, cnonce="${cnonce}"` : '')
    );
  }

  #ackNon2xx(request: SipRequest, response: SipResponse): void {
    const ack = new SipRequest('ACK', request.uri);
    ack.append('Via', request.get('Via')!);
    ack.append('Max-Forwards', '70');
    ack.append('From', request.get('From')!);
    ack.append('To', response.get('To')!);
    ack.append('Call-ID', request.get('Call-ID')!);
    ack.append('CSeq', `${request.cseq.seq} ACK`);
    ack.setBody('');
    this.sendRaw(ack);
  }

  #onMessage(data: Buffer): void {
    let msg: SipMessage;
    try {
      msg = parseMessage(data);
    } catch {
      return;
    }
    this.received.push(msg);
    if (this.received.length > 500) this.received.shift();
    if (msg.kind === 'response') {
      const branch = msg.topVia ? /branch=([^;\s]+)/.exec(msg.get('Via') ?? '')?.[1] : undefined;
      this.#pending.get(`${branch}|${msg.cseq.method}`)?.(msg);
      return;
    }
    this.#onRequest(msg);
  }

  #onRequest(request: SipRequest): void {
    if (request.method === 'ACK') return;
    let toTag = tagOf(request.to);
    if (!toTag) {
      toTag = this.#localTagByCallId.get(request.callId) ?? rand(4);
      this.#localTagByCallId.set(request.callId, toTag);
    }
    const dialog = this.dialogs.get(request.callId);
    const respond: IncomingRequest['respond'] = (status, reason, options = {}) => {
      const res = new SipResponse(status, reason ?? (status === 200 ? 'OK' : 'Response'));
      for (const v of request.getAll('Via')) res.append('Via', v);
      res.append('From', request.get('From')!);
      res.append('To', tagOf(request.to) ? request.get('To')! : `${request.get('To')};tag=${toTag}`);
      res.append('Call-ID', request.callId);
      res.append('CSeq', request.get('CSeq')!);
      if (status >= 200 && status < 300 && ['INVITE', 'SUBSCRIBE', 'REFER'].includes(request.method)) {
        for (const rr of request.getAll('Record-Route')) res.append('Record-Route', rr);
        res.append('Contact', this.contact);
      }
      for (const [k, v] of Object.entries(options.headers ?? {})) res.append(k, v);
      res.setBody(options.body ?? '', options.body ? (options.contentType ?? 'application/sdp') : undefined);
      this.sendRaw(res);
    };
    if (request.method === 'BYE' && dialog) {
      this.dialogs.delete(request.callId);
      dialog.emit('bye', request);
    }
    if (request.method === 'INVITE' && dialog && request.body.length > 0) {
      // A re-offer in one of our dialogs: answer it like a browser would, same transport identity.
      dialog.remoteSdp = request.body.toString();
      const target = request.contacts[0];
      if (target) dialog.remoteTarget = target.uri; // target refresh (RFC 3261 §12.2.2)
      dialog.remoteContactHeader = request.get('Contact');
      if (dialog.autoAnswer) {
        respond(200, 'OK', { body: answerFor(dialog.remoteSdp, dialog.identity), contentType: 'application/sdp' });
        dialog.reinvites.push(request);
        dialog.emit('reinvite', request);
        return;
      }
    }
    if (request.method === 'NOTIFY') dialog?.emit('notify', request);
    if (this.listenerCount('request') > 0) this.emit('request', { request, respond });
    else if (request.method === 'INVITE') respond(486, 'Busy Here');
    else respond(200);
  }
}

type DialogEvents = { bye: [request: SipRequest]; notify: [request: SipRequest]; reinvite: [request: SipRequest] };

/** The UA's view of one dialog: enough to send in-dialog requests and see what arrives. */
export class SipTestDialog extends EnhancedEventEmitter<DialogEvents> {
  readonly callId: string;
  readonly localUri: string;
  readonly remoteUri: string;
  readonly localTag: string;
  readonly remoteTag: string;
  remoteTarget: string;
  remoteSdp: string;
  /** Answer re-INVITEs automatically (with answerFor and this identity). */
  autoAnswer = true;
  identity: AnswerIdentity = newAnswerIdentity();
  readonly reinvites: SipRequest[] = [];
  /** The remote Contact as last seen, parameters included (`;isfocus`). */
  remoteContactHeader: string | undefined;
  /** Route set (RFC 3261 §12.1): Route headers of every in-dialog request; empty without a proxy. */
  routeSet: string[] = [];
  readonly #ua: SipTestUa;

  constructor(
    ua: SipTestUa,
    fields: {
      callId: string;
      localUri: string;
      remoteUri: string;
      localTag: string;
      remoteTag: string;
      remoteTarget: string;
      remoteSdp: string;
    },
  ) {
    super();
    this.#ua = ua;
    this.callId = fields.callId;
    this.localUri = fields.localUri;
    this.remoteUri = fields.remoteUri;
    this.localTag = fields.localTag;
    this.remoteTag = fields.remoteTag;
    this.remoteTarget = fields.remoteTarget;
    this.remoteSdp = fields.remoteSdp;
  }

  static fromUacResponse(ua: SipTestUa, request: SipRequest, response: SipResponse): SipTestDialog {
    const contact = response.contacts[0]?.uri ?? request.uri;
    const dialog = new SipTestDialog(ua, {
      callId: request.callId,
      localUri: request.get('From')!.replace(/;tag=.*$/, ''),
      remoteUri: response.get('To')!.replace(/;tag=.*$/, ''),
      localTag: tagOf(request.from)!,
      remoteTag: tagOf(response.to) ?? '',
      remoteTarget: contact,
      remoteSdp: response.body.toString(),
    });
    dialog.remoteContactHeader = response.get('Contact');
    dialog.routeSet = recordRoutes(response).reverse();
    return dialog;
  }

  /** The Contact of the remote party as it appeared, parameters included (e.g. `;isfocus`). */
  static contactHeaderOf(response: SipResponse): string | undefined {
    return response.get('Contact');
  }

  build(method: string, options: RequestOptions = {}, cseq = this.#ua.nextCSeq()): SipRequest {
    const req = new SipRequest(method, this.remoteTarget);
    req.append('Via', `SIP/2.0/UDP ${this.#ua.host}:${this.#ua.port};rport;branch=z9hG4bK${rand(8)}`);
    req.append('Max-Forwards', '70');
    req.append('From', `${this.localUri};tag=${this.localTag}`);
    req.append('To', `${this.remoteUri};tag=${this.remoteTag}`);
    req.append('Call-ID', this.callId);
    req.append('CSeq', `${cseq} ${method}`);
    for (const route of this.routeSet) req.append('Route', route);
    req.append('Contact', this.#ua.contact);
    for (const [k, v] of Object.entries(options.headers ?? {})) req.append(k, v);
    req.setBody(options.body ?? '', options.body ? (options.contentType ?? 'application/sdp') : undefined);
    return req;
  }

  request(method: string, options: RequestOptions = {}): Promise<TransactionResult> {
    return this.#ua.transact(this.build(method, options), options.timeoutMs);
  }

  /** re-INVITE with a new offer; ACKs a 2xx. */
  async reinvite(sdp: string): Promise<TransactionResult> {
    const result = await this.request('INVITE', { body: sdp, contentType: 'application/sdp' });
    if (result.final.status < 300) this.sendAck(result.final, result.request.cseq.seq);
    return result;
  }

  bye(): Promise<TransactionResult> {
    this.#ua.dialogs.delete(this.callId);
    return this.request('BYE');
  }

  sendAck(response: SipResponse, cseq = response.cseq.seq): void {
    const ack = this.build('ACK', {}, cseq);
    this.#ua.sendRaw(ack);
  }
}

/** Record-Route entries of a message, in order (one header may hold several, comma-separated). */
function recordRoutes(message: SipMessage): string[] {
  return message
    .getAll('Record-Route')
    .flatMap((v) => v.match(/<[^>]*>[^,]*/g) ?? [])
    .map((r) => r.trim());
}
