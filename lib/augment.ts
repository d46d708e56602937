// Types that Fastify learns when axioms-fastify is imported (emitted into dist by tsc).
import type { Requirement } from './claims.js'
import type { Reason } from './errors.js'
import type { AxiomsHook, OwnershipOptions, RequirementHookOptions, TokenHookOptions } from './hooks.js'
import type { KeyStoreStats } from './keys.js'
import type { IntrospectionStats } from './introspection/introspector.js'
import type { FastifyRequest } from 'fastify'
import type { RouteDeclaration } from './rule.js'
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
  /** Token introspection (RFC 7662), when configured. */
  introspection?: IntrospectionStats
}

export interface AxiomsDecorator {
  /** The same verification as the hooks, outside HTTP. Rejects with AxiomsError. */
  verify: (token: string) => Promise<Readonly<AccessTokenClaims>>
  /** Counters and per-issuer key state, for a health route. */
  stats: () => AxiomsStats
  /** Fetches every issuer's key set now (shared with a fetch already under way). */
  refresh: () => Promise<void>
  /**
   * The verified claims of a request that passed an axioms check, typed without `null`: for
   * handlers of protected routes. Throws AxiomsError 401 (missing_header) when the request has
   * none (an unprotected route, or an optional one called anonymously).
   */
  claims: (request: FastifyRequest) => Readonly<AccessTokenClaims>
}

/**
 * Merge `{ decoratorName: 'user' }` into this interface (declaration merging on 'axioms-fastify')
 * when the plugin is registered with `decoratorName: 'user'`: the claims are then typed on
 * `request.user` instead of `request.authJwt`.
 */
export interface AxiomsTypeOptions {}

/** The request property that holds the claims, as AxiomsTypeOptions says (default `authJwt`). */
export type ClaimsPropertyName = AxiomsTypeOptions extends { decoratorName: infer N extends string } ? N : 'authJwt'

/**
 * Verified claims; null when no token was checked (or an optional route was called anonymously,
 * or a composed strategy refused the token); false for an invalid token under tokenMiddleware.
 */
export type ClaimsProperty = { [K in ClaimsPropertyName]: Readonly<AccessTokenClaims> | null | false }

declare module 'fastify' {
  interface FastifyInstance {
    axioms: AxiomsDecorator
    hasValidAccessToken: (opts?: TokenHookOptions) => AxiomsHook
    hasRequiredScopes: (req?: Requirement, opts?: RequirementHookOptions) => AxiomsHook
    hasRequiredRoles: (req?: Requirement, opts?: RequirementHookOptions) => AxiomsHook
    hasRequiredPermissions: (req?: Requirement, opts?: RequirementHookOptions) => AxiomsHook
    checkObjectOwnership: <T = unknown, Params = unknown>(opts: OwnershipOptions<T, Params>) => AxiomsHook
  }
  interface FastifyRequest extends ClaimsProperty {
    /** tokenMiddleware: the request had no Authorization header. */
    missingAuthHeader: boolean
    /** tokenMiddleware: the Authorization header was not a usable Bearer header. */
    invalidBearerToken: boolean
    /** checkObjectOwnership: the object the caller owns. */
    ownedObject: unknown
  }
  interface FastifyContextConfig {
    /** Route protection, compiled at startup. */
    axioms?: RouteDeclaration
  }
}
