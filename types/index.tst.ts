// Type tests against the built package (`npm run test:typescript` builds first). Imports go
// through the package's own name, as a user's code would.
import { expect, test } from 'tstyche'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import axioms, {
  type AccessTokenClaims,
  AxiomsError,
  type AxiomsHook,
  type AxiomsOptions,
  type AxiomsStats,
  type DpopMode,
  type DpopOptions,
  type DpopReplayStore,
  INTROSPECTION_CHANNEL,
  type IntrospectionMessage,
  type IntrospectionOptions,
  type IntrospectionStats,
  getTokenScopes,
  isAxiomsError,
  type ProblemDetails,
  type JwksMessage,
  type MtlsOptions,
  type Reason,
  type RouteDeclaration,
  type TenantPredicate,
  type TenantValues,
  type VerifierName,
  type VerifyMessage
} from 'axioms-fastify'
import { createDpopProof, createTestIssuer, type DpopKey, generateDpopKey, signCertificateBoundToken, signDpopBoundToken, type TestIssuer } from 'axioms-fastify/testing'
import { RedisReplayStore, type RedisSetClient } from 'axioms-fastify/dpop/redis'

// What a user writes once (for example in src/types.d.ts) to type their own claims.
declare module 'axioms-fastify' {
  interface AccessTokenClaims {
    tenant: string
    'https://example.com/claims/plan'?: 'free' | 'pro'
  }
}

const app = Fastify()

test('the plugin registers with typed options', () => {
  expect(app.register(axioms, { audience: 'api', domain: 'tenant.example.com' })).type.not.toRaiseError()
  expect(app.register(axioms, { audience: ['a', 'b'], issuers: [{ issuer: 'https://a.example', audience: 'x' }], preset: { name: 'keycloak', clientId: 'c' } })).type.not.toRaiseError()
  expect(app.register(axioms, { audience: 'api', issuer: 'https://a.example', protectedResourceMetadata: { resource: 'https://api.example.com' }, openapi: { securitySchemeName: 'bearer' } })).type.not.toRaiseError()
  expect(app.register(axioms, { audience: 'api', issuer: 'https://a.example', tokenCache: 1000, verifyBatch: 0 })).type.not.toRaiseError()
  expect(app.register(axioms, { audience: 'api', issuer: 'https://a.example', jwksTimeout: '500ms', jwksRefreshInterval: '10m', jwksCacheTtl: 3600, clockTolerance: '30s', jwksCooldown: 0.5 })).type.not.toRaiseError()
  expect(app.register(axioms, { audience: 'api', issuer: 'https://a.example', decoratorName: 'auth', problemDetails: true })).type.not.toRaiseError()
  expect(app.register(axioms, { audience: 'api', issuer: 'https://a.example', verifier: 'fastify-jwt' })).type.not.toRaiseError()
  expect(app.register(axioms, { audience: 'api', issuer: 'https://a.example', proxy: false })).type.not.toRaiseError()
  expect(app.register(axioms, { audience: 'api', issuer: 'https://a.example', proxy: 'http://user:pass@proxy.corp:3128' })).type.not.toRaiseError()
  expect(app.register(axioms, { audience: 'api', issuer: 'https://a.example', proxy: { url: 'http://proxy.corp:3128', noProxy: ['.corp', '10.0.0.0/8'] } })).type.not.toRaiseError()
  expect(app.register(axioms, { audience: 'api', issuer: 'https://a.example', proxy: { noProxy: 'localhost,127.0.0.1' } })).type.not.toRaiseError()
  expect<VerifierName>().type.toBe<'builtin' | 'fastify-jwt'>()
  // Issuer templates: an allow-list, { name: value } items, or a synchronous function of the values.
  expect(app.register(axioms, { audience: 'api', issuer: 'https://login.example/{tenant}/v2.0', jwksUri: 'https://login.example/keys', tenants: ['a', 'b'] })).type.not.toRaiseError()
  expect(app.register(axioms, { audience: 'api', issuers: [{ issuer: 'https://idp.example/{region}/{tenant}', jwksUri: 'https://idp.example/keys', tenants: [{ region: 'eu', tenant: 'acme' }] }] })).type.not.toRaiseError()
  expect(app.register(axioms, { audience: 'api', issuer: 'https://login.example/{tenant}/v2.0', jwksUri: 'https://login.example/keys', tenants: values => values.tenant === 'a' })).type.not.toRaiseError()
  expect(app.register(axioms, { audience: 'api', preset: { name: 'entra', tenants: ['72f988bf-86f1-41af-91ab-2d7cd011db47'] } })).type.not.toRaiseError()
  expect(app.register(axioms, { audience: 'api', preset: { name: 'entra', tenants: ({ tenantid }) => new Set(['x']).has(tenantid) } })).type.not.toRaiseError()
  expect<Parameters<TenantPredicate>[0]>().type.toBe<TenantValues>()
  // Fastify's own register options are accepted next to axioms-fastify's.
  expect(app.register(axioms, { audience: 'api', issuer: 'https://a.example', prefix: '/api', logLevel: 'warn' })).type.not.toRaiseError()
})

test('wrong option types do not compile', () => {
  expect(app.register(axioms, { audience: 'api', algorithms: ['HS256'] })).type.toRaiseError()
  expect(app.register(axioms, { audience: 'api', algorithms: ['none'] })).type.toRaiseError()
  expect(app.register(axioms, { audience: 1 })).type.toRaiseError()
  expect(app.register(axioms, { audience: 'api', errorResponse: 'x' })).type.toRaiseError()
  expect(app.register(axioms, { audience: 'api', verifyBatch: '16' })).type.toRaiseError()
  expect(app.register(axioms, { audience: 'api', preset: 'google' })).type.toRaiseError()
  expect(app.register(axioms, { audience: 'api', issuers: [{ jwksUri: 'https://a.example/keys' }] })).type.toRaiseError()
  expect(app.register(axioms, { audience: 'api', jwksTimeout: '5 seconds' })).type.toRaiseError()
  expect(app.register(axioms, { audience: 'api', jwksCooldown: '30' })).type.toRaiseError()
  expect(app.register(axioms, { audience: 'api', decoratorName: 7 })).type.toRaiseError()
  expect(app.register(axioms, { audience: 'api', problemDetails: 'yes' })).type.toRaiseError()
  expect(app.register(axioms, { audience: 'api', verifier: 'fast-jwt' })).type.toRaiseError()
  // A tenant function decides synchronously: an async one does not compile.
  expect(app.register(axioms, { audience: 'api', issuer: 'https://login.example/{tenant}/v2.0', tenants: async () => true })).type.toRaiseError()
  expect(app.register(axioms, { audience: 'api', issuer: 'https://login.example/{tenant}/v2.0', tenants: 42 })).type.toRaiseError()
  expect(app.register(axioms, { audience: 'api', proxy: 3128 })).type.toRaiseError()
  expect(app.register(axioms, { audience: 'api', proxy: { uri: 'http://proxy.corp:3128' } })).type.toRaiseError()
  expect(app.register(axioms, { audience: 'api', proxy: { url: 'http://proxy.corp:3128', noProxy: 7 } })).type.toRaiseError()
  expect<AxiomsOptions>().type.not.toBeAssignableFrom({ audienc: 'typo' })
})

test('merged custom claims are typed on request.authJwt', () => {
  app.get('/', { onRequest: app.hasValidAccessToken() }, async request => {
    expect(request.authJwt).type.toBe<Readonly<AccessTokenClaims> | null | false>()
    if (request.authJwt) {
      expect(request.authJwt.tenant).type.toBe<string>()
      expect(request.authJwt['https://example.com/claims/plan']).type.toBe<'free' | 'pro' | undefined>()
      expect(request.authJwt.sub).type.toBe<string | undefined>()
      expect(request.authJwt.exp).type.toBe<number>()
      expect(request.authJwt.anythingElse).type.toBe<unknown>()
    }
    return {}
  })
  expect<AccessTokenClaims['tenant']>().type.toBe<string>()
})

test('claims cannot be written', () => {
  app.get('/w', async request => {
    const claims = request.authJwt
    if (claims) {
      expect(() => { claims.sub = 'someone-else' }).type.toRaiseError()
      expect(() => { claims.tenant = 'other' }).type.toRaiseError()
      expect(() => { claims.roles?.push('admin') }).type.toRaiseError()
      expect(() => { delete claims.jti }).type.toRaiseError()
    }
    return {}
  })
})

test('route config.axioms is typed', () => {
  expect(app.get('/a', { config: { axioms: { scopes: ['read'], roles: { all: ['x', 'y'] }, permissions: { any: ['p'] } } } }, async () => ({}))).type.not.toRaiseError()
  expect(app.get('/b', { config: { axioms: { optional: true, safeMethods: ['GET'] } } }, async () => ({}))).type.not.toRaiseError()
  expect(app.get('/c', { config: { axioms: { scopes: 'read' } } }, async () => ({}))).type.toRaiseError()
  expect(app.get('/d', { config: { axioms: { scopes: { some: ['read'] } } } }, async () => ({}))).type.toRaiseError()
  expect(app.get('/e', { config: { axioms: { optional: 'yes' } } }, async () => ({}))).type.toRaiseError()
  // A misspelt key inside a route's options escapes excess-property checks (the runtime refuses it
  // at startup); a declaration typed on its own catches it.
  expect<RouteDeclaration>().type.not.toBeAssignableFrom({ scope: ['read'] })
  expect(() => { const d: RouteDeclaration = { scopes: ['read'], optinal: true }; return d }).type.toRaiseError()
  expect<RouteDeclaration>().type.toBeAssignableFrom({ scopes: ['a'] as const })
})

test('hook factories', () => {
  expect(app.hasValidAccessToken({ optional: true })).type.toBe<AxiomsHook>()
  expect(app.hasRequiredScopes(['openid', 'profile'])).type.toBe<AxiomsHook>()
  expect(app.hasRequiredRoles({ all: ['admin'] }, { safeMethods: ['OPTIONS'] })).type.toBe<AxiomsHook>()
  expect(app.hasRequiredPermissions()).type.toBe<AxiomsHook>()
  expect(app.hasRequiredScopes(123)).type.toRaiseError()
  expect(app.hasRequiredScopes('openid')).type.toRaiseError()
  expect(app.hasRequiredRoles({ any: 'admin' })).type.toRaiseError()
  expect(app.hasValidAccessToken({ optional: 'yes' })).type.toRaiseError()
  expect(app.checkObjectOwnership({ getObject: async (req: FastifyRequest) => ({ user: req.id }) })).type.toBe<AxiomsHook>()
  expect(app.checkObjectOwnership({})).type.toRaiseError()
  // Route params typed through the second type argument.
  expect(app.checkObjectOwnership<{ user: string }, { id: string }>({
    getObject: request => {
      expect(request.params.id).type.toBe<string>()
      return { user: request.params.id }
    }
  })).type.toBe<AxiomsHook>()
  expect(app.checkObjectOwnership<{ user: string }, { id: string }>({ getObject: request => ({ user: request.params.nope }) })).type.toRaiseError()
  const hook = app.hasValidAccessToken()
  expect(hook).type.toBeAssignableTo<(request: FastifyRequest, reply: FastifyReply) => Promise<unknown>>()
  expect(app.get('/h', { onRequest: [hook, app.hasRequiredScopes(['x'])], preHandler: app.hasRequiredRoles(['y']) }, async () => ({}))).type.not.toRaiseError()
})

test('app.axioms.claims gives a protected handler non-null claims', () => {
  app.get('/me', { config: { axioms: {} } }, async request => {
    const claims = app.axioms.claims(request)
    expect(claims).type.toBe<Readonly<AccessTokenClaims>>()
    expect(claims.tenant).type.toBe<string>()
    expect(claims.sub).type.toBe<string | undefined>()
    expect(() => { claims.sub = 'x' }).type.toRaiseError()
    // request.authJwt itself still needs the guard: it may be null or false.
    expect(() => request.authJwt.sub).type.toRaiseError()
    return { tenant: claims.tenant }
  })
  expect(app.axioms.claims()).type.toRaiseError()
  expect(app.axioms.claims('token')).type.toRaiseError()
})

test('axioms decorator, stats and errors', async () => {
  expect(await app.axioms.verify('token')).type.toBe<Readonly<AccessTokenClaims>>()
  expect(app.axioms.verify(42)).type.toRaiseError()
  expect(app.axioms.stats()).type.toBe<AxiomsStats>()
  expect(app.axioms.stats().refusedBy.expired).type.toBe<number | undefined>()
  expect(app.axioms.stats().issuers[0]?.keys).type.toBe<number | undefined>()
  expect(app.axioms.stats().internalErrors).type.toBe<number>()
  expect(app.axioms.stats().issuers[0]?.refusedKeys).type.toBe<number | undefined>()
  const err = new AxiomsError('expired')
  expect(err.statusCode).type.toBe<number>()
  expect(err.reason).type.toBe<Reason>()
  expect(new AxiomsError('no_such_reason')).type.toRaiseError()
  expect(err.code).type.toBe<string>()
  expect(isAxiomsError(err as unknown)).type.toBe<boolean>()
  const unknownErr: unknown = err
  if (isAxiomsError(unknownErr)) expect(unknownErr.reason).type.toBe<Reason>()
  expect(err.toProblem()).type.toBe<ProblemDetails>()
  expect(err.toProblem().status).type.toBe<number>()
  expect(getTokenScopes({ scope: 'a b' })).type.toBe<string[]>()
})

test('request state', () => {
  app.get('/s', async request => {
    expect(request.missingAuthHeader).type.toBe<boolean>()
    expect(request.invalidBearerToken).type.toBe<boolean>()
    expect(request.ownedObject).type.toBe<unknown>()
    return {}
  })
})

test('diagnostics messages', () => {
  expect<VerifyMessage['reason']>().type.toBe<Reason | undefined>()
  expect<JwksMessage['event']>().type.toBe<'fetch' | 'fetch_failed' | 'cooldown' | 'stale'>()
})

test('the test kit', async () => {
  const idp = await createTestIssuer({ algorithms: ['ES256'] })
  expect(idp).type.toBe<TestIssuer>()
  expect(idp.sign({ scope: 'read' }, { expiresIn: 60 })).type.toBe<string>()
  expect(createTestIssuer({ algorithms: ['HS256'] })).type.toRaiseError()
  expect(idp.setMode('down')).type.toBe<void>()
  expect(idp.setMode('sideways')).type.toRaiseError()
})

test('DPoP and mTLS options', () => {
  expect(app.register(axioms, { audience: 'api', issuer: 'https://a.example', dpop: false })).type.not.toRaiseError()
  expect(app.register(axioms, { audience: 'api', issuer: 'https://a.example', dpop: { mode: 'required', iatOffset: '5m', iatLeeway: 30, algorithms: ['ES256'], nonce: { secret: ['a'.repeat(32), Buffer.alloc(32)], lifetime: '5m' }, replayTimeout: '300ms' } })).type.not.toRaiseError()
  expect(app.register(axioms, { audience: 'api', issuer: 'https://a.example', dpop: { nonce: true, replayCacheSize: 1000 }, mtls: { certificateHeader: 'x-ssl-client-cert' } })).type.not.toRaiseError()
  expect(app.register(axioms, { audience: 'api', issuer: 'https://a.example', mtls: { certificate: (request: FastifyRequest) => request.headers['x-cert'] } })).type.not.toRaiseError()
  expect(app.register(axioms, { audience: 'api', dpop: { mode: 'sometimes' } })).type.toRaiseError()
  expect(app.register(axioms, { audience: 'api', dpop: { algorithms: ['HS256'] } })).type.toRaiseError()
  expect(app.register(axioms, { audience: 'api', dpop: { replayStore: { claim: 'yes' } } })).type.toRaiseError()
  expect(app.register(axioms, { audience: 'api', mtls: true })).type.toRaiseError()
  expect<DpopMode>().type.toBe<'allowed' | 'required' | 'disabled'>()
  expect<DpopOptions['mode']>().type.toBe<DpopMode | undefined>()
  expect<MtlsOptions>().type.toBeAssignableFrom({ certificateHeader: 'x-client-cert' })
  // A replay store is one method, sync or async.
  expect<DpopReplayStore>().type.toBeAssignableFrom({ claim: async (_key: string, _expiresAt: number) => true })
  expect<DpopReplayStore>().type.toBeAssignableFrom({ claim: () => false })
  expect<DpopReplayStore>().type.not.toBeAssignableFrom({ claim: async () => 'OK' })
})

test('DPoP on a route and in hooks', () => {
  expect(app.get('/p', { config: { axioms: { scopes: ['pay'], dpop: true } } }, async () => ({}))).type.not.toRaiseError()
  expect(app.get('/q', { config: { axioms: { dpop: 'yes' } } }, async () => ({}))).type.toRaiseError()
  expect(app.hasValidAccessToken({ dpop: true })).type.toBe<AxiomsHook>()
  expect(app.hasRequiredScopes(['pay'], { dpop: true })).type.toBe<AxiomsHook>()
  expect(app.hasRequiredRoles(undefined, { dpop: true })).type.toBe<AxiomsHook>()
  expect(app.hasValidAccessToken({ dpop: 1 })).type.toRaiseError()
})

test('the Redis replay store subpath', () => {
  const client: RedisSetClient = { set: async () => 'OK' }
  expect(new RedisReplayStore(client, { prefix: 'api:dpop:' })).type.toBeAssignableTo<DpopReplayStore>()
  expect(new RedisReplayStore({ get: async () => null })).type.toRaiseError()
  expect(app.register(axioms, { audience: 'api', issuer: 'https://a.example', dpop: { replayStore: new RedisReplayStore(client) } })).type.not.toRaiseError()
})

test('the test kit: DPoP keys, proofs and bound tokens', async () => {
  const idp = await createTestIssuer()
  const key = generateDpopKey('EdDSA')
  expect(key).type.toBe<DpopKey>()
  expect(key.jkt).type.toBe<string>()
  expect(signDpopBoundToken(idp, key, { scope: 'read' })).type.toBe<string>()
  expect(createDpopProof(key, { htu: 'http://localhost/x', accessToken: 't', nonce: 'n', claims: { ath: undefined } })).type.toBe<string>()
  expect(createDpopProof(key, { htm: 'GET' })).type.toRaiseError()
  expect(signCertificateBoundToken(idp, Buffer.alloc(1))).type.toBe<string>()
  expect(generateDpopKey('HS256')).type.toRaiseError()
})

test('introspection options, stats and messages', () => {
  expect(app.register(axioms, { audience: 'api', issuer: 'https://a.example', introspection: { clientId: 'api', clientSecret: 's' } })).type.not.toRaiseError()
  expect(app.register(axioms, { audience: 'api', issuer: 'https://a.example', introspection: { endpoint: 'https://a.example/introspect', clientId: 'api', privateKey: '-----BEGIN PRIVATE KEY-----', keyId: 'k1', clientAuth: 'private_key_jwt', tokens: 'all', cacheTtl: '10s', cacheSize: 100 } })).type.not.toRaiseError()
  expect(app.register(axioms, { audience: 'api', issuer: 'https://a.example', introspection: false })).type.not.toRaiseError()
  expect(app.register(axioms, { audience: 'api', introspection: { clientId: 'api', clientAuth: 'client_secret_jwt' } })).type.toRaiseError()
  expect(app.register(axioms, { audience: 'api', introspection: { clientId: 'api', tokens: 'some' } })).type.toRaiseError()
  expect(app.register(axioms, { audience: 'api', introspection: { clientId: 'api', cacheTtl: true } })).type.toRaiseError()
  expect<IntrospectionOptions['clientAuth']>().type.toBe<'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | undefined>()
  expect(app.axioms.stats().introspection).type.toBe<IntrospectionStats | undefined>()
  expect(app.axioms.stats().introspection?.active).type.toBe<number | undefined>()
  expect(INTROSPECTION_CHANNEL).type.toBe<'axioms-fastify:introspection'>()
  expect<IntrospectionMessage['event']>().type.toBe<'introspect' | 'introspect_failed'>()
})
