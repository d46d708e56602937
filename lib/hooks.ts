// The hook factories of SPEC §3.1 and the per-request authentication they share. Request and reply
// are touched here, in route.ts and in metadata.ts (its own route) only.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { countAuthorization, extractToken } from './bearer.js'
import { CLAIM_KINDS, type ClaimKind, claimValues, type CompiledRequirement, compileRequirement, type Requirement, satisfies } from './claims.js'
import { AxiomsError, type ChallengeContext, toResponseError } from './errors.js'
import { ConfigError, type Settings, safeMethodSet } from './options/index.js'
import type { TurnBatch } from './batch.js'
import type { AccessTokenClaims, Verifier } from './verify.js'

export type AxiomsHook = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>

export interface TokenHookOptions {
  /** Methods that skip the check; the plugin's `safeMethods` when absent. */
  safeMethods?: string[]
  /** Let requests without a token through anonymously (`authJwt === null`). */
  optional?: boolean
}

export interface RequirementHookOptions {
  safeMethods?: string[]
}

export interface OwnershipOptions<T = unknown, Params = unknown> {
  /**
   * Loads the object (sync or async); null or undefined answers 404. `Params` types
   * `request.params`: `checkObjectOwnership<Article, { id: string }>({ getObject: r => find(r.params.id) })`.
   */
  getObject: (request: FastifyRequest<{ Params: Params }>) => T | null | undefined | Promise<T | null | undefined>
  /** Property (or Map key) of the object holding its owner. Default `user`. */
  ownerField?: string
  /** Claim compared with the owner. Default `sub`. */
  claimField?: string
  safeMethods?: string[]
}

/** The compiled form of a `config.axioms` declaration or of a hook's requirement. */
export interface CompiledRule {
  scopes?: CompiledRequirement
  roles?: CompiledRequirement
  permissions?: CompiledRequirement
  optional: boolean
  safeMethods: ReadonlySet<string> | undefined
}

/** Marks hooks that read the route's declaration, so route.ts can refuse routes without one. */
export const kNeedsDeclaration = Symbol('axioms.needsDeclaration')
/** The compiled rule a factory-made hook enforces, so route.ts can describe the route (OpenAPI, RFC 9728). */
export const kRule = Symbol('axioms.rule')

function tag<H extends AxiomsHook> (hook: H, rule: CompiledRule): H {
  Object.defineProperty(hook, kRule, { value: rule })
  return hook
}
/** Per-request verification state; decorated (null) so every request has the same shape. */
export const kAuth = Symbol('axioms.auth')

type AuthState = Promise<AccessTokenClaims | null>
type RequestWithState = FastifyRequest & { [kAuth]: AuthState | null }

export function compileDeclaration (decl: unknown, where: string): CompiledRule {
  if (typeof decl !== 'object' || decl === null || Array.isArray(decl)) {
    throw new ConfigError(where, undefined, 'must be an object { scopes?, roles?, permissions?, optional?, safeMethods? }')
  }
  const d = decl as Record<string, unknown>
  for (const key of Object.keys(d)) {
    if (!['scopes', 'roles', 'permissions', 'optional', 'safeMethods'].includes(key)) {
      throw new ConfigError(where, undefined, `has an unknown key "${key}" (allowed: scopes, roles, permissions, optional, safeMethods)`)
    }
  }
  const rule: CompiledRule = { optional: false, safeMethods: safeMethodSet(d.safeMethods, `${where}.safeMethods`) }
  for (const kind of CLAIM_KINDS) {
    if (d[kind] === undefined) continue
    try {
      rule[kind] = compileRequirement(d[kind], `${where}.${kind}`, kind === 'scopes')
    } catch (err) {
      throw new ConfigError(`${where}.${kind}`, undefined, (err as Error).message.replace(`${where}.${kind} `, ''))
    }
  }
  if (d.optional !== undefined) {
    if (typeof d.optional !== 'boolean') throw new ConfigError(`${where}.optional`, undefined, 'must be true or false')
    if (d.optional && CLAIM_KINDS.some(k => rule[k] !== undefined)) {
      throw new ConfigError(`${where}.optional`, undefined, 'cannot be combined with scopes, roles or permissions: a requirement needs a token')
    }
    rule.optional = d.optional
  }
  return Object.freeze(rule)
}

export interface Auth {
  readonly settings: Settings
  readonly verifier: Verifier
  /** Signature checks coalesced per event-loop turn; undefined when verifyBatch is 0. */
  readonly batch: TurnBatch<string, AccessTokenClaims> | undefined
  readonly challenge: ChallengeContext
  /** Looks up the compiled declaration of the request's route. */
  readonly ruleOf: (request: FastifyRequest) => CompiledRule | undefined
  /** RFC 9728: the metadata URL named in this request's challenges, when enabled. */
  readonly resourceMetadata?: ((request: FastifyRequest) => string | undefined) | undefined
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
  if (auth.batch === undefined) {
    // check() answers synchronously when the token is cached or its key at hand: one promise hop fewer.
    const got = auth.verifier.check(token)
    claims = got instanceof Promise ? await got : got
  } else {
    // A cached token does not wait for the batch (whose check() looks again: an earlier token
    // of the same batch may have cached it meanwhile).
    claims = auth.verifier.cached(token) ?? await auth.batch.push(token)
  }
  request.authJwt = claims
  return claims
}

function isSafe (auth: Auth, request: FastifyRequest, own: ReadonlySet<string> | undefined): boolean {
  return (own ?? auth.settings.safeMethods).has(request.method)
}

/**
 * Fail closed on a server-side mistake (a protected route the plugin cannot enforce): a 500 that
 * says so, and an error log telling the developer what to fix.
 */
export function misconfigured (request: FastifyRequest, reply: FastifyReply, why: string): FastifyReply {
  request.log.error({ url: request.routeOptions.url }, `axioms: ${why}`)
  return reply.code(500).send({ error: 'server_error', error_description: 'Route protection is misconfigured' })
}

/** Sends (or throws) the failure; logs the reason, never the token. */
export async function refuse (auth: Auth, request: FastifyRequest, reply: FastifyReply, err: unknown, scope?: readonly string[]): Promise<FastifyReply> {
  if (!(err instanceof AxiomsError)) throw err
  const ctx = auth.resourceMetadata === undefined ? auth.challenge : { ...auth.challenge, resourceMetadata: auth.resourceMetadata(request) }
  const out = toResponseError(err, ctx, scope)
  // The jti of a refused token comes with the error; after a 403 it is the verified token's.
  const jti = err.jti ?? (typeof request.authJwt === 'object' && request.authJwt !== null ? request.authJwt.jti : undefined)
  request.log.debug({ reason: err.reason, jti }, 'axioms: request refused')
  if (auth.settings.errorResponse === 'throw') throw out
  return reply.code(out.statusCode).headers(out.headers).send(out.toJSON())
}

/** Enforces a compiled rule: verification, then each requirement (ANDed). */
export async function enforce (auth: Auth, rule: CompiledRule, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  if (isSafe(auth, request, rule.safeMethods)) return
  let claims: AccessTokenClaims | null
  try {
    claims = await authenticate(auth, request)
    if (claims === null) {
      if (rule.optional) return
      throw new AxiomsError('missing_header')
    }
  } catch (err) {
    return refuse(auth, request, reply, err)
  }
  for (const kind of CLAIM_KINDS) {
    const req = rule[kind]
    if (req !== undefined && !satisfies(claimValues(claims, auth.settings.claims[kind]), req)) {
      // The 403's challenge lists the scopes a scope requirement wanted.
      return refuse(auth, request, reply, new AxiomsError('insufficient'), kind === 'scopes' ? req.list : undefined)
    }
  }
}

export function hasValidAccessToken (auth: Auth, opts: TokenHookOptions = {}): AxiomsHook {
  const rule = compileDeclaration(opts, 'hasValidAccessToken options')
  return tag(async function hasValidAccessToken (request, reply) {
    return enforce(auth, rule, request, reply)
  }, rule)
}

export function requirementHook (auth: Auth, kind: ClaimKind, name: string, req: Requirement | undefined, opts: RequirementHookOptions = {}): AxiomsHook {
  if (req === undefined) {
    const own = compileDeclaration(opts, `${name} options`)
    const hook: AxiomsHook = async function (request, reply) {
      const declared = auth.ruleOf(request)
      const requirement = declared?.[kind]
      // route.ts refuses such routes at startup; this guards hooks added with addHook.
      if (requirement === undefined) return misconfigured(request, reply, `${name}() without a requirement, on a route without config.axioms.${kind}`)
      return enforce(auth, { [kind]: requirement, optional: false, safeMethods: own.safeMethods ?? declared?.safeMethods }, request, reply)
    }
    Object.defineProperty(hook, kNeedsDeclaration, { value: kind })
    Object.defineProperty(hook, 'name', { value: name })
    return hook
  }
  const rule = compileDeclaration({ ...opts, [kind]: req }, `${name}()`)
  const hook: AxiomsHook = async function (request, reply) {
    return enforce(auth, rule, request, reply)
  }
  Object.defineProperty(hook, 'name', { value: name })
  return tag(hook, rule)
}

export function checkObjectOwnership<T, Params> (auth: Auth, opts: OwnershipOptions<T, Params>): AxiomsHook {
  if (typeof opts !== 'object' || opts === null || typeof opts.getObject !== 'function') {
    throw new ConfigError('checkObjectOwnership', undefined, 'needs { getObject(request) }')
  }
  const ownerField = opts.ownerField ?? 'user'
  const claimField = opts.claimField ?? 'sub'
  if (typeof ownerField !== 'string' || ownerField === '' || typeof claimField !== 'string' || claimField === '') {
    throw new ConfigError('checkObjectOwnership', undefined, 'ownerField and claimField must be non-empty strings')
  }
  const safe = safeMethodSet(opts.safeMethods, 'checkObjectOwnership.safeMethods')
  return tag(async function checkObjectOwnership (request, reply) {
    if (isSafe(auth, request, safe)) return
    try {
      const claims = await authenticate(auth, request)
      if (claims === null) throw new AxiomsError('missing_header')
      const obj = await opts.getObject(request as FastifyRequest<{ Params: Params }>)
      if (obj === null || obj === undefined) throw new AxiomsError('not_found')
      const owner = obj instanceof Map ? obj.get(ownerField) : (obj as Record<string, unknown>)[ownerField]
      const claim = Object.hasOwn(claims, claimField) ? claims[claimField] : undefined
      if (!comparable(owner) || !comparable(claim) || String(owner) !== String(claim)) throw new AxiomsError('not_owner')
      request.ownedObject = obj
    } catch (err) {
      return refuse(auth, request, reply, err)
    }
  }, Object.freeze({ optional: false, safeMethods: safe }))
}

function comparable (v: unknown): v is string | number | bigint {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint'
}

/** tokenMiddleware: verify every request carrying a token, never reject (SPEC §3.4). */
export async function tokenMiddleware (auth: Auth, request: FastifyRequest): Promise<void> {
  const header = request.headers.authorization
  if (header === undefined) {
    request.missingAuthHeader = true
    return
  }
  try {
    await authenticate(auth, request)
  } catch (err) {
    request.authJwt = false
    const reason = (err as AxiomsError).reason
    if (reason === 'invalid_scheme' || reason === 'empty_token' || reason === 'duplicate_header') request.invalidBearerToken = true
    request.log.debug({ reason, jti: (err as AxiomsError).jti }, 'axioms: token refused (tokenMiddleware)')
  }
}
