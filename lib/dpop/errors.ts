// Reasons and answers of sender-constrained tokens (DPoP, RFC 9449; mTLS, RFC 8705), part of the
// plugin's one table (lib/errors.ts). Every description is a fixed string in the RFC 6750 charset.
import type { Row } from '../errors.js'

/** Stable snake_case reasons of refusals by the DPoP and mTLS checks. */
export type DpopReason =
  | 'dpop_missing'
  | 'dpop_multiple'
  | 'dpop_malformed'
  | 'dpop_bad_typ'
  | 'dpop_bad_alg'
  | 'dpop_bad_header'
  | 'dpop_bad_jwk'
  | 'dpop_bad_signature'
  | 'dpop_htm'
  | 'dpop_htu'
  | 'dpop_iat'
  | 'dpop_jti'
  | 'dpop_ath'
  | 'dpop_replay'
  | 'dpop_jkt'
  | 'dpop_unbound'
  | 'dpop_bad_cnf'
  | 'dpop_bound_as_bearer'
  | 'dpop_scheme_required'
  | 'dpop_nonce_required'
  | 'dpop_nonce_invalid'
  | 'dpop_request_url'
  | 'dpop_store_unavailable'
  | 'dpop_store_full'
  | 'mtls_bad_cnf'
  | 'mtls_no_certificate'
  | 'mtls_bad_certificate'
  | 'mtls_mismatch'

const proof = (description: string): Row => ({ status: 401, error: 'invalid_dpop_proof', description, challenge: 'full', scheme: 'dpop' })
const INVALID_PROOF = proof('Invalid DPoP proof')
const UNAVAILABLE: Row = { status: 503, error: 'temporarily_unavailable', description: 'Unable to check the DPoP proof right now', challenge: 'none' }

export const DPOP_ROWS: Readonly<Record<DpopReason, Row>> = {
  // RFC 9449 §4.3 and §7.1: every fault of the proof itself is invalid_dpop_proof.
  dpop_missing: proof('Missing DPoP proof'),
  dpop_multiple: proof('Multiple DPoP proofs'),
  dpop_malformed: proof('Malformed DPoP proof'),
  dpop_bad_typ: proof('Invalid DPoP proof type'),
  dpop_bad_alg: proof('Invalid or unsupported DPoP proof algorithm'),
  dpop_bad_header: INVALID_PROOF,
  dpop_bad_jwk: proof('Invalid DPoP proof key'),
  dpop_bad_signature: proof('Invalid DPoP proof signature'),
  dpop_htm: proof('DPoP proof method mismatch'),
  dpop_htu: proof('DPoP proof URL mismatch'),
  dpop_iat: proof('DPoP proof is not recent'),
  dpop_jti: proof('Missing or invalid DPoP proof identifier'),
  dpop_ath: proof('DPoP proof access token hash mismatch'),
  dpop_replay: proof('DPoP proof replayed'),
  // The token's binding (RFC 9449 §7.1 / §6): the token is at fault, not the proof.
  dpop_jkt: { status: 401, error: 'invalid_token', description: 'Access token is not bound to the DPoP proof key', challenge: 'full', scheme: 'dpop' },
  dpop_unbound: { status: 401, error: 'invalid_token', description: 'Access token is not DPoP-bound', challenge: 'full', scheme: 'dpop' },
  dpop_bad_cnf: { status: 401, error: 'invalid_token', description: 'Invalid access token', challenge: 'full' },
  // RFC 9449 §7.2: a bound token presented as a plain bearer token loses its binding.
  dpop_bound_as_bearer: { status: 401, error: 'invalid_token', description: 'DPoP-bound access token requires the DPoP scheme', challenge: 'full', scheme: 'bearer' },
  // mode 'required' (or a route requiring DPoP) and a Bearer request: an unsupported scheme.
  dpop_scheme_required: { status: 401, error: 'invalid_token', description: 'Invalid Authorization DPoP', challenge: 'dpop_bare' },
  // RFC 9449 §9: the answer carries a DPoP-Nonce header.
  dpop_nonce_required: { status: 401, error: 'use_dpop_nonce', description: 'Resource server requires nonce in DPoP proof', challenge: 'full', scheme: 'dpop' },
  dpop_nonce_invalid: { status: 401, error: 'use_dpop_nonce', description: 'Invalid or expired DPoP proof nonce', challenge: 'full', scheme: 'dpop' },
  // A Host or request target that cannot form an htu (PR #244 of express-oauth2-jwt-bearer).
  dpop_request_url: { status: 400, error: 'invalid_request', description: 'Invalid request URL', challenge: 'none' },
  // The replay store could not answer: accepting the proof unchecked would defeat replay protection.
  dpop_store_unavailable: UNAVAILABLE,
  dpop_store_full: UNAVAILABLE,
  // RFC 8705 §3: a certificate-bound token needs the matching client certificate.
  mtls_bad_cnf: { status: 401, error: 'invalid_token', description: 'Invalid access token', challenge: 'full' },
  mtls_no_certificate: { status: 401, error: 'invalid_token', description: 'Client certificate required', challenge: 'full' },
  mtls_bad_certificate: { status: 401, error: 'invalid_token', description: 'Invalid client certificate', challenge: 'full' },
  mtls_mismatch: { status: 401, error: 'invalid_token', description: 'Access token is not bound to the client certificate', challenge: 'full' }
}

/** Retry-After of a 503 from the replay store: a short outage is the likely cause. */
export const STORE_RETRY_AFTER_SECONDS = 5

export type DpopMode = 'allowed' | 'required' | 'disabled'
