import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import './lib/augment.js'
import { type Auth, claimsOf, kAuth } from './lib/authenticate.js'
import { AxiomsError } from './lib/errors.js'
import { checkObjectOwnership, hasValidAccessToken, requirementHook, tokenMiddleware } from './lib/hooks.js'
import { ConfigError } from './lib/options/index.js'
import { type AxiomsOptions, resolveSettings } from './lib/options/index.js'
import { planMetadata, serveMetadata } from './lib/metadata.js'
import { wrapSwagger } from './lib/openapi.js'
import { compileRoute, createRegistry, installGuard, ruleOf } from './lib/route.js'
import { type AccessTokenClaims, Verifier } from './lib/verify.js'
import { TurnBatch } from './lib/batch.js'
import { FastifyJwtVerifier } from './lib/fastify-jwt.js'
import { DpopVerifier } from './lib/dpop/proof.js'
import { Introspector } from './lib/introspection/introspector.js'
import { kSender } from './lib/sender.js'
import { redactRequestLogs } from './lib/redact.js'

const axiomsPlugin: FastifyPluginAsync<AxiomsOptions> = async function axiomsPlugin (fastify, options) {
  const settings = resolveSettings(options)
  const log = fastify.log
  if (settings.foreignOptions.length > 0) log.debug({ ignored: settings.foreignOptions }, 'axioms: options that are not axioms-fastify\'s were ignored')
  // Fastify logs the request before any hook: keep Authorization and ?access_token out of it.
  redactRequestLogs(log)
  const pluginLog = {
    error: (obj: object, msg: string) => log.error(obj, msg),
    warn: (obj: object, msg: string) => log.warn(obj, msg),
    debug: (obj: object, msg: string) => log.debug(obj, msg)
  }
  const verifier = new Verifier(settings, pluginLog)
  // verifier 'fastify-jwt': the app's @fastify/jwt checks signatures; `verifier` is then never started.
  const fastifyJwt = settings.verifier === 'fastify-jwt' ? new FastifyJwtVerifier(settings, pluginLog) : undefined
  const outcomes = (fastifyJwt ?? verifier).outcomes
  const introspector = settings.introspection === undefined ? undefined : new Introspector(settings.introspection, settings, settings.jwks, pluginLog, outcomes)
  if (settings.ignoredOptions.length > 0) log.info({ ignored: settings.ignoredOptions }, 'axioms: options that do not apply with verifier "fastify-jwt" (get-jwks keeps the keys) were ignored')
  if (settings.dpop.mode !== 'disabled' && settings.dpop.nonce?.ephemeral === true) {
    // Behind a load balancer, another instance refuses this one's nonces: clients loop on use_dpop_nonce.
    log.warn({ option: 'dpop.nonce.secret', env: 'AXIOMS_DPOP_NONCE_SECRET' }, 'axioms: DPoP nonces without a secret: a random one was drawn, so this process\'s nonces work on this instance only (single instance); give every instance the same secret')
  }
  const registry = createRegistry()
  const metadata = planMetadata(settings)
  const auth: Auth = {
    settings,
    verifier,
    fastifyJwt,
    introspector,
    dpop: settings.dpop.mode === 'disabled' ? undefined : new DpopVerifier(settings.dpop),
    batch: settings.verifyBatch > 0 ? new TurnBatch(settings.verifyBatch, token => verifier.check(token, true)) : undefined,
    challenge: {
      realm: settings.realm,
      dpop: settings.dpop.mode === 'disabled' ? undefined : { algs: settings.dpop.algorithms, mode: settings.dpop.mode }
    },
    ruleOf,
    resourceMetadata: metadata?.urlFor
  }

  const property = settings.decoratorName
  // hasRequestDecorator sees Fastify's own request members too (decorateRequest would not).
  if (fastify.hasRequestDecorator(property)) {
    throw new ConfigError('decoratorName', undefined, `names request.${property}, which is already taken (by Fastify, @fastify/jwt or another plugin): choose another name`)
  }
  fastify.decorateRequest(property, null)
  fastify.decorateRequest('missingAuthHeader', false)
  fastify.decorateRequest('invalidBearerToken', false)
  fastify.decorateRequest('ownedObject', null)
  fastify.decorateRequest(kAuth, null)
  fastify.decorateRequest(kSender, null)

  fastify.decorate('hasValidAccessToken', opts => hasValidAccessToken(auth, opts))
  fastify.decorate('hasRequiredScopes', (req, opts) => requirementHook(auth, 'scopes', 'hasRequiredScopes', req, opts))
  fastify.decorate('hasRequiredRoles', (req, opts) => requirementHook(auth, 'roles', 'hasRequiredRoles', req, opts))
  fastify.decorate('hasRequiredPermissions', (req, opts) => requirementHook(auth, 'permissions', 'hasRequiredPermissions', req, opts))
  fastify.decorate('checkObjectOwnership', opts => checkObjectOwnership(auth, opts))
  // In 'fastify-jwt' mode there is no sound way to verify outside a request: the get-jwks secret
  // callback of @fastify/jwt's README is written for request.jwtVerify(), and fastify.jwt.verify()
  // calls it with other arguments (@fastify/jwt #388). Say so instead of failing every token.
  const unavailable = (what: string, why: string): ConfigError =>
    new ConfigError('verifier', settings.verifierEnv, `is "fastify-jwt", where app.axioms.${what}() is not available: ${why}`)
  fastify.decorate('axioms', {
    verify: async (token: string) => {
      if (typeof token === 'string' && introspector?.applies(token) === true) return introspector.introspect(token, false)
      if (fastifyJwt !== undefined) throw unavailable('verify', '@fastify/jwt verifies tokens per request (request.jwtVerify()); protect the route with the plugin\'s hooks or config.axioms instead')
      return verifier.verify(token)
    },
    claims: (request: FastifyRequest) => {
      const claims = claimsOf(auth, request)
      // No verified claims: the route is not protected, or was called anonymously (optional).
      if (typeof claims !== 'object' || claims === null) throw new AxiomsError('missing_header')
      return claims as AccessTokenClaims
    },
    stats: () => ({
      ...outcomes.counts,
      refusedBy: { ...outcomes.refusedBy },
      tokenCacheSize: verifier.cacheSize(),
      issuers: fastifyJwt === undefined ? verifier.stores.map(s => s.stats()) : [],
      ...(introspector === undefined ? {} : { introspection: introspector.stats() })
    }),
    refresh: async () => {
      if (fastifyJwt !== undefined) throw unavailable('refresh', 'get-jwks keeps the keys')
      await Promise.all(verifier.stores.map(s => s.refresh()))
    }
  })

  fastify.addHook('onRoute', route => compileRoute(auth, registry, route))
  installGuard(fastify, settings.problemDetails)
  if (metadata !== undefined) serveMetadata(fastify, settings, metadata, () => [...registry.scopes].sort())
  if (settings.tokenMiddleware) fastify.addHook('onRequest', async request => tokenMiddleware(auth, request))
  fastify.addHook('onReady', async () => {
    // @fastify/swagger may be registered before or after us: its decorator exists by now.
    wrapSwagger(fastify, settings)
    if (fastifyJwt !== undefined) return fastifyJwt.attach(fastify)
    // A slow issuer must not fail startup: onReady hooks are bounded by pluginTimeout, and a
    // discovery plus a JWKS fetch may take twice jwksTimeout. Wait at most half the budget; the
    // fetch goes on, and requests share it (single-flight).
    const started = verifier.start(settings.jwks.prefetch)
    // Fastify always fills pluginTimeout in (default 10 s; 0 disables the limit).
    const budget = fastify.initialConfig.pluginTimeout as number
    if (budget <= 0) return started
    let timer: NodeJS.Timeout | undefined
    await Promise.race([started, new Promise<void>(resolve => { timer = setTimeout(resolve, budget / 2).unref() })])
    clearTimeout(timer)
  })
  fastify.addHook('onClose', async () => {
    verifier.stop()
    introspector?.stop()
  })
}

/** The plugin. Register it before declaring the routes it protects. */
export const axioms = fp(axiomsPlugin, { name: 'axioms-fastify', fastify: '5.x' })
export default axioms

export { AxiomsError, isAxiomsError } from './lib/errors.js'
export type { ErrorCode, ProblemDetails, Reason } from './lib/errors.js'
export { getTokenScopes, getTokenRoles, getTokenPermissions } from './lib/claims.js'
export type { ClaimName, Requirement } from './lib/claims.js'
export type { Algorithm, AxiomsOptions, Duration, IssuerOptions, ProtectedResourceMetadataOptions, OpenApiOptions, TenantsOption, VerifierName } from './lib/options/index.js'
export type { TenantPredicate, TenantValues } from './lib/tenants.js'
export { ConfigError } from './lib/options/index.js'
export type { RouteDeclaration } from './lib/rule.js'
export type { EntraTenantPredicate, PresetName, PresetOptions } from './lib/presets.js'
export type { AxiomsHook, OwnershipOptions, RequirementHookOptions, TokenHookOptions } from './lib/hooks.js'
export type { AccessTokenClaims } from './lib/verify.js'
export type { AxiomsDecorator, AxiomsStats, AxiomsTypeOptions, ClaimsProperty, ClaimsPropertyName } from './lib/augment.js'
export type { KeyStoreStats } from './lib/keys.js'
export { VERIFY_CHANNEL, JWKS_CHANNEL, INTROSPECTION_CHANNEL } from './lib/observe.js'
export type { VerifyMessage, JwksMessage, JwksEvent, IntrospectionMessage } from './lib/observe.js'
export type { IntrospectionOptions, ClientAuthMethod } from './lib/introspection/options.js'
export type { IntrospectionStats } from './lib/introspection/introspector.js'
export type { DpopMode, DpopNonceOptions, DpopOptions } from './lib/dpop/options.js'
export type { DpopReplayStore } from './lib/dpop/replay.js'
export type { MtlsOptions } from './lib/mtls.js'
