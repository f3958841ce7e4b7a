import { SipParseError } from './errors.ts';
import { formatParams, getParam, parseParams, type Params } from './params.ts';
import { splitHeaderList } from './split.ts';
import { parseHostPort } from './uri.ts';

/** One Via value (RFC 3261 §20.42, RFC 3581 rport). */
export interface Via {
  protocol: string;
  version: string;
  /** Upper-case transport token: UDP, TCP, TLS, WS, WSS, SCTP... */
  transport: string;
  host: string;
  port?: number;
  params: Params;
}

export function parseVia(text: string): Via {
  const m =
    /^\s*([A-Za-z0-9\-.!%*_+`'~]+)\s*\/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s*\/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s+([^;]+?)\s*(;.*)?$/s.exec(
      text,
    );
  if (!m) throw new SipParseError('Bad Via', `'${text}'`);
  let hostport = m[4]!.trim();
  // sent-by may contain LWS around ':' (RFC 3261 HCOLON-free but LWS allowed in torture tests).
  hostport = hostport.replace(/\s*:\s*/g, ':');
  const { host, port } = parseHostPort(hostport);
  let params: Params = [];
  if (m[5]) {
    try {
      params = parseParams(m[5]);
    } catch (err) {
      throw new SipParseError('Bad Via', `${(err as Error).message} in '${text}'`);
    }
  }
  const via: Via = { protocol: m[1]!, version: m[2]!, transport: m[3]!.toUpperCase(), host, params };
  if (port !== undefined) via.port = port;
  return via;
}

export function parseViaList(text: string): Via[] {
  return splitHeaderList(text).map(parseVia);
}

export function formatVia(via: Via): string {
  return `${via.protocol}/${via.version}/${via.transport} ${via.host}${via.port !== undefined ? ':' + via.port : ''}${formatParams(via.params)}`;
}

export function viaBranch(via: Via): string | undefined {
  const b = getParam(via.params, 'branch');
  return b === null ? undefined : b;
}

/** `host:port` with the transport default port filled in, for transaction matching. */
export function viaSentBy(via: Via): string {
  const def = via.transport === 'TLS' || via.transport === 'WSS' ? 5061 : 5060;
  return `${via.host.toLowerCase()}:${via.port ?? def}`;
}
