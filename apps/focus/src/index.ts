export { Focus } from './focus.ts';
export type { FocusOptions } from './focus.ts';
export { Call, mediaWarning } from './call.ts';
export type { CallParty, CallState } from './call.ts';
export { Registrar } from './registrar.ts';
export type { Binding } from './registrar.ts';
export { UserDirectory } from './directory.ts';
