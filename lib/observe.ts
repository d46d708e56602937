// diagnostics_channel publishers, and the counters of app.axioms.stats(). Messages never carry a
// token, a key or an IdP response body.
import diagnostics from 'node:diagnostics_channel'
import { AxiomsError, type Reason } from './errors.js'

export const VERIFY_CHANNEL = 'axioms-fastify:verify'
export const JWKS_CHANNEL = 'axioms-fastify:jwks'
export const INTROSPECTION_CHANNEL = 'axioms-fastify:introspection'

export interface VerifyMessage {
  ok: boolean
  reason?: Reason
  issuer?: string
  kid?: string
  jti?: string
}

export type JwksEvent = 'fetch' | 'fetch_failed' | 'cooldown' | 'stale'

export interface JwksMessage {
  issuer: string
  event: JwksEvent
  /** Short, fixed cause of a failure (timeout, status_500, too_large, ...). */
  cause?: string
  /** Keys in the set after a successful fetch. */
  keys?: number
  /** fetch_failed: which request failed (OIDC discovery or the JWKS itself), and its URL. */
  stage?: 'discovery' | 'jwks'
  url?: string
  /** fetch_failed: what came back, when anything did. */
  status?: number
  contentType?: string
  bytes?: number
  /** fetch_failed: the proxy the request went through (scheme, host and port; never credentials). */
  proxy?: string
}

export const verifyChannel = diagnostics.channel(VERIFY_CHANNEL)
export const jwksChannel = diagnostics.channel(JWKS_CHANNEL)
export const introspectionChannel = diagnostics.channel(INTROSPECTION_CHANNEL)

export interface IntrospectionMessage {
  issuer: string
  /** `introspect`: the endpoint answered (`active` says what); `introspect_failed`: it did not. */
  event: 'introspect' | 'introspect_failed'
  active?: boolean
  /** introspect_failed: as JWKS fetches (timeout, status_500, ...), and where. */
  cause?: string
  stage?: 'discovery' | 'introspection'
  url?: string
  status?: number
}

export interface OutcomeLog {
  error: (obj: object, msg: string) => void
}

/**
 * Each verification's outcome, counted for stats() and published on the verify channel; shared by
 * the built-in verifier and verifier 'fastify-jwt'.
 */
export class Outcomes {
  /**
   * Tokens verified, answered from the token cache, refused (by reason), and verifications that
   * ended in an unexpected exception (not counted as refused).
   */
  readonly counts = { verified: 0, cacheHits: 0, refused: 0, internalErrors: 0 }
  readonly refusedBy: Partial<Record<Reason, number>> = Object.create(null)
  private readonly log: OutcomeLog

  constructor (log: OutcomeLog) {
    this.log = log
  }

  /** `kid` undefined: an introspected (opaque) token, which names no key. */
  accepted (issuer: string, kid: string | undefined, jti: string | undefined): void {
    this.counts.verified++
    if (verifyChannel.hasSubscribers) {
      const msg: Record<string, unknown> = { ok: true, issuer }
      if (kid !== undefined) msg.kid = kid
      if (jti !== undefined) msg.jti = jti
      verifyChannel.publish(msg)
    }
  }

  /** Counts and reports a refusal; the AxiomsError to throw. */
  refused (err: unknown, issuer: string | undefined, kid: string | undefined, jti: string | undefined): AxiomsError {
    let e: AxiomsError
    if (err instanceof AxiomsError) {
      e = err
      this.counts.refused++
      this.refusedBy[e.reason] = (this.refusedBy[e.reason] ?? 0) + 1
    } else {
      // Every token fault is an AxiomsError: anything else is a bug (ours, Node's, the
      // environment's). The client still gets a 401 that says nothing; the operator gets the
      // stack, and a counter that does not mix it with the clients' faults.
      e = new AxiomsError('internal_error')
      this.counts.internalErrors++
      this.log.error({ err, issuer, kid, jti }, 'axioms: unexpected error while verifying a token')
    }
    e.jti = jti
    if (verifyChannel.hasSubscribers) {
      const msg: Record<string, unknown> = { ok: false, reason: e.reason }
      if (issuer !== undefined) msg.issuer = issuer
      if (kid !== undefined) msg.kid = kid
      if (jti !== undefined) msg.jti = jti
      verifyChannel.publish(msg)
    }
    return e
  }
}
