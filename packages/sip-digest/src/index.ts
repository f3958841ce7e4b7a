export { DigestAuthenticator } from './authenticator.ts';
export type {
  DigestAuthenticatorOptions,
  DigestVerifyRequest,
  DigestVerifyResult,
  DigestFailureReason,
} from './authenticator.ts';
export { parseDigestParams, computeDigestResponse, DIGEST_ALGORITHMS } from './digest.ts';
export type { DigestAlgorithm, DigestParams } from './digest.ts';
