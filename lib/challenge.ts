// WWW-Authenticate and the other headers of a refusal: RFC 6750 Bearer challenges and RFC 9449
// DPoP challenges, DPoP-Nonce, Retry-After. Values are quoted-strings built from configuration and
// fixed descriptions only.
import { AxiomsError, RETRY_AFTER_SECONDS, ROWS } from './errors.js'

export interface ChallengeContext {
  realm: string
  /** RFC 9728 metadata URL, added to every challenge when configured. */
  resourceMetadata?: string | undefined
  /**
   * DPoP accepted: the proof algorithms (`algs`) and whether Bearer is accepted too (`allowed`)
   * or not (`required`). Absent: Bearer only.
   */
  dpop?: { readonly algs: readonly string[], readonly mode: 'allowed' | 'required' } | undefined
  /** The scheme the request used: its errors are answered on that scheme. */
  scheme?: 'bearer' | 'dpop' | undefined
}

// RFC 9110 §11.2 quoted-string; realm and scope come from configuration, so escape them.
function quote (value: string): string {
  return '"' + value.replace(/["\\]/g, '\\$&') + '"'
}

interface Fault { error: string, description: string, scope?: readonly string[] | undefined }

function params (f: Fault): string {
  let value = 'error=' + quote(f.error) + ', error_description=' + quote(f.description)
  if (f.scope !== undefined && f.scope.length > 0) value += ', scope=' + quote(f.scope.join(' '))
  return value
}

function bearer (ctx: ChallengeContext, f?: Fault): string {
  let value = 'Bearer realm=' + quote(ctx.realm)
  if (f !== undefined) value += ', ' + params(f)
  if (ctx.resourceMetadata !== undefined) value += ', resource_metadata=' + quote(ctx.resourceMetadata)
  return value
}

// RFC 9449 §7.1 writes the DPoP challenge without realm: algs says what a proof may be signed with.
function dpop (ctx: ChallengeContext, algs: readonly string[], f?: Fault): string {
  let value = 'DPoP '
  if (f !== undefined) value += params(f) + ', '
  value += 'algs=' + quote(algs.join(' '))
  if (ctx.resourceMetadata !== undefined) value += ', resource_metadata=' + quote(ctx.resourceMetadata)
  return value
}

/** The challenges of every scheme accepted, without an error (no or unusable credentials). */
function offered (ctx: ChallengeContext): string {
  if (ctx.dpop === undefined) return bearer(ctx)
  if (ctx.dpop.mode === 'required') return dpop(ctx, ctx.dpop.algs)
  return bearer(ctx) + ', ' + dpop(ctx, ctx.dpop.algs)
}

/**
 * The response headers of a refusal: its challenge (or none), `Retry-After` on a 503,
 * `DPoP-Nonce` when the error carries one. `scope` lists the scopes a 403 needed.
 */
export function responseHeaders (err: Pick<AxiomsError, 'reason' | 'retryAfter' | 'nonce'>, ctx: ChallengeContext, scope?: readonly string[]): Record<string, string> {
  const row = ROWS[err.reason]
  const out: Record<string, string> = {}
  if (row.challenge === 'bare') {
    out['www-authenticate'] = offered(ctx)
  } else if (row.challenge === 'dpop_bare') {
    // Without DPoP (an app throwing this error itself), Bearer is all there is to offer.
    out['www-authenticate'] = ctx.dpop === undefined ? bearer(ctx) : dpop(ctx, ctx.dpop.algs)
  } else if (row.challenge === 'full') {
    const f = { error: row.error, description: row.description, scope }
    const scheme = row.scheme ?? ctx.scheme ?? 'bearer'
    out['www-authenticate'] = scheme === 'dpop' && ctx.dpop !== undefined ? dpop(ctx, ctx.dpop.algs, f) : bearer(ctx, f)
  }
  if (row.status === 503) out['retry-after'] = String(err.retryAfter ?? RETRY_AFTER_SECONDS)
  if (err.nonce !== undefined) out['dpop-nonce'] = err.nonce
  return out
}

/** An error ready to be sent: the same reason and details, with its headers. */
export function toResponseError (err: AxiomsError, ctx: ChallengeContext, scope?: readonly string[]): AxiomsError {
  const out = new AxiomsError(err.reason, responseHeaders(err, ctx, scope))
  out.jti = err.jti
  out.retryAfter = err.retryAfter
  out.nonce = err.nonce
  out.detail = err.detail
  return out
}
