/**
 * The msid stream id of every m-section of an SDP, by mid. The focus names each forwarded stream with
 * `a=msid:<source stream id> <track id>`; the browser's `track` event exposes it as streams[0].id,
 * but not for a track found after the fact or for an m-line the focus re-used for another party
 * (same transceiver, new msid). Pure.
 */
export function msidByMid(sdp: string | null | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!sdp) return out;
  const sections = sdp.split(/\r?\n(?=m=)/).slice(1);
  for (const section of sections) {
    const mid = /^a=mid:(\S+)/m.exec(section)?.[1];
    const msid = /^a=msid:(\S+)/m.exec(section)?.[1] ?? /^a=ssrc:\d+ msid:(\S+)/m.exec(section)?.[1];
    if (mid && msid && msid !== '-') out.set(mid, msid);
  }
  return out;
}
