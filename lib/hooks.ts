// The hook factories (hasValidAccessToken, hasRequired*, checkObjectOwnership) and tokenMiddleware.
// Each factory returns a hook that composes (under @fastify/auth it rejects on failure); route.ts
// swaps it for its direct twin, which answers itself, where the route lists it among its own hooks.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { type Auth, authenticate, setClaims } from './authenticate.js'
import { CLAIM_KINDS, type ClaimKind, claimValues, type Requirement, satisfies } from './claims.js'
import { AxiomsError, isAxiomsError } from './errors.js'
import { ConfigError, safeMethodSet } from './options/index.js'
import { deliver, misconfigured, refusal } from './respond.js'
import { senderOf } from './sender.js'
import { type CompiledRule, compileDeclaration } from './rule.js'
import type { AccessTokenClaims } from './verify.js'

export type AxiomsHook = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>

export interface TokenHookOptions {
  /** Methods that skip the check; the plugin's `safeMethods` when absent. */
  safeMethods?: string[]
  /** Let requests without a token through anonymously (claims `null`). */
  optional?: boolean
  /** Accept only DPoP-bound tokens over `Authorization: DPoP` here. */
  dpop?: boolean
}

export interface RequirementHookOptions {
  safeMethods?: string[]
  /** Accept only DPoP-bound tokens over `Authorization: DPoP` here. */
  dpop?: boolean
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

/** Marks hooks that read the route's declaration, so route.ts can refuse routes without one. */
export const kNeedsDeclaration = Symbol('axioms.needsDeclaration')
/** The compiled rule a factory-made hook enforces, so route.ts can describe the route (OpenAPI, RFC 9728). */
export const kRule = Symbol('axioms.rule')
/** The twin of a hook that answers refusals itself: what a route's own hook arrays run. */
export const kDirect = Symbol('axioms.direct')

/** `direct`: Fastify runs the hook as one of the route's own hooks (see respond.ts). */
type Check = (request: FastifyRequest, reply: FastifyReply, direct: boolean) => Promise<unknown>

interface Tags { rule?: CompiledRule, needs?: ClaimKind }

/** A hook (composable) with its direct twin; both carry the tags route.ts reads. */
function hookOf (name: string, check: Check, tags: Tags): AxiomsHook {
  const composed: AxiomsHook = (request, reply) => check(request, reply, false)
  const direct: AxiomsHook = (request, reply) => check(request, reply, true)
  for (const fn of [composed, direct]) {
    Object.defineProperty(fn, 'name', { value: name })
    if (tags.rule !== undefined) Object.defineProperty(fn, kRule, { value: tags.rule })
    if (tags.needs !== undefined) Object.defineProperty(fn, kNeedsDeclaration, { value: tags.needs })
  }
  Object.defineProperty(composed, kDirect, { value: direct })
  return composed
}

function isSafe (auth: Auth, request: FastifyRequest, own: ReadonlySet<string> | undefined): boolean {
  return (own ?? auth.settings.safeMethods).has(request.method)
}

/** Verification, then each requirement (ANDed); a refusal ends the request (or rejects). */
export async function enforce (auth: Auth, rule: CompiledRule, request: FastifyRequest, reply: FastifyReply, direct: boolean): Promise<unknown> {
  if (isSafe(auth, request, rule.safeMethods)) return
  const dpopRequired = rule.dpop
  let claims: AccessTokenClaims | null
  try {
    claims = await authenticate(auth, request)
  } catch (err) {
    // As under dpop.mode 'required': a Bearer request to a route that requires DPoP is refused for
    // its scheme (DPoP challenge only), whatever its token's fault.
    const refused = dpopRequired && senderOf(request)?.scheme === 'bearer' ? new AxiomsError('dpop_scheme_required') : asAxiomsError(err)
    return deliver(auth, request, reply, refusal(auth, request, refused, { dpopRequired }), direct)
  }
  if (claims === null) {
    if (rule.optional) return
    return deliver(auth, request, reply, refusal(auth, request, new AxiomsError('missing_header'), { dpopRequired }), direct)
  }
  const sender = senderOf(request)
  if (dpopRequired && sender?.scheme !== 'dpop') {
    return deliver(auth, request, reply, refusal(auth, request, new AxiomsError('dpop_scheme_required'), { dpopRequired }), direct)
  }
  for (const kind of CLAIM_KINDS) {
    const req = rule[kind]
    if (req === undefined) continue
    const have = claimValues(claims, auth.settings.claims[kind])
    if (!satisfies(have, req)) {
      const missing = req.list.filter(v => !have.has(v))
      // The 403's challenge lists the scopes a scope requirement wanted.
      const out = refusal(auth, request, new AxiomsError('insufficient'), { scope: kind === 'scopes' ? req.list : undefined, detail: { kind, mode: req.mode, missing }, dpopRequired })
      return deliver(auth, request, reply, out, direct)
    }
  }
  // A composition may have cleared the claims after an earlier strategy's refusal.
  setClaims(auth, request, claims)
  nextNonce(request, reply)
}

// RFC 9449 §9: a proof whose nonce was not the current one gets the next nonce with the answer.
function nextNonce (request: FastifyRequest, reply: FastifyReply): void {
  const nonce = senderOf(request)?.nonce
  if (nonce !== undefined) reply.header('dpop-nonce', nonce)
}

// Verification rejects with AxiomsError only; anything else would be a bug of ours.
function asAxiomsError (err: unknown): AxiomsError {
  /* c8 ignore next */
  return isAxiomsError(err) ? err : new AxiomsError('malformed')
}

export function hasValidAccessToken (auth: Auth, opts: TokenHookOptions = {}): AxiomsHook {
  const rule = compileDeclaration(opts, 'hasValidAccessToken options', auth.settings.dpop.mode === 'disabled')
  return hookOf('hasValidAccessToken', (request, reply, direct) => enforce(auth, rule, request, reply, direct), { rule })
}

export function requirementHook (auth: Auth, kind: ClaimKind, name: string, req: Requirement | undefined, opts: RequirementHookOptions = {}): AxiomsHook {
  if (req === undefined) {
    const own = compileDeclaration(opts, `${name} options`, auth.settings.dpop.mode === 'disabled')
    return hookOf(name, (request, reply, direct) => {
      const declared = auth.ruleOf(request)
      const requirement = declared?.[kind]
      // route.ts refuses such routes at startup; this guards hooks added with addHook.
      if (requirement === undefined) return Promise.resolve(misconfigured(auth.settings.problemDetails, request, reply, `${name}() without a requirement, on a route without config.axioms.${kind}`))
      return enforce(auth, { [kind]: requirement, optional: false, safeMethods: own.safeMethods ?? declared?.safeMethods, dpop: own.dpop || declared?.dpop === true }, request, reply, direct)
    }, { needs: kind })
  }
  const rule = compileDeclaration({ ...opts, [kind]: req }, `${name}()`, auth.settings.dpop.mode === 'disabled')
  return hookOf(name, (request, reply, direct) => enforce(auth, rule, request, reply, direct), { rule })
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
  const getObject = opts.getObject
  return hookOf('checkObjectOwnership', async (request, reply, direct) => {
    if (isSafe(auth, request, safe)) return
    let obj: T | null | undefined
    let claims: AccessTokenClaims | null
    try {
      claims = await authenticate(auth, request)
      if (claims === null) throw new AxiomsError('missing_header')
      obj = await getObject(request as FastifyRequest<{ Params: Params }>)
    } catch (err) {
      // getObject's own failures (a database error) are the app's: they go to its error handler.
      if (!isAxiomsError(err)) throw err
      return deliver(auth, request, reply, refusal(auth, request, err), direct)
    }
    let refused: AxiomsError | undefined
    if (obj === null || obj === undefined) {
      refused = new AxiomsError('not_found')
    } else {
      const owner = obj instanceof Map ? obj.get(ownerField) : (obj as Record<string, unknown>)[ownerField]
      const claim = Object.hasOwn(claims, claimField) ? claims[claimField] : undefined
      if (!comparable(owner) || !comparable(claim) || String(owner) !== String(claim)) refused = new AxiomsError('not_owner')
    }
    if (refused !== undefined) return deliver(auth, request, reply, refusal(auth, request, refused), direct)
    setClaims(auth, request, claims)
    request.ownedObject = obj
    nextNonce(request, reply)
  }, { rule: Object.freeze({ optional: false, safeMethods: safe, dpop: false }) })
}

function comparable (v: unknown): v is string | number | bigint {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint'
}

/** tokenMiddleware: verify every request carrying a token, never reject (the family's setup_token_middleware). */
export async function tokenMiddleware (auth: Auth, request: FastifyRequest): Promise<void> {
  const header = request.headers.authorization
  if (header === undefined) {
    request.missingAuthHeader = true
    return
  }
  try {
    await authenticate(auth, request)
  } catch (err) {
    setClaims(auth, request, false)
    const reason = (err as AxiomsError).reason
    if (reason === 'invalid_scheme' || reason === 'empty_token' || reason === 'duplicate_header') request.invalidBearerToken = true
    request.log.debug({ reason, jti: (err as AxiomsError).jti }, 'axioms: token refused (tokenMiddleware)')
  }
}
