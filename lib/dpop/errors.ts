// Reasons, answers and challenges of sender-constrained tokens (DPoP, RFC 9449; mTLS, RFC 8705).
// Kept apart from lib/errors.ts until the request path is wired: the rows below are meant to
// join its single table. Every description is a fixed string in the RFC 6750 charset.

export type DpopErrorCode =
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'invalid_token'
  | 'invalid_request'
  | 'temporarily_unavailable'

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

/**
 * Which challenge carries the error: `dpop` the DPoP one, `bearer` the Bearer one, `dpop_bare`
 * a DPoP challenge without an error attribute (the scheme the request used is not accepted),
 * `none` no challenge at all.
 */
export type ChallengeKind = 'dpop' | 'bearer' | 'dpop_bare' | 'none'

export interface DpopRow {
  status: number
  error: DpopErrorCode
  description: string
  challenge: ChallengeKind
}

const proof = (description: string): DpopRow => ({ status: 401, error: 'invalid_dpop_proof', description, challenge: 'dpop' })
const INVALID_PROOF = proof('Invalid DPoP proof')
const UNAVAILABLE: DpopRow = { status: 503, error: 'temporarily_unavailable', description: 'Unable to check the DPoP proof right now', challenge: 'none' }

export const DPOP_ROWS: Readonly<Record<DpopReason, DpopRow>> = Object.freeze({
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
  dpop_jkt: { status: 401, error: 'invalid_token', description: 'Access token is not bound to the DPoP proof key', challenge: 'dpop' },
  dpop_unbound: { status: 401, error: 'invalid_token', description: 'Access token is not DPoP-bound', challenge: 'dpop' },
  dpop_bad_cnf: { status: 401, error: 'invalid_token', description: 'Invalid access token', challenge: 'dpop' },
  // RFC 9449 §7.2: a bound token presented as a plain bearer token loses its binding.
  dpop_bound_as_bearer: { status: 401, error: 'invalid_token', description: 'DPoP-bound access token requires the DPoP scheme', challenge: 'bearer' },
  // mode 'required' (or a route requiring DPoP) and a Bearer request: an unsupported scheme.
  dpop_scheme_required: { status: 401, error: 'invalid_token', description: 'Invalid Authorization DPoP', challenge: 'dpop_bare' },
  // RFC 9449 §9: the answer carries a DPoP-Nonce header.
  dpop_nonce_required: { status: 401, error: 'use_dpop_nonce', description: 'Resource server requires nonce in DPoP proof', challenge: 'dpop' },
  dpop_nonce_invalid: { status: 401, error: 'use_dpop_nonce', description: 'Invalid or expired DPoP proof nonce', challenge: 'dpop' },
  // A Host or request target that cannot form an htu (PR #244 of express-oauth2-jwt-bearer).
  dpop_request_url: { status: 400, error: 'invalid_request', description: 'Invalid request URL', challenge: 'none' },
  // The replay store could not answer: accepting the proof unchecked would defeat replay protection.
  dpop_store_unavailable: UNAVAILABLE,
  dpop_store_full: UNAVAILABLE,
  // RFC 8705 §3: a certificate-bound token needs the matching client certificate.
  mtls_bad_cnf: { status: 401, error: 'invalid_token', description: 'Invalid access token', challenge: 'bearer' },
  mtls_no_certificate: { status: 401, error: 'invalid_token', description: 'Client certificate required', challenge: 'bearer' },
  mtls_bad_certificate: { status: 401, error: 'invalid_token', description: 'Invalid client certificate', challenge: 'bearer' },
  mtls_mismatch: { status: 401, error: 'invalid_token', description: 'Access token is not bound to the client certificate', challenge: 'bearer' }
})

/** Retry-After of a 503 from the replay store: a short outage is the likely cause. */
export const STORE_RETRY_AFTER_SECONDS = 5

const kBrand = Symbol.for('axioms-fastify.DpopError')

/**
 * A refusal by the DPoP or mTLS checks, shaped like AxiomsError (statusCode, error,
 * error_description, reason, code, headers) so that the same reply path can send it.
 */
export class DpopError extends Error {
  readonly code: string
  readonly statusCode: number
  readonly error: DpopErrorCode
  readonly error_description: string
  readonly reason: DpopReason
  headers: Record<string, string>
  /** The proof's `jti`, when it had one: for logs, never sent. */
  jti: string | undefined
  /** 503: seconds for Retry-After. */
  retryAfter: number | undefined
  /** use_dpop_nonce (and any answer while nonces are on): the DPoP-Nonce to send. */
  nonce: string | undefined
  /** A short fixed cause for logs (`timeout`, `store_error`, `function_threw` ...), never sent. */
  detail: string | undefined

  constructor (reason: DpopReason) {
    const row = DPOP_ROWS[reason]
    super(row.description)
    this.name = 'DpopError'
    this.stack = `DpopError: ${row.description}`
    this.reason = reason
    this.code = `AXIOMS_${reason.toUpperCase()}`
    this.statusCode = row.status
    this.error = row.error
    this.error_description = row.description
    this.headers = {}
    this.jti = undefined
    this.retryAfter = row.status === 503 ? STORE_RETRY_AFTER_SECONDS : undefined
    this.nonce = undefined
    this.detail = undefined
  }

  static override [Symbol.hasInstance] (value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kBrand] === true
  }

  toJSON (): { error: DpopErrorCode, error_description: string } {
    return { error: this.error, error_description: this.error_description }
  }
}

Object.defineProperty(DpopError.prototype, kBrand, { value: true })

export function dpopFail (reason: DpopReason, detail?: string): never {
  const err = new DpopError(reason)
  err.detail = detail
  throw err
}

export type DpopMode = 'allowed' | 'required' | 'disabled'

export interface DpopChallengeContext {
  /** realm of the Bearer challenge (RFC 6750). */
  realm: string
  /** The DPoP proof algorithms accepted, for `algs` (RFC 9449 §7.1). */
  algs: readonly string[]
  /** The effective mode of the route: `required` offers DPoP only, `disabled` Bearer only. */
  mode: DpopMode
  /** RFC 9728 metadata URL, added to every challenge when configured. */
  resourceMetadata?: string | undefined
}

// RFC 9110 §11.2 quoted-string; realm and algs come from configuration, descriptions are fixed.
function quote (value: string): string {
  return '"' + value.replace(/["\\]/g, '\\$&') + '"'
}

/** The error a challenge carries: a reason's row, or an access-token error of lib/errors.ts. */
export interface ChallengeError {
  error: string
  description: string
  /** insufficient_scope: the scopes the route needed (RFC 6750 §3, RFC 9449 §7.1). */
  scope?: readonly string[] | undefined
}

function params (err: ChallengeError): string {
  let value = 'error=' + quote(err.error) + ', error_description=' + quote(err.description)
  if (err.scope !== undefined && err.scope.length > 0) value += ', scope=' + quote(err.scope.join(' '))
  return value
}

function bearer (ctx: DpopChallengeContext, err?: ChallengeError): string {
  let value = 'Bearer realm=' + quote(ctx.realm)
  if (err !== undefined) value += ', ' + params(err)
  if (ctx.resourceMetadata !== undefined) value += ', resource_metadata=' + quote(ctx.resourceMetadata)
  return value
}

// RFC 9449 §7.1 writes the DPoP challenge without realm; the Bearer challenge keeps it.
function dpop (ctx: DpopChallengeContext, err?: ChallengeError): string {
  let value = 'DPoP '
  if (err !== undefined) value += params(err) + ', '
  value += 'algs=' + quote(ctx.algs.join(' '))
  if (ctx.resourceMetadata !== undefined) value += ', resource_metadata=' + quote(ctx.resourceMetadata)
  return value
}

/**
 * The WWW-Authenticate value for a request without credentials (or with an unsupported scheme):
 * `allowed` offers both schemes, `required` DPoP only, `disabled` Bearer only.
 */
export function bareChallenge (ctx: DpopChallengeContext): string {
  if (ctx.mode === 'required') return dpop(ctx)
  if (ctx.mode === 'disabled') return bearer(ctx)
  return bearer(ctx) + ', ' + dpop(ctx)
}

/**
 * The WWW-Authenticate value for an error answered on one scheme (the one the request used, or
 * the one the reason names): that challenge with the error first, then in mode `allowed` the
 * other scheme's bare challenge. For access-token errors (expired, insufficient_scope ...) too.
 */
export function errorChallenge (scheme: 'bearer' | 'dpop', err: ChallengeError, ctx: DpopChallengeContext): string {
  if (scheme === 'dpop') return dpop(ctx, err) + (ctx.mode === 'allowed' ? ', ' + bearer(ctx) : '')
  return bearer(ctx, err) + (ctx.mode === 'allowed' ? ', ' + dpop(ctx) : '')
}

/**
 * Response headers for a refusal: its challenge (see errorChallenge), `DPoP-Nonce` when the
 * error brings one, `Retry-After` on 503.
 */
export function dpopResponseHeaders (err: DpopError, ctx: DpopChallengeContext): Record<string, string> {
  const row = DPOP_ROWS[err.reason]
  const out: Record<string, string> = {}
  if (row.challenge === 'dpop' || row.challenge === 'bearer') {
    out['www-authenticate'] = errorChallenge(row.challenge, row, ctx)
  } else if (row.challenge === 'dpop_bare') {
    out['www-authenticate'] = dpop(ctx)
  }
  if (err.nonce !== undefined) out['dpop-nonce'] = err.nonce
  if (err.retryAfter !== undefined) out['retry-after'] = String(err.retryAfter)
  return out
}

/** An error ready to be sent: the same reason, jti, nonce and Retry-After, with its headers. */
export function toDpopResponseError (err: DpopError, ctx: DpopChallengeContext): DpopError {
  const out = new DpopError(err.reason)
  out.jti = err.jti
  out.nonce = err.nonce
  out.retryAfter = err.retryAfter
  out.detail = err.detail
  out.headers = dpopResponseHeaders(err, ctx)
  return out
}
