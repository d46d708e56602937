// Options and their AXIOMS_* environment twins -> one frozen Settings object, each concern in its
// own module. Every check throws at register() with the option's name and its variable: a bad
// configuration must never turn into a per-request 500.
import { type ClaimInput, type ClaimSettings, readPreset, resolveClaims } from './claims.js'
import { type ProtectedResourceMetadataOptions, type OpenApiOptions, openapiOf, resourceMetadata } from './documents.js'
import { type IssuerInput, type IssuerSettings, resolveIssuers } from './issuers.js'
import { type JwksInput, type JwksSettings, resolveJwks } from './jwks.js'
import { foreignKeys } from './names.js'
import { type ProxyInput, type ProxySettings, resolveProxy } from './proxy.js'
import { ConfigError, type Env, booleanOf, given, integerIn, parseList, parseNumber, pick, safeMethodSet } from './read.js'
import { type ResponseInput, type ResponseSettings, resolveResponses } from './responses.js'
import { type TokenInput, type TokenSettings, resolveTokens } from './tokens.js'
import { type DpopOptions, type DpopSettings, resolveDpopSettings } from '../dpop/options.js'
import { type MtlsOptions, type MtlsSettings, resolveMtlsSettings } from '../mtls.js'
import { type IntrospectionOptions, type IntrospectionSettings, resolveIntrospection } from '../introspection/options.js'
import { type VerifierInput, type VerifierSettings, resolveVerifier } from './verifier.js'

export { ConfigError } from './read.js'
export { safeMethodSet } from './read.js'
export type { Duration } from './duration.js'
export { ALGORITHMS, type Algorithm } from './tokens.js'
export type { IssuerOptions, IssuerSettings, TenantsOption } from './issuers.js'
export type { JwksSettings } from './jwks.js'
export type { ProxyOptions, ProxySettings } from './proxy.js'
export type { ProtectedResourceMetadataOptions, OpenApiOptions } from './documents.js'
export type { VerifierName } from './verifier.js'

export interface AxiomsOptions extends IssuerInput, TokenInput, ClaimInput, JwksInput, ProxyInput, ResponseInput, VerifierInput {
  safeMethods?: string[]
  tokenMiddleware?: boolean
  /** Verified tokens remembered (LRU). Not with verifier 'fastify-jwt'. */
  tokenCache?: number
  /**
   * Most signature checks of one event-loop turn run together before their requests go on, so
   * that their responses leave in a burst. 0 verifies each token as its request arrives. Default 16
   * (0 with verifier 'fastify-jwt').
   */
  verifyBatch?: number
  /** RFC 9728: serve /.well-known/oauth-protected-resource and name it in challenges. */
  protectedResourceMetadata?: boolean | ProtectedResourceMetadataOptions
  /** @fastify/swagger integration: `false` leaves the OpenAPI document alone. Default true. */
  openapi?: boolean | OpenApiOptions
  /**
   * DPoP (RFC 9449) sender-constrained tokens: mode `allowed` (default: DPoP and Bearer), `required`
   * or `disabled` (`false`), proof windows, server nonces, the replay store.
   */
  dpop?: boolean | DpopOptions
  /**
   * Certificate-bound tokens (RFC 8705): by default the TLS connection's client certificate; where
   * TLS ends at a proxy, `{ certificate(request) }` or `{ certificateHeader }` (trusted as given);
   * `false`: no certificate is ever found, so such tokens are refused.
   */
  mtls?: false | MtlsOptions
  /**
   * RFC 7662 token introspection, for opaque access tokens: the endpoint (or discovery), this API's
   * client credentials, which tokens, how long answers are reused.
   */
  introspection?: false | IntrospectionOptions
  /**
   * Where AXIOMS_* variables, and the proxy variables (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), are
   * read from, at register(), for options not passed. Default `process.env`; `{}` reads none (tests).
   */
  env?: Record<string, string | undefined>
}

export interface Settings extends TokenSettings, ClaimSettings, ResponseSettings, VerifierSettings {
  readonly issuers: readonly IssuerSettings[]
  readonly safeMethods: ReadonlySet<string>
  readonly jwks: JwksSettings
  /** The egress proxy of every outbound request (the same object as `jwks.proxy`). */
  readonly proxy: ProxySettings | undefined
  readonly tokenMiddleware: boolean
  readonly tokenCache: number
  readonly verifyBatch: number
  readonly protectedResourceMetadata: Readonly<ProtectedResourceMetadataOptions> | undefined
  readonly openapi: Readonly<Required<OpenApiOptions>> | undefined
  readonly dpop: DpopSettings
  readonly mtls: MtlsSettings
  readonly introspection: IntrospectionSettings | undefined
  /** Keys of the options object that belong to Fastify or to whoever passed them down. */
  readonly foreignOptions: readonly string[]
}

/** verifyBatch when not set: a burst's first response waits for at most 15 other signature checks. */
export const DEFAULT_VERIFY_BATCH = 16

const OPTION_NAMES: ReadonlySet<string> = new Set<keyof AxiomsOptions>([
  'audience', 'domain', 'issuer', 'jwksUri', 'tenants', 'issuers', 'algorithms', 'tokenTypes', 'profile', 'scopeClaims',
  'rolesClaims', 'permissionsClaims', 'preset', 'clockTolerance', 'safeMethods', 'jwksRefreshInterval',
  'jwksCacheTtl', 'jwksPrefetch', 'jwksCooldown', 'jwksTimeout', 'jwksMaxBytes', 'realm', 'errorResponse',
  'problemDetails', 'decoratorName', 'tokenMiddleware', 'tokenCache', 'verifyBatch', 'protectedResourceMetadata',
  'openapi', 'verifier', 'dpop', 'mtls', 'proxy', 'introspection', 'env'
])

/** Reads options (explicit first, then AXIOMS_* variables) into frozen settings, or throws. */
export function resolveSettings (input: AxiomsOptions = {}): Settings {
  if (typeof input !== 'object' || input === null) throw new ConfigError('options', undefined, 'must be an object')
  const foreignOptions = foreignKeys(input, OPTION_NAMES)
  if (input.env !== undefined && (typeof input.env !== 'object' || input.env === null)) {
    throw new ConfigError('env', undefined, 'must be an object of environment variables (such as process.env, or {} to read none)')
  }
  const env: Env = input.env ?? process.env

  const tokenCacheSrc = pick(input, 'tokenCache', env, 'AXIOMS_TOKEN_CACHE', parseNumber)
  const verifier = resolveVerifier(input as VerifierInput & Record<string, unknown>, env, tokenCacheSrc)
  const preset = readPreset(input, env)
  // With verifier 'fastify-jwt', get-jwks finds the keys: a template needs no jwksUri there.
  const { issuers, domain } = resolveIssuers(input, env, preset, verifier.verifier === 'builtin')
  const safeSrc = pick(input, 'safeMethods', env, 'AXIOMS_SAFE_METHODS', parseList)
  const tokenCache = integerIn(tokenCacheSrc, 'tokenCache', 0, 0)
  const batchSrc = pick(input, 'verifyBatch', env, 'AXIOMS_VERIFY_BATCH', parseNumber)
  const verifyBatch = integerIn(batchSrc, 'verifyBatch', DEFAULT_VERIFY_BATCH, 0)
  // A bigger batch delays the first response of a burst by that many signature checks.
  if (verifyBatch > 1024) throw new ConfigError('verifyBatch', batchSrc.env, 'must be at most 1024')
  const proxy = resolveProxy(input, env)
  // @fastify/jwt reads `Authorization: Bearer` only: DPoP cannot reach it, so the mode is off there.
  const dpopGiven = input.dpop !== undefined || (env.AXIOMS_DPOP_MODE ?? '').trim() !== ''
  const dpop = resolveDpopSettings(verifier.verifier === 'fastify-jwt' && !dpopGiven ? false : input.dpop, env)
  if (verifier.verifier === 'fastify-jwt' && dpop.mode !== 'disabled') {
    throw new ConfigError('dpop', input.dpop === undefined ? 'AXIOMS_DPOP_MODE' : undefined, 'cannot be on with verifier "fastify-jwt" (its @fastify/jwt reads Authorization: Bearer only): set dpop: false, or use verifier "builtin"')
  }
  const protectedResourceMetadata = resourceMetadata(input.protectedResourceMetadata)
  if (protectedResourceMetadata !== undefined && protectedResourceMetadata.authorizationServers === undefined &&
    issuers.some(i => i.authorizationServers === undefined)) {
    throw new ConfigError('protectedResourceMetadata.authorizationServers', undefined, 'is required with an issuer template whose tenants are a function: the document cannot list tenants nobody knows in advance')
  }

  return Object.freeze({
    issuers,
    ...resolveTokens(input, env),
    ...resolveClaims(input, env, domain, preset.value),
    safeMethods: safeMethodSet(safeSrc.value, 'safeMethods', safeSrc.env) ?? new Set(['OPTIONS']),
    jwks: resolveJwks(input, env, proxy),
    proxy,
    ...resolveResponses(input, env, (issuers[0] as IssuerSettings).id),
    tokenMiddleware: booleanOf(given(input.tokenMiddleware), 'tokenMiddleware', false),
    tokenCache,
    // @fastify/jwt checks signatures in its own asynchronous step: nothing to batch.
    verifyBatch: verifier.verifier === 'fastify-jwt' ? 0 : verifyBatch,
    ...verifier,
    protectedResourceMetadata,
    openapi: openapiOf(input.openapi),
    dpop,
    mtls: resolveMtlsSettings(input.mtls, env),
    introspection: resolveIntrospection(input.introspection, env, issuers),
    foreignOptions: Object.freeze(foreignOptions)
  })
}
