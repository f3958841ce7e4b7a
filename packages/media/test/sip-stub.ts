/**
 * Test helper: the smallest SIP user agent (UDP, one request at a time, no authentication) that lets
 * a real phone (baresip) call in or be called, so media tests can take its SDP offers and answers.
 * It is not a SIP stack: just enough of RFC 3261 for INVITE/200/ACK, re-INVITE and BYE on loopback.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';

interface Message {
  startLine: string;
  headers: [string, string][];
  body: string;
}

function parseMessage(text: string): Message | undefined {
  const split = text.indexOf('\r\n\r\n');
  if (split < 0) return undefined;
  const [startLine, ...lines] = text.slice(0, split).split('\r\n');
  const headers = lines.map((l): [string, string] => {
    const colon = l.indexOf(':');
    return [l.slice(0, colon).trim().toLowerCase(), l.slice(colon + 1).trim()];
  });
  return { startLine: startLine ?? '', headers, body: text.slice(split + 4) };
}

const COMPACT: Record<string, string> = {
  v: 'via',
  f: 'from',
  t: 'to',
  i: 'call-id',
  m: 'contact',
  l: 'content-length',
  c: 'content-type',
};

function header(m: Message, name: string): string | undefined {
  return m.headers.find(([n]) => (COMPACT[n] ?? n) === name)?.[1];
}
function headersOf(m: Message, name: string): string[] {
  return m.headers.filter(([n]) => (COMPACT[n] ?? n) === name).map(([, v]) => v);
}
const tag = (): string => randomBytes(6).toString('hex');
const branch = (): string => `z9hG4bK${randomBytes(8).toString('hex')}`;

function uriOf(nameAddr: string): string {
  const m = /<([^>]+)>/.exec(nameAddr);
  return (m ? m[1]! : nameAddr.split(';')[0]!).trim();
}
function hostPortOf(uri: string): { host: string; port: number } {
  const m = /^sips?:(?:[^@]+@)?([^:;>]+)(?::(\d+))?/.exec(uri);
  if (!m) throw new Error(`bad SIP URI ${uri}`);
  return { host: m[1]!, port: Number(m[2] ?? 5060) };
}

interface Dialog {
  callId: string;
  role: 'uas' | 'uac';
  localUri: string;
  localTag: string;
  remoteUri: string;
  remoteTag: string;
  remoteTarget: string;
  cseq: number;
}

export interface IncomingInvite {
  callId: string;
  /** A re-INVITE within an established dialog. */
  reinvite: boolean;
  sdp: string;
}

export class SipStub {
  readonly socket: dgram.Socket;
  readonly port: number;
  readonly log: string[] = [];
  /** Answer an incoming INVITE: return the SDP for the 200, or throw (→ 488, Warning: message). */
  onInvite: (invite: IncomingInvite) => Promise<string> = () => Promise.reject(new Error('no handler'));
  onBye: (callId: string) => void = () => undefined;
  readonly #dialogs = new Map<string, Dialog>();
  /** Responses to server transactions, by Via branch (retransmitted requests get the same answer). */
  readonly #responses = new Map<string, string>();
  /** 2xx to INVITE retransmitted until the ACK (RFC 3261 §13.3.1.4). */
  readonly #unacked = new Map<string, NodeJS.Timeout>();
  readonly #waiters = new Map<string, (m: Message) => void>();

  private constructor(socket: dgram.Socket) {
    this.socket = socket;
    this.port = socket.address().port;
    socket.on('message', (buf, rinfo) => this.#onMessage(buf.toString(), rinfo));
  }

  static async start(): Promise<SipStub> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new SipStub(socket);
  }

  get contact(): string {
    return `<sip:focus@127.0.0.1:${this.port}>`;
  }

  #send(text: string, port: number, host: string): void {
    this.log.push(`>> ${text.split('\r\n')[0]}`);
    this.socket.send(text, port, host);
  }

  #onMessage(text: string, rinfo: dgram.RemoteInfo): void {
    const m = parseMessage(text);
    if (!m) return;
    this.log.push(`<< ${m.startLine}`);
    if (m.startLine.startsWith('SIP/2.0')) {
      const key = `${header(m, 'call-id')} ${header(m, 'cseq')}`;
      this.#waiters.get(key)?.(m);
      return;
    }
    const method = m.startLine.split(' ')[0]!;
    const via = header(m, 'via') ?? '';
    const txn = `${/branch=([^;,\s]+)/.exec(via)?.[1] ?? ''} ${method === 'ACK' ? 'INVITE' : method}`;
    if (method === 'ACK') {
      const key = `${header(m, 'call-id')} ${(header(m, 'cseq') ?? '').split(' ')[0]}`;
      clearTimeout(this.#unacked.get(key));
      this.#unacked.delete(key);
      return;
    }
    const previous = this.#responses.get(txn);
    if (previous !== undefined) {
      if (previous) this.#send(previous, rinfo.port, rinfo.address);
      return;
    }
    if (method === 'INVITE') void this.#onInvite(m, txn, rinfo);
    else if (method === 'BYE') {
      this.#respond(m, txn, rinfo, 200, 'OK');
      const callId = header(m, 'call-id') ?? '';
      this.#dialogs.delete(callId);
      this.onBye(callId);
    } else if (method === 'CANCEL' || method === 'OPTIONS' || method === 'NOTIFY')
      this.#respond(m, txn, rinfo, 200, 'OK');
    else this.#respond(m, txn, rinfo, 501, 'Not Implemented');
  }

  #response(req: Message, status: number, reason: string, extra: string[] = [], body = '', toTag?: string): string {
    let to = header(req, 'to') ?? '';
    if (toTag && !/;tag=/.test(to)) to += `;tag=${toTag}`;
    const lines = [
      `SIP/2.0 ${status} ${reason}`,
      ...headersOf(req, 'via').map((v) => `Via: ${v}`),
      `From: ${header(req, 'from')}`,
      `To: ${to}`,
      `Call-ID: ${header(req, 'call-id')}`,
      `CSeq: ${header(req, 'cseq')}`,
      ...extra,
    ];
    if (body) lines.push('Content-Type: application/sdp');
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`, '', body);
    return lines.join('\r\n');
  }

  #respond(
    req: Message,
    txn: string,
    rinfo: dgram.RemoteInfo,
    status: number,
    reason: string,
    extra: string[] = [],
    body = '',
    toTag?: string,
  ): void {
    const text = this.#response(req, status, reason, extra, body, toTag);
    if (status >= 200) this.#responses.set(txn, text);
    this.#send(text, rinfo.port, rinfo.address);
  }

  async #onInvite(m: Message, txn: string, rinfo: dgram.RemoteInfo): Promise<void> {
    this.#responses.set(txn, '');
    const callId = header(m, 'call-id') ?? '';
    let dialog = this.#dialogs.get(callId);
    const reinvite = dialog !== undefined;
    if (!dialog) {
      const from = header(m, 'from') ?? '';
      dialog = {
        callId,
        role: 'uas',
        localUri: uriOf(header(m, 'to') ?? ''),
        localTag: tag(),
        remoteUri: uriOf(from),
        remoteTag: /;tag=([^;]+)/.exec(from)?.[1] ?? '',
        remoteTarget: uriOf(header(m, 'contact') ?? from),
        cseq: 100,
      };
    }
    const trying = this.#response(m, 100, 'Trying');
    this.#send(trying, rinfo.port, rinfo.address);
    let answer: string;
    try {
      answer = await this.onInvite({ callId, reinvite, sdp: m.body });
    } catch (err) {
      const warning = String((err as Error).message).replace(/"/g, "'");
      this.#respond(
        m,
        txn,
        rinfo,
        488,
        'Not Acceptable Here',
        [`Warning: 399 127.0.0.1 "${warning}"`],
        '',
        dialog.localTag,
      );
      return;
    }
    this.#dialogs.set(callId, dialog);
    const ok = this.#response(m, 200, 'OK', [`Contact: ${this.contact}`], answer, dialog.localTag);
    this.#responses.set(txn, ok);
    this.#send(ok, rinfo.port, rinfo.address);
    const key = `${callId} ${(header(m, 'cseq') ?? '').split(' ')[0]}`;
    let interval = 500;
    const retransmit = (): void => {
      this.#send(ok, rinfo.port, rinfo.address);
      interval = Math.min(interval * 2, 4000);
      this.#unacked.set(key, setTimeout(retransmit, interval));
    };
    this.#unacked.set(key, setTimeout(retransmit, interval));
  }

  /** Sends a request and resolves with its final response (retransmitted every 500 ms until one arrives). */
  #request(method: string, dialog: Dialog, body = ''): Promise<Message> {
    const { host, port } = hostPortOf(dialog.remoteTarget);
    const cseq = `${dialog.cseq} ${method}`;
    const fromTag = dialog.localTag;
    const lines = [
      `${method} ${dialog.remoteTarget} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${this.port};branch=${branch()};rport`,
      'Max-Forwards: 70',
      `From: <${dialog.localUri}>;tag=${fromTag}`,
      `To: <${dialog.remoteUri}>${dialog.remoteTag ? `;tag=${dialog.remoteTag}` : ''}`,
      `Call-ID: ${dialog.callId}`,
      `CSeq: ${cseq}`,
      `Contact: ${this.contact}`,
    ];
    if (body) lines.push('Content-Type: application/sdp');
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`, '', body);
    const text = lines.join('\r\n');
    const key = `${dialog.callId} ${cseq}`;
    return new Promise<Message>((resolve, reject) => {
      let tries = 0;
      const timer = setInterval(() => {
        if (++tries > 10) {
          clearInterval(timer);
          this.#waiters.delete(key);
          reject(new Error(`${method} timed out`));
          return;
        }
        this.#send(text, port, host);
      }, 500);
      this.#waiters.set(key, (res) => {
        clearInterval(timer);
        const status = Number(res.startLine.split(' ')[1]);
        if (status < 200) return;
        this.#waiters.delete(key);
        resolve(res);
      });
      this.#send(text, port, host);
    });
  }

  #ack(dialog: Dialog, cseq: number): void {
    const { host, port } = hostPortOf(dialog.remoteTarget);
    const text = [
      `ACK ${dialog.remoteTarget} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${this.port};branch=${branch()};rport`,
      'Max-Forwards: 70',
      `From: <${dialog.localUri}>;tag=${dialog.localTag}`,
      `To: <${dialog.remoteUri}>;tag=${dialog.remoteTag}`,
      `Call-ID: ${dialog.callId}`,
      `CSeq: ${cseq} ACK`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    this.#send(text, port, host);
  }

  /** Calls `target` (sip:user@host:port) with an SDP offer; resolves with the 200's answer once ACKed. */
  async invite(target: string, sdp: string): Promise<{ callId: string; answer: string }> {
    const dialog: Dialog = {
      callId: randomBytes(8).toString('hex'),
      role: 'uac',
      localUri: `sip:focus@127.0.0.1:${this.port}`,
      localTag: tag(),
      remoteUri: target,
      remoteTag: '',
      remoteTarget: target,
      cseq: 1,
    };
    const res = await this.#request('INVITE', dialog, sdp);
    const status = Number(res.startLine.split(' ')[1]);
    dialog.remoteTag = /;tag=([^;]+)/.exec(header(res, 'to') ?? '')?.[1] ?? '';
    if (status >= 300) {
      this.#ack(dialog, dialog.cseq);
      throw new Error(`INVITE refused: ${res.startLine}`);
    }
    dialog.remoteTarget = uriOf(header(res, 'contact') ?? target);
    this.#ack(dialog, dialog.cseq);
    this.#dialogs.set(dialog.callId, dialog);
    return { callId: dialog.callId, answer: res.body };
  }

  /** Ends a dialog (either role). */
  async bye(callId: string): Promise<void> {
    const dialog = this.#dialogs.get(callId);
    if (!dialog) return;
    this.#dialogs.delete(callId);
    dialog.cseq += 1;
    await this.#request('BYE', dialog).catch(() => undefined);
  }

  close(): void {
    for (const t of this.#unacked.values()) clearTimeout(t);
    this.socket.close();
  }
}
