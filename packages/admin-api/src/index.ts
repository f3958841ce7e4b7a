/** The admin HTTP API (see README.md here and docs/admin-api.openapi.yaml). */
export { AdminApi, type AdminApiOptions } from './admin-api.ts';
export type { Actor, AdminAuthenticator, ConferenceControl } from './control.ts';
export { directoryAuthenticator, type AdminDirectory } from './directory-authenticator.ts';
export { ApiError, type ApiErrorCode } from './errors.ts';
export { ADMIN_ROUTES, type AdminOperation, type AdminRoute } from './routes.ts';
export type { ConferenceDetail, ConferenceSummary, MediaView, ParticipantView } from './representation.ts';
export {
  AdminCluster,
  NODE_ADMIN_HEADER,
  NODE_KEY_HEADER,
  type AdminClusterOptions,
  type ClusterPeer,
} from './cluster.ts';
