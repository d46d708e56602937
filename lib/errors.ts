// The one table of codes and descriptions: nothing from the token, the identity provider or a
// library is ever echoed, so every description below is a fixed string.
import { STATUS_CODES } from 'node:http'

export type ErrorCode =
  | 'invalid_token'
  | 'invalid_request'
  | 'insufficient_scope'
  | 'not_found'
  | 'temporarily_unavailable'

/** Stable snake_case reasons, used in logs, diagnostics and `AxiomsError.reason`. */
export type Reason =
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
  | 'insufficient'
  | 'not_owner'
  | 'not_found'
  | 'keys_unavailable'

interface Row {
  status: number
  error: ErrorCode
  description: string
  /** 'bare': challenge without an error attribute; 'full': with it; 'none': no challenge. */
  challenge: 'bare' | 'full' | 'none'
}

const MALFORMED: Row = { status: 401, error: 'invalid_token', description: 'Malformed token', challenge: 'full' }
const INVALID: Row = { status: 401, error: 'invalid_token', description: 'Invalid access token', challenge: 'full' }

export const ROWS: Readonly<Record<Reason, Row>> = Object.freeze({
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
  insufficient: { status: 403, error: 'insufficient_scope', description: 'Insufficient role, scope or permission', challenge: 'full' },
  not_owner: { status: 403, error: 'insufficient_scope', description: 'You do not have permission to access this resource', challenge: 'full' },
  not_found: { status: 404, error: 'not_found', description: 'Object not found', challenge: 'none' },
  keys_unavailable: { status: 503, error: 'temporarily_unavailable', description: 'Unable to verify the access token right now', challenge: 'none' }
})

/** Retry-After of a 503 that does not say when keys may be had again. */
export const RETRY_AFTER_SECONDS = 30

export interface ChallengeContext {
  realm: string
  /** RFC 9728 metadata URL, added to every challenge when configured. */
  resourceMetadata?: string | undefined
}

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
  /** keys_unavailable: seconds until the key set will be fetched again (the 503's Retry-After). */
  retryAfter: number | undefined

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

/** Internal marker: verification failed before any header context (realm, scope) was known. */
export function fail (reason: Reason): never {
  throw new AxiomsError(reason)
}

// RFC 6750 §3: quoted-string values; realm and scope come from configuration, so escape them.
function quote (value: string): string {
  return '"' + value.replace(/["\\]/g, '\\$&') + '"'
}

/**
 * Builds the response headers for a reason: the RFC 6750 challenge (or none), `Retry-After` for
 * a 503. `scope` lists the scopes a 403 needed, when the failing requirement was about scopes.
 */
export function responseHeaders (reason: Reason, ctx: ChallengeContext, scope?: readonly string[], retryAfter = RETRY_AFTER_SECONDS): Record<string, string> {
  const row = ROWS[reason]
  if (row.challenge === 'none') {
    return row.status === 503 ? { 'retry-after': String(retryAfter) } : {}
  }
  let value = 'Bearer realm=' + quote(ctx.realm)
  if (row.challenge === 'full') {
    value += ', error=' + quote(row.error) + ', error_description=' + quote(row.description)
    if (scope !== undefined && scope.length > 0) value += ', scope=' + quote(scope.join(' '))
  }
  if (ctx.resourceMetadata !== undefined) value += ', resource_metadata=' + quote(ctx.resourceMetadata)
  return { 'www-authenticate': value }
}

/** An error ready to be sent: the reason's row plus its headers. */
export function toResponseError (err: AxiomsError, ctx: ChallengeContext, scope?: readonly string[]): AxiomsError {
  const out = new AxiomsError(err.reason, responseHeaders(err.reason, ctx, scope, err.retryAfter))
  out.jti = err.jti
  out.retryAfter = err.retryAfter
  return out
}
