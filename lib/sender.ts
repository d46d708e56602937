// Sender-constrained tokens at request time: which scheme the request used, and whether the
// verified token's binding holds for it (DPoP proof, RFC 9449; client certificate, RFC 8705).
// A token without `cnf` over Bearer, the common case, costs one property read.
import type { FastifyRequest } from 'fastify'
import { fail } from './errors.js'
import { confirmation } from './checks.js'
import { countRawHeader, type DpopVerifier } from './dpop/proof.js'
import { checkCertificateBinding, clientCertificate, type MtlsSettings } from './mtls.js'
import type { AccessTokenClaims } from './verify.js'

export type Scheme = 'bearer' | 'dpop'

/** What a request's credentials said beyond the token, for its hooks and its answers. */
export interface SenderState {
  scheme: Scheme
  /** A DPoP-Nonce to send with the response (server nonces on, the proof's was not current). */
  nonce: string | undefined
}

/** Per-request sender state; decorated (null) so every request has the same shape. */
export const kSender = Symbol('axioms.sender')

type RequestWithSender = FastifyRequest & { [kSender]: SenderState | null }

export function senderOf (request: FastifyRequest): SenderState | null {
  return (request as RequestWithSender)[kSender]
}

export function setSender (request: FastifyRequest, state: SenderState): void {
  (request as RequestWithSender)[kSender] = state
}

/**
 * Throws (or rejects with) AxiomsError unless the token's binding holds for this request: a
 * `cnf.jkt` token only over DPoP with a valid proof, the DPoP scheme only for such tokens, a
 * `cnf["x5t#S256"]` token only with the matching client certificate.
 */
export function checkBinding (dpop: DpopVerifier | undefined, mtls: MtlsSettings, request: FastifyRequest, token: string,
  claims: AccessTokenClaims, state: SenderState): void | Promise<void> {
  if (claims.cnf === undefined && state.scheme === 'bearer') return
  const x5t = confirmation(claims, 'x5t#S256')
  if (x5t !== undefined) checkCertificateBinding(x5t, clientCertificate(mtls, request))
  if (state.scheme === 'bearer') {
    // RFC 9449 §7.2: presented as a bearer token, a DPoP-bound token would lose its binding. With
    // DPoP disabled no scheme here could check it: refused as before DPoP, without the hint.
    if (confirmation(claims, 'jkt') !== undefined) fail(dpop === undefined ? 'sender_constrained' : 'dpop_bound_as_bearer')
    return
  }
  // The scheme is DPoP only when DPoP is on (extractToken refuses it otherwise).
  const verdict = (dpop as DpopVerifier).check({
    dpop: request.headers.dpop,
    dpopCount: countRawHeader(request.raw.rawHeaders, 'dpop'),
    method: request.method,
    scheme: request.protocol,
    host: request.host,
    url: request.url,
    accessToken: token,
    claims
  })
  if (verdict instanceof Promise) return verdict.then(v => { state.nonce = v.nonce })
  state.nonce = verdict.nonce
}
