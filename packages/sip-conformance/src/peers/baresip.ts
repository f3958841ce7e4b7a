/**
 * baresip for the conformance suite: @conclave/test-peers' driver, with its SIP ports in the range the
 * wire capture watches (PEER_PORT_RANGE) and its RTP outside it.
 */
import { BaresipPeer as Driver, type BaresipOptions } from '@conclave/test-peers';
import { MEDIA_PORT_RANGE, PEER_PORT_RANGE } from '../ports.ts';

export type { BaresipEvent, BaresipOptions } from '@conclave/test-peers';
export type BaresipPeer = Driver;
export const BaresipPeer = {
  start: (opts: BaresipOptions): Promise<Driver> =>
    Driver.start({ sipPortRange: PEER_PORT_RANGE, rtpPortRange: MEDIA_PORT_RANGE, rtpPorts: 4, ...opts }),
};
