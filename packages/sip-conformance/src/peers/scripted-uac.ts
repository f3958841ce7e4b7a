/** The scripted UAC lives in @conclave/test-peers. */
export { ScriptedUac, SCRIPTED_SDP, sipText } from '@conclave/test-peers';
