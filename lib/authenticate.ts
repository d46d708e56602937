// Per-request authentication shared by every hook of a request: the token is read and verified
// once, and the result (claims, or null when no token was sent) is remembered on the request.
import type { FastifyRequest } from 'fastify'
import { countAuthorization, extractToken, isDpopScheme } from './bearer.js'
import type { ChallengeContext } from './challenge.js'
import { type AxiomsError, fail } from './errors.js'
import type { DpopVerifier } from './dpop/proof.js'
import type { Introspector } from './introspection/introspector.js'
import { checkBinding, setSender, type SenderState } from './sender.js'
import type { Settings } from './options/index.js'
import type { CompiledRule } from './rule.js'
import type { TurnBatch } from './batch.js'
import type { AccessTokenClaims, Verifier } from './verify.js'
import type { FastifyJwtVerifier } from './fastify-jwt.js'

/** What the hooks of one plugin instance share. */
export interface Auth {
  readonly settings: Settings
  readonly verifier: Verifier
  /** verifier 'fastify-jwt': the app's @fastify/jwt checks signatures instead of `verifier`. */
  readonly fastifyJwt: FastifyJwtVerifier | undefined
  /** RFC 7662 introspection of opaque tokens; undefined when not configured. */
  readonly introspector: Introspector | undefined
  /** DPoP proofs (RFC 9449); undefined when dpop.mode is 'disabled'. */
  readonly dpop: DpopVerifier | undefined
  /** Signature checks coalesced per event-loop turn; undefined when verifyBatch is 0. */
  readonly batch: TurnBatch<string, AccessTokenClaims> | undefined
  readonly challenge: ChallengeContext
  /** Looks up the compiled declaration of the request's route. */
  readonly ruleOf: (request: FastifyRequest) => CompiledRule | undefined
  /** RFC 9728: the metadata URL named in this request's challenges, when enabled. */
  readonly resourceMetadata?: ((request: FastifyRequest) => string | undefined) | undefined
}

/** Per-request verification state; decorated (null) so every request has the same shape. */
export const kAuth = Symbol('axioms.auth')

type AuthState = Promise<AccessTokenClaims | null>
type RequestWithState = FastifyRequest & { [kAuth]: AuthState | null } & Record<string, unknown>

/** Puts the claims (or null, or false under tokenMiddleware) where the app reads them. */
export function setClaims (auth: Auth, request: FastifyRequest, claims: AccessTokenClaims | null | false): void {
  (request as RequestWithState)[auth.settings.decoratorName] = claims
}

/** The claims the request carries now: set by a passed hook, cleared by a refusal. */
export function claimsOf (auth: Auth, request: FastifyRequest): unknown {
  return (request as RequestWithState)[auth.settings.decoratorName]
}

/** Verifies the request's token once; stacked hooks share the result (null: no token sent). */
export function authenticate (auth: Auth, request: FastifyRequest): AuthState {
  const r = request as RequestWithState
  let state = r[kAuth]
  if (state === null) {
    state = run(auth, request)
    r[kAuth] = state
  }
  return state
}

async function run (auth: Auth, request: FastifyRequest): Promise<AccessTokenClaims | null> {
  const header = request.headers.authorization
  let token: string
  try {
    token = extractToken(header, countAuthorization(request.raw.rawHeaders), auth.dpop !== undefined)
  } catch (err) {
    if ((err as AxiomsError).reason === 'missing_header') return null
    throw err
  }
  const sender: SenderState = { scheme: auth.dpop !== undefined && isDpopScheme(header as string) ? 'dpop' : 'bearer', nonce: undefined }
  setSender(request, sender)
  if (sender.scheme === 'bearer' && auth.settings.dpop.mode === 'required') fail('dpop_scheme_required')
  let claims: AccessTokenClaims
  if (auth.introspector?.applies(token) === true) {
    claims = await auth.introspector.introspect(token, true)
  } else if (auth.fastifyJwt !== undefined) {
    claims = await auth.fastifyJwt.verify(request, token)
  } else if (auth.batch === undefined) {
    // check() answers synchronously when the token is cached or its key at hand: one promise hop fewer.
    const got = auth.verifier.check(token, true)
    claims = got instanceof Promise ? await got : got
  } else {
    // A cached token does not wait for the batch (whose check() looks again: an earlier token
    // of the same batch may have cached it meanwhile).
    claims = auth.verifier.cached(token) ?? await auth.batch.push(token)
  }
  try {
    const bound = checkBinding(auth.dpop, auth.settings.mtls, request, token, claims, sender)
    if (bound !== undefined) await bound
  } catch (err) {
    // A refused binding counts as a refusal; anything else is a bug, answered as internal_error.
    // The token's jti for the log, never the proof's (a client's string).
    throw (auth.fastifyJwt ?? auth.verifier).outcomes.refused(err, claims.iss, undefined, typeof claims.jti === 'string' ? claims.jti : undefined)
  }
  setClaims(auth, request, claims)
  return claims
}
