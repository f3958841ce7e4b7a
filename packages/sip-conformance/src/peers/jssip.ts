/** JsSIP peers (Node and Chromium) live in @conclave/test-peers. */
export { JssipNodePeer, JssipBrowser, JssipBrowserPeer, JSSIP_CAPS } from '@conclave/test-peers';
