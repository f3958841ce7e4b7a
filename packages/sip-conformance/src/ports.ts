/**
 * Where this suite's fixed-port peers (baresip, linphonec listen on a configured port) and the server
 * listen: an unusual range no other test in the repo uses. Blocks in it come from @conclave/test-peers'
 * reservePortBlock (probed free on UDP and TCP first).
 */
import type { PortRange } from '@conclave/test-peers';

/** Where peers listen for SIP. The wire capture watches this range. */
export const PEER_PORT_RANGE: PortRange = [52000, 52499];
/** Where peers put RTP (not captured: media is not the point and would keep the capture busy). */
export const MEDIA_PORT_RANGE: PortRange = [52500, 52999];
