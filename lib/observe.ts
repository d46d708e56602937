// diagnostics_channel publishers. Messages never carry a token, a key or an IdP response body.
import diagnostics from 'node:diagnostics_channel'
import type { Reason } from './errors.js'

export const VERIFY_CHANNEL = 'axioms-fastify:verify'
export const JWKS_CHANNEL = 'axioms-fastify:jwks'

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
}

export const verifyChannel = diagnostics.channel(VERIFY_CHANNEL)
export const jwksChannel = diagnostics.channel(JWKS_CHANNEL)
