/**
 * The drachtio wire protocol's messages, built and parsed in one place (the framing is in wire-framer.ts,
 * the connection in app-connection.ts). Field order and spelling follow drachtio-server exactly: the golden
 * transcripts compare them byte for byte.
 */
import { wireTime } from '../ids.ts';
import { wireTransport, type Flow, type HostPort } from '../transport/flow.ts';
import { parseDuration, type ProxyOptions } from '../proxy/proxy-operation.ts';

const CRLF = '\r\n';

/** What the `connect` hostports list names: every listener, most secure first. */
export interface ListenerAddresses {
  udp?: { local: HostPort } | undefined;
  tcp?: { local: HostPort } | undefined;
  tls?: { local: HostPort } | undefined;
  ws?: { local: HostPort } | undefined;
  wss?: { local: HostPort } | undefined;
}

/** `wss/h:p,ws/h:p,tls/h:p,tcp/h:p,udp/h:p` as in the authenticate response. */
export function hostportsOf(t: ListenerAddresses): string {
  const parts: string[] = [];
  if (t.wss) parts.push(`wss/${t.wss.local.host}:${t.wss.local.port}`);
  if (t.ws) parts.push(`ws/${t.ws.local.host}:${t.ws.local.port}`);
  if (t.tls) parts.push(`tls/${t.tls.local.host}:${t.tls.local.port}`);
  if (t.tcp) parts.push(`tcp/${t.tcp.local.host}:${t.tcp.local.port}`);
  if (t.udp) parts.push(`udp/${t.udp.local.host}:${t.udp.local.port}`);
  return parts.join(',');
}

/** `sip|<source>|<len>|<transport>|<addr>|<port>|<time>|<txnId>|<dialogId>|<extra>` + CRLF + msg */
export function sipFrame(
  source: string,
  bytes: Buffer,
  transport: string,
  remote: HostPort,
  txnId: string,
  dialogId: string,
  extra: string,
): string {
  const lead = [
    'sip',
    source,
    String(bytes.length),
    transport,
    remote.host,
    String(remote.port),
    wireTime(),
    txnId,
    dialogId,
    extra,
  ].join('|');
  return `${lead}${CRLF}${bytes.toString('utf8')}`;
}

/** The extra field of `sip|network|…` for a new request: the local address it arrived on, `<host>|<port>|`. */
export function arrivedOnField(local: HostPort): string {
  return `${local.host}|${local.port}|`;
}

/** A BYE the server sent on its own (ACK timeout): `sip|application|…|unsolicited|<dialogId>|` + CRLF + msg */
export function unsolicitedFrame(bytes: Buffer, flow: Flow, dialogId: string): string {
  const local = flow.local;
  const payload = [
    'sip',
    'application',
    String(bytes.length),
    wireTransport(flow.transport),
    local.host,
    String(local.port),
    wireTime(),
    'unsolicited',
    dialogId,
    '',
  ].join('|');
  return `${payload}${CRLF}${bytes.toString('utf8')}`;
}

/** `cdr:<type>|<source>|<time>[|<role or reason>]` + CRLF + the SIP message. */
export function cdrFrame(
  type: 'attempt' | 'start' | 'stop',
  source: 'network' | 'application',
  bytes: Buffer,
  extra?: string,
): string {
  const lead = [`cdr:${type}`, source, wireTime(), ...(extra ? [extra] : [])].join('|');
  return `${lead}${CRLF}${bytes.toString('utf8')}`;
}

/** Response fields to an app's request that went out: `OK|application|<len>|<transport>|<addr>|<port>|<time>|<txnId>|Msg sent:|…` */
export function requestSentFields(bytes: Buffer, flow: Flow, txnId: string): string[] {
  const addr = flow.transport === 'udp' ? flow.local : flow.remote;
  return [
    'OK',
    'application',
    String(bytes.length),
    wireTransport(flow.transport),
    addr.host,
    String(addr.port),
    wireTime(),
    txnId,
    `Msg sent:|${CRLF}${bytes.toString('utf8')}`,
  ];
}

/** Response fields to an app's response that went out (transport only for INVITE, as drachtio does). */
export function responseSentFields(
  bytes: Buffer,
  transport: string,
  remote: HostPort,
  txnId: string,
  dialogId: string,
): string[] {
  return [
    'OK',
    'application',
    String(bytes.length),
    transport,
    remote.host,
    String(remote.port),
    wireTime(),
    txnId,
    dialogId,
    '',
    `Msg sent:|${CRLF}${bytes.toString('utf8')}`,
  ];
}

/** A downstream response reported to a proxying app that asked for `fullResponse`. */
export function proxyProgressFields(bytes: Buffer, flow: Flow, txnId: string): string[] {
  return [
    'OK',
    'network',
    String(bytes.length),
    wireTransport(flow.transport),
    flow.remote.host,
    String(flow.remote.port),
    wireTime(),
    txnId,
    '',
    `continue${CRLF}${bytes.toString('utf8')}`,
  ];
}

/** `sip|<txnId>|<dialogId>|<proxy>` */
export function parseSipCommand(args: string[]): { txnId: string; dialogId: string; proxy: string } {
  return { txnId: args[0] ?? '', dialogId: args[1] ?? '', proxy: args[2] ?? '' };
}

/** `proxy|<txnId>|remainInDialog|fullResponse|followRedirects|simultaneous/serial|provTimeout|finalTimeout|dest...` */
export function parseProxyCommand(args: string[]): { txnId: string; opts: ProxyOptions; targets: string[] } {
  const [txnId = '', rr = '', full = '', follow = '', fork = '', provT = '', finalT = '', ...dests] = args;
  return {
    txnId,
    opts: {
      recordRoute: rr === 'remainInDialog',
      fullResponse: full === 'fullResponse',
      followRedirects: follow === 'followRedirects',
      simultaneous: fork === 'simultaneous',
      provisionalTimeout: parseDuration(provT),
      finalTimeout: parseDuration(finalT),
    },
    targets: dests.filter(Boolean),
  };
}
