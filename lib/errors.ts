// The one table of codes and descriptions: nothing from the token, the identity provider or a
// library is ever echoed, so every description below is a fixed string.
import { STATUS_CODES } from 'node:http'
import { DPOP_ROWS, type DpopReason } from './dpop/errors.js'

export type ErrorCode =
  | 'invalid_token'
  | 'invalid_request'
  | 'insufficient_scope'
  | 'not_found'
  | 'temporarily_unavailable'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'

/** Stable snake_case reasons, used in logs, diagnostics and `AxiomsError.reason`. */
export type Reason = CoreReason | DpopReason

type CoreReason =
  | 'missing_header'
  | 'invalid_scheme'
  | 'empty_token'
  | 'duplicate_header'
  | 'token_too_large'
  | 'malformed'
  | 'bad_algorithm'
  | 'missing_kid'
  | 'bad_typ'
  | 'bad_header'
  | 'unknown_kid'
  | 'key_mismatch'
  | 'bad_signature'
  | 'expired'
  | 'missing_exp'
  | 'bad_claim'
  | 'bad_audience'
  | 'bad_issuer'
  | 'sender_constrained'
  // RFC 7662: the authorization server says the (opaque) token is not active.
  | 'inactive_token'
  // verifier 'fastify-jwt': the app's trusted() refused the token; the app's verifier failed in a
  // way that says nothing about the token (an unknown code, its own misconfiguration).
  | 'untrusted'
  | 'upstream_error'
  | 'insufficient'
  | 'not_owner'
  | 'not_found'
  | 'keys_unavailable'
  | 'internal_error'

export interface Row {
  status: number
  error: ErrorCode
  description: string
  /**
   * 'bare': the challenges of the schemes accepted, without an error attribute; 'full': with it,
   * on the scheme the request used (or `scheme`); 'dpop_bare': the DPoP challenge alone, without
   * an error (the scheme used is not accepted here); 'none': no challenge.
   */
  challenge: 'bare' | 'full' | 'dpop_bare' | 'none'
  /** The scheme whose challenge carries the error, whatever the request used. */
  scheme?: 'bearer' | 'dpop'
}

const MALFORMED: Row = { status: 401, error: 'invalid_token', description: 'Malformed token', challenge: 'full' }
const INVALID: Row = { status: 401, error: 'invalid_token', description: 'Invalid access token', challenge: 'full' }

const CORE_ROWS: Readonly<Record<CoreReason, Row>> = {
  missing_header: { status: 401, error: 'invalid_token', description: 'Missing Authorization Header', challenge: 'bare' },
  invalid_scheme: { status: 401, error: 'invalid_token', description: 'Invalid Authorization Bearer', challenge: 'bare' },
  empty_token: { status: 401, error: 'invalid_token', description: 'Invalid Authorization Bearer', challenge: 'full' },
  duplicate_header: { status: 400, error: 'invalid_request', description: 'Invalid Authorization Header', challenge: 'full' },
  token_too_large: MALFORMED,
  malformed: MALFORMED,
  bad_algorithm: { status: 401, error: 'invalid_token', description: 'Invalid or unsupported algorithm', challenge: 'full' },
  missing_kid: { status: 401, error: 'invalid_token', description: 'Missing key ID in token header', challenge: 'full' },
  bad_typ: { status: 401, error: 'invalid_token', description: 'Invalid token type', challenge: 'full' },
  bad_header: INVALID,
  unknown_kid: INVALID,
  key_mismatch: INVALID,
  bad_signature: { status: 401, error: 'invalid_token', description: 'Invalid token signature', challenge: 'full' },
  expired: { status: 401, error: 'invalid_token', description: 'Token has expired', challenge: 'full' },
  missing_exp: { status: 401, error: 'invalid_token', description: 'Token missing expiration claim', challenge: 'full' },
  bad_claim: INVALID,
  bad_audience: { status: 401, error: 'invalid_token', description: 'Invalid token audience', challenge: 'full' },
  bad_issuer: { status: 401, error: 'invalid_token', description: 'Invalid token issuer', challenge: 'full' },
  sender_constrained: INVALID,
  inactive_token: INVALID,
  untrusted: INVALID,
  upstream_error: INVALID,
  insufficient: { status: 403, error: 'insufficient_scope', description: 'Insufficient role, scope or permission', challenge: 'full' },
  not_owner: { status: 403, error: 'insufficient_scope', description: 'You do not have permission to access this resource', challenge: 'full' },
  not_found: { status: 404, error: 'not_found', description: 'Object not found', challenge: 'none' },
  keys_unavailable: { status: 503, error: 'temporarily_unavailable', description: 'Unable to verify the access token right now', challenge: 'none' },
  // An exception inside verification (a bug, not a bad token): still a 401 that says nothing,
  // but logged at error and counted apart (stats().internalErrors).
  internal_error: INVALID
}

/** Every reason of the plugin: access tokens here, sender-constrained tokens in lib/dpop/errors.ts. */
export const ROWS: Readonly<Record<Reason, Row>> = Object.freeze({ ...CORE_ROWS, ...DPOP_ROWS })

/** Retry-After of a 503 that does not say when keys may be had again. */
export const RETRY_AFTER_SECONDS = 30

/** An RFC 9457 body: `about:blank` with the status phrase as title, the fixed description as detail. */
export interface ProblemDetails {
  type: 'about:blank'
  title: string
  status: number
  detail: string
  error: ErrorCode
}

// The ESM and CommonJS builds each have their own class: a process that loads both (a CommonJS
// test runner next to ESM code) still recognises either one's errors by this brand.
const kBrand = Symbol.for('axioms-fastify.AxiomsError')

/**
 * The one error type of the plugin. `statusCode` and `headers` follow Fastify's conventions, so
 * an app's own error handler (errorResponse: 'throw') can render it as it likes.
 */
export class AxiomsError extends Error {
  /** `AXIOMS_` + the reason in upper case (`AXIOMS_EXPIRED`): stable, and the same in both builds. */
  readonly code: string
  readonly statusCode: number
  readonly error: ErrorCode
  readonly error_description: string
  readonly reason: Reason
  readonly headers: Record<string, string>
  /** The refused token's `jti`, when it had one: for logs and metrics, never sent to the client. */
  jti: string | undefined
  /** A 503's Retry-After: seconds until the key set (or the replay store) may be asked again. */
  retryAfter: number | undefined
  /** DPoP with server nonces: the DPoP-Nonce to send with the answer. */
  nonce: string | undefined
  /** A short fixed cause for logs (`timeout`, `store_error` ...), never sent. */
  detail: string | undefined

  constructor (reason: Reason, headers: Record<string, string> = {}) {
    const row = ROWS[reason]
    super(row.description)
    this.name = 'AxiomsError'
    // A refusal is an answer, not a fault: no frames, so an app's error logging (errorResponse:
    // 'throw') never prints the plugin's internals next to a 401.
    this.stack = `AxiomsError: ${row.description}`
    this.reason = reason
    this.code = `AXIOMS_${reason.toUpperCase()}`
    this.statusCode = row.status
    this.error = row.error
    this.error_description = row.description
    this.headers = headers
    this.jti = undefined
    this.retryAfter = undefined
    this.nonce = undefined
    this.detail = undefined
  }

  /** True for an AxiomsError of either build (ESM or CommonJS), so `instanceof` works across both. */
  static override [Symbol.hasInstance] (value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kBrand] === true
  }

  /** The response body, in the family's shape. */
  toJSON (): { error: ErrorCode, error_description: string } {
    return { error: this.error, error_description: this.error_description }
  }

  /** The same as RFC 9457 problem details (`application/problem+json`), with the OAuth `error`. */
  toProblem (): ProblemDetails {
    return { type: 'about:blank', title: STATUS_CODES[this.statusCode] as string, status: this.statusCode, detail: this.error_description, error: this.error }
  }
}

Object.defineProperty(AxiomsError.prototype, kBrand, { value: true })

/** Whether a value is an AxiomsError of either build (the same test as `instanceof AxiomsError`). */
export function isAxiomsError (value: unknown): value is AxiomsError {
  return value instanceof AxiomsError
}

/** Verification failed before any header context (realm, scope) was known. */
export function fail (reason: Reason, detail?: string): never {
  const err = new AxiomsError(reason)
  err.detail = detail
  throw err
}
