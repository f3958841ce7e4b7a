/**
 * linphonec for the conformance suite: @conclave/test-peers' driver, with its SIP port in the range the
 * wire capture watches (PEER_PORT_RANGE) and its RTP outside it.
 */
import { LinphonePeer as Driver, type LinphoneOptions } from '@conclave/test-peers';
import { MEDIA_PORT_RANGE, PEER_PORT_RANGE } from '../ports.ts';

export type { LinphoneOptions } from '@conclave/test-peers';
export type LinphonePeer = Driver;
export const LinphonePeer = {
  start: (opts: LinphoneOptions): Promise<Driver> =>
    Driver.start({ sipPortRange: PEER_PORT_RANGE, rtpPortRange: MEDIA_PORT_RANGE, ...opts }),
};
