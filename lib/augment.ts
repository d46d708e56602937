// Types that Fastify learns when axioms-fastify is imported (emitted into dist by tsc).
import type { Requirement } from './claims.js'
import type { Reason } from './errors.js'
import type { AxiomsHook, OwnershipOptions, RequirementHookOptions, TokenHookOptions } from './hooks.js'
import type { KeyStoreStats } from './keys.js'
import type { RouteDeclaration } from './options.js'
import type { AccessTokenClaims } from './verify.js'

export interface AxiomsStats {
  /** Tokens whose verification succeeded (cache hits excluded), since start. */
  verified: number
  /** Tokens answered from the verified-token cache (`tokenCache`). */
  cacheHits: number
  /** Tokens whose verification failed (missing headers and 403s are not verifications). */
  refused: number
  /**
   * Verifications that ended in an unexpected exception: a bug, not the client's fault. Answered
   * 401 "Invalid access token", logged at error with the stack, not counted in `refused`.
   */
  internalErrors: number
  /** `refused`, by reason (`expired`, `bad_signature`, `keys_unavailable`, ...). */
  refusedBy: Partial<Record<Reason, number>>
  tokenCacheSize: number
  issuers: KeyStoreStats[]
}

export interface AxiomsDecorator {
  /** The same verification as the hooks, outside HTTP. Rejects with AxiomsError. */
  verify: (token: string) => Promise<Readonly<AccessTokenClaims>>
  /** Counters and per-issuer key state, for a health route. */
  stats: () => AxiomsStats
  /** Fetches every issuer's key set now (shared with a fetch already under way). */
  refresh: () => Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    axioms: AxiomsDecorator
    hasValidAccessToken: (opts?: TokenHookOptions) => AxiomsHook
    hasRequiredScopes: (req?: Requirement, opts?: RequirementHookOptions) => AxiomsHook
    hasRequiredRoles: (req?: Requirement, opts?: RequirementHookOptions) => AxiomsHook
    hasRequiredPermissions: (req?: Requirement, opts?: RequirementHookOptions) => AxiomsHook
    checkObjectOwnership: <T = unknown, Params = unknown>(opts: OwnershipOptions<T, Params>) => AxiomsHook
  }
  interface FastifyRequest {
    /** Verified claims; null when no token was checked (or an optional route was called anonymously); false for an invalid token under tokenMiddleware. */
    authJwt: Readonly<AccessTokenClaims> | null | false
    /** tokenMiddleware: the request had no Authorization header. */
    missingAuthHeader: boolean
    /** tokenMiddleware: the Authorization header was not a usable Bearer header. */
    invalidBearerToken: boolean
    /** checkObjectOwnership: the object the caller owns. */
    ownedObject: unknown
  }
  interface FastifyContextConfig {
    /** Route protection, compiled at startup (SPEC §3.2). */
    axioms?: RouteDeclaration
  }
}
