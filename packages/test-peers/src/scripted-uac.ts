/**
 * A hand-written UDP SIP endpoint for what no real phone can be told to do (never ACK a 2xx, CANCEL at
 * an exact moment). Its messages mirror the "scripted UAC" of /work/shared/drachtio-transcripts
 * (Call-ID scen-<id>@127.0.0.1, From tag ftag-<id>, branches z9hG4bK-<id>-…, User-Agent scripted-uac/1.0)
 * so its transcripts compare with those recordings. It does not retransmit (loopback).
 */
import dgram from 'node:dgram';
import { parseMessage, type SipMessage, type SipRequest, type SipResponse } from '@conclave/sip-message';
import { waitFor } from './wait.ts';

export const SCRIPTED_SDP = [
  'v=0',
  'o=carol 1001 1001 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 41000 RTP/AVP 0',
  'a=rtpmap:0 PCMU/8000',
  'a=sendrecv',
  '',
].join('\r\n');

export function sipText(lines: string[], body = ''): string {
  return `${lines.join('\r\n')}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

export class ScriptedUac {
  readonly socket = dgram.createSocket('udp4');
  readonly received: Array<{ msg: SipMessage; at: number }> = [];
  readonly server: { host: string; port: number };
  port = 0;
  /** Answer NOTIFY and BYE with 200 automatically. */
  autoAnswer = true;

  constructor(server: { host: string; port: number }) {
    this.server = server;
  }

  async bind(): Promise<this> {
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', () => r()));
    this.port = this.socket.address().port;
    this.socket.on('message', (buf) => {
      let msg: SipMessage;
      try {
        msg = parseMessage(buf);
      } catch {
        return;
      }
      this.received.push({ msg, at: Date.now() });
      if (this.autoAnswer && msg.kind === 'request' && (msg.method === 'NOTIFY' || msg.method === 'BYE'))
        this.respond(msg, 200, 'OK');
    });
    return this;
  }

  get me(): string {
    return `127.0.0.1:${this.port}`;
  }

  send(text: string): void {
    this.socket.send(Buffer.from(text), this.server.port, this.server.host);
  }

  invite(id: string, user: string, extra: string[] = []): void {
    this.send(
      sipText(
        [
          `INVITE sip:${user}@${this.server.host}:${this.server.port} SIP/2.0`,
          `Via: SIP/2.0/UDP ${this.me};branch=z9hG4bK-${id}-1;rport`,
          'Max-Forwards: 70',
          `From: <sip:carol@${this.me}>;tag=ftag-${id}`,
          `To: <sip:${user}@${this.server.host}:${this.server.port}>`,
          `Call-ID: scen-${id}@127.0.0.1`,
          'CSeq: 1 INVITE',
          `Contact: <sip:carol@${this.me}>`,
          'User-Agent: scripted-uac/1.0',
          ...extra,
          'Content-Type: application/sdp',
        ],
        SCRIPTED_SDP,
      ),
    );
  }

  /** CANCEL of the INVITE `invite(id, user)` sent (same branch, no To tag). */
  cancel(id: string, user: string): void {
    this.send(
      sipText([
        `CANCEL sip:${user}@${this.server.host}:${this.server.port} SIP/2.0`,
        `Via: SIP/2.0/UDP ${this.me};branch=z9hG4bK-${id}-1;rport`,
        'Max-Forwards: 70',
        `From: <sip:carol@${this.me}>;tag=ftag-${id}`,
        `To: <sip:${user}@${this.server.host}:${this.server.port}>`,
        `Call-ID: scen-${id}@127.0.0.1`,
        'CSeq: 1 CANCEL',
        'User-Agent: scripted-uac/1.0',
      ]),
    );
  }

  /** ACK for a non-2xx final response: same branch and Request-URI as the INVITE. */
  ackNon2xx(id: string, user: string, toTag: string): void {
    this.send(
      sipText([
        `ACK sip:${user}@${this.server.host}:${this.server.port} SIP/2.0`,
        `Via: SIP/2.0/UDP ${this.me};branch=z9hG4bK-${id}-1;rport`,
        'Max-Forwards: 70',
        `From: <sip:carol@${this.me}>;tag=ftag-${id}`,
        `To: <sip:${user}@${this.server.host}:${this.server.port}>;tag=${toTag}`,
        `Call-ID: scen-${id}@127.0.0.1`,
        'CSeq: 1 ACK',
        'User-Agent: scripted-uac/1.0',
      ]),
    );
  }

  /** An in-dialog request to the remote target (the 2xx's Contact). */
  inDialog(
    id: string,
    user: string,
    method: string,
    cseq: number,
    toTag: string,
    target: string,
    extra: string[] = [],
    body = '',
  ): void {
    this.send(
      sipText(
        [
          `${method} ${target} SIP/2.0`,
          `Via: SIP/2.0/UDP ${this.me};branch=z9hG4bK-${id}-${method.toLowerCase()}${method === 'ACK' ? '' : `-${cseq}`};rport`,
          'Max-Forwards: 70',
          `From: <sip:carol@${this.me}>;tag=ftag-${id}`,
          `To: <sip:${user}@${this.server.host}:${this.server.port}>;tag=${toTag}`,
          `Call-ID: scen-${id}@127.0.0.1`,
          `CSeq: ${cseq} ${method}`,
          // Header order as in the reference recordings: Contact, User-Agent, then the rest.
          ...extra.filter((x) => /^contact:/i.test(x)),
          'User-Agent: scripted-uac/1.0',
          ...extra.filter((x) => !/^contact:/i.test(x)),
        ],
        body,
      ),
    );
  }

  subscribe(id: string, user: string, expires = 3600): void {
    this.send(
      sipText([
        `SUBSCRIBE sip:${user}@${this.server.host}:${this.server.port} SIP/2.0`,
        `Via: SIP/2.0/UDP ${this.me};branch=z9hG4bK-${id}-1;rport`,
        'Max-Forwards: 70',
        `From: <sip:carol@${this.me}>;tag=ftag-${id}`,
        `To: <sip:${user}@${this.server.host}:${this.server.port}>`,
        `Call-ID: scen-${id}@127.0.0.1`,
        'CSeq: 1 SUBSCRIBE',
        `Contact: <sip:carol@${this.me}>`,
        'User-Agent: scripted-uac/1.0',
        'Event: presence',
        `Expires: ${expires}`,
        'Accept: application/pidf+xml',
      ]),
    );
  }

  respond(req: SipRequest, status: number, reason: string): void {
    this.send(
      sipText([
        `SIP/2.0 ${status} ${reason}`,
        ...req.getAll('via').map((v) => `Via: ${v}`),
        `From: ${req.get('from')}`,
        `To: ${req.get('to')}`,
        `Call-ID: ${req.get('call-id')}`,
        `CSeq: ${req.get('cseq')}`,
      ]),
    );
  }

  responses(pred: (r: SipResponse) => boolean = () => true): SipResponse[] {
    return this.received.map((x) => x.msg).filter((m): m is SipResponse => m.kind === 'response' && pred(m));
  }

  requests(pred: (r: SipRequest) => boolean = () => true): SipRequest[] {
    return this.received.map((x) => x.msg).filter((m): m is SipRequest => m.kind === 'request' && pred(m));
  }

  waitResponse(pred: (r: SipResponse) => boolean, ms = 5000, what = 'response'): Promise<SipResponse> {
    return waitFor(() => this.responses(pred)[0], ms, `scripted UAC: ${what}`);
  }

  waitRequest(pred: (r: SipRequest) => boolean, ms = 5000, what = 'request'): Promise<SipRequest> {
    return waitFor(() => this.requests(pred)[0], ms, `scripted UAC: ${what}`);
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      // closed
    }
  }
}
