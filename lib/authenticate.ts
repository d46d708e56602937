// Per-request authentication shared by every hook of a request: the token is read and verified
// once, and the result (claims, or null when no token was sent) is remembered on the request.
import type { FastifyRequest } from 'fastify'
import { countAuthorization, extractToken } from './bearer.js'
import type { ChallengeContext } from './challenge.js'
import type { AxiomsError } from './errors.js'
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
  let token: string
  try {
    token = extractToken(request.headers.authorization, countAuthorization(request.raw.rawHeaders))
  } catch (err) {
    if ((err as AxiomsError).reason === 'missing_header') return null
    throw err
  }
  let claims: AccessTokenClaims
  if (auth.fastifyJwt !== undefined) {
    claims = await auth.fastifyJwt.verify(request, token)
  } else if (auth.batch === undefined) {
    // check() answers synchronously when the token is cached or its key at hand: one promise hop fewer.
    const got = auth.verifier.check(token)
    claims = got instanceof Promise ? await got : got
  } else {
    // A cached token does not wait for the batch (whose check() looks again: an earlier token
    // of the same batch may have cached it meanwhile).
    claims = auth.verifier.cached(token) ?? await auth.batch.push(token)
  }
  setClaims(auth, request, claims)
  return claims
}
