// What DPoP and certificate binding change around the request path: RFC 9728 metadata per mode,
// the OpenAPI schemes and security twins, refusals thrown to the app (errorResponse: 'throw') with
// their DPoP headers, problem details, tokenMiddleware, @fastify/auth compositions, and
// app.axioms.verify, which has no request to bind a token to.
import t, { type Test } from 'tap'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import fastifyAuth from '@fastify/auth'
import swagger, { type SwaggerOptions } from '@fastify/swagger'
import axioms, { AxiomsError, type AxiomsOptions, isAxiomsError } from '../../index.js'
import { createTestIssuer } from '../../testing.js'
import { ALL_ALGS, bearerChallenge, DPOP_BARE, dpopChallenge, passed, refused, rig, STORE_DOWN } from './http.js'

const idp = await createTestIssuer()
t.teardown(() => idp.close())

const WELL_KNOWN = '/.well-known/oauth-protected-resource'
// inject() sends Host: localhost:80, which the document's origin keeps as it is.
const META_URL = `http://localhost:80${WELL_KNOWN}`

async function metadata (t: Test, options: AxiomsOptions): Promise<Record<string, unknown>> {
  const s = await rig(t, { idp, options: { protectedResourceMetadata: true, ...options }, dpopRoute: false })
  const res = await s.app.inject({ url: WELL_KNOWN })
  t.equal(res.statusCode, 200)
  return res.json() as Record<string, unknown>
}

t.test('RFC 9728 metadata says what each mode accepts, and certificate binding when configured', async t => {
  const base = { resource: 'http://localhost:80', authorization_servers: [idp.issuer], bearer_methods_supported: ['header'], scopes_supported: ['items:read', 'items:write'] }
  const all = ALL_ALGS.split(' ')
  t.same(await metadata(t, {}), { ...base, dpop_signing_alg_values_supported: all, dpop_bound_access_tokens_required: false }, 'allowed (default)')
  t.same(await metadata(t, { dpop: { mode: 'required' } }), { ...base, dpop_signing_alg_values_supported: all, dpop_bound_access_tokens_required: true }, 'required')
  t.same(await metadata(t, { env: { AXIOMS_DPOP_MODE: 'required' } }), { ...base, dpop_signing_alg_values_supported: all, dpop_bound_access_tokens_required: true }, 'AXIOMS_DPOP_MODE=required')
  t.same(await metadata(t, { dpop: false }), base, 'disabled: nothing about DPoP')
  t.same(await metadata(t, { dpop: { algorithms: ['ES256', 'EdDSA'] } }), { ...base, dpop_signing_alg_values_supported: ['ES256', 'EdDSA'], dpop_bound_access_tokens_required: false }, 'the configured proof algorithms')
  const withCerts = { ...base, dpop_signing_alg_values_supported: all, dpop_bound_access_tokens_required: false, tls_client_certificate_bound_access_tokens: true }
  t.same(await metadata(t, { mtls: {} }), withCerts, 'mtls: {} (the TLS socket, on purpose)')
  t.same(await metadata(t, { mtls: { certificateHeader: 'x-client-cert' } }), withCerts, 'mtls.certificateHeader')
  t.same(await metadata(t, { env: { AXIOMS_MTLS_CERTIFICATE_HEADER: 'x-client-cert' } }), withCerts, 'AXIOMS_MTLS_CERTIFICATE_HEADER')
  t.same(await metadata(t, { mtls: { certificate: () => undefined } }), withCerts, 'mtls.certificate')
  t.same(await metadata(t, { mtls: false, dpop: false }), base, 'mtls: false: no certificate is ever found')
})

t.test('RFC 9728: challenges name the document on both schemes', async t => {
  const s = await rig(t, { idp, options: { protectedResourceMetadata: true } })
  const meta = `, resource_metadata="${META_URL}"`
  refused(t, await s.call({ url: '/items' }), { status: 401, error: 'invalid_token', description: 'Missing Authorization Header', challenge: `Bearer realm="${s.realm}"${meta}, ${DPOP_BARE}${meta}` }, 'no credentials')
  refused(t, await s.dpop(s.bound(), '/items', { proof: null }), { status: 401, error: 'invalid_dpop_proof', description: 'Missing DPoP proof', challenge: `${dpopChallenge('invalid_dpop_proof', 'Missing DPoP proof')}${meta}` }, 'a DPoP refusal')
  refused(t, await s.bearer(s.plain(), '/dpop-only'), { status: 401, error: 'invalid_token', description: 'Invalid Authorization DPoP', challenge: `${DPOP_BARE}${meta}` }, 'Bearer on a DPoP-only route')
})

type Doc = {
  swagger?: string
  components?: { securitySchemes?: Record<string, unknown> }
  securityDefinitions?: Record<string, unknown>
  paths: Record<string, Record<string, Record<string, unknown>>>
}

const BEARER_SCHEME = { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'OAuth 2.0 / OIDC access token (JWT), verified by axioms-fastify' }
const dpopScheme = (algs: string): Record<string, unknown> => ({
  type: 'http',
  scheme: 'DPoP',
  bearerFormat: 'JWT',
  description: `DPoP-bound access token (RFC 9449): \`Authorization: DPoP <token>\` and a \`DPoP\` proof header signed with ${algs}.`
})

async function openapiDoc (t: Test, options: AxiomsOptions, routes: (app: FastifyInstance) => void, sw: SwaggerOptions = { openapi: { openapi: '3.1.0', info: { title: 'API', version: '1.0.0' } } }): Promise<Doc> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(swagger, sw)
  await app.register(axioms, idp.pluginOptions({ jwksPrefetch: false, ...options }))
  routes(app)
  await app.ready()
  return app.swagger() as unknown as Doc
}

const ok = async (): Promise<{ ok: true }> => ({ ok: true })
function documented (app: FastifyInstance, dpopRoutes = true): void {
  app.get('/items', { config: { axioms: { scopes: ['items:read'] } } }, ok)
  app.get('/optional', { config: { axioms: { optional: true } } }, ok)
  if (!dpopRoutes) return
  app.get('/pay', { config: { axioms: { scopes: { all: ['pay', 'items:read'] }, dpop: true } } }, ok)
  app.get('/hooked', { onRequest: app.hasValidAccessToken({ dpop: true }) }, ok)
  app.get('/either', { config: { axioms: { scopes: ['a', 'b'] } }, preHandler: app.hasRequiredRoles(['r'], { dpop: true }) }, ok)
}

t.test('OpenAPI: the DPoP scheme next to Bearer, and each operation\'s security per mode and route', async t => {
  const allowed = await openapiDoc(t, {}, documented)
  t.same(allowed.components?.securitySchemes, { axioms: BEARER_SCHEME, axiomsDpop: dpopScheme(ALL_ALGS.split(' ').join(', ')) }, 'allowed: both schemes')
  t.same(allowed.paths['/items']?.get?.security, [{ axioms: ['items:read'] }, { axiomsDpop: ['items:read'] }], 'allowed: each Bearer alternative has its DPoP twin')
  t.same(allowed.paths['/optional']?.get?.security, [{}, { axioms: [] }, { axiomsDpop: [] }], 'an optional route stays optional')
  t.same(allowed.paths['/pay']?.get?.security, [{ axiomsDpop: ['pay', 'items:read'] }], 'config.axioms.dpop: DPoP only')
  t.same(allowed.paths['/pay']?.get?.['x-axioms'], { optional: false, dpop: true, scopes: [{ all: ['pay', 'items:read'] }] })
  t.same(allowed.paths['/hooked']?.get?.security, [{ axiomsDpop: [] }], 'a hook with { dpop: true }: DPoP only')
  t.same(allowed.paths['/either']?.get?.security, [{ axiomsDpop: ['a'] }, { axiomsDpop: ['b'] }], 'one hook of the route requiring DPoP is enough')

  const required = await openapiDoc(t, { dpop: { mode: 'required', algorithms: ['ES256'] } }, documented)
  t.same(required.components?.securitySchemes, { axioms: BEARER_SCHEME, axiomsDpop: dpopScheme('ES256') }, 'required: the DPoP scheme with its algorithms')
  t.same(required.paths['/items']?.get?.security, [{ axiomsDpop: ['items:read'] }], 'required: DPoP replaces Bearer')
  t.same(required.paths['/optional']?.get?.security, [{}, { axiomsDpop: [] }])

  const disabled = await openapiDoc(t, { dpop: false }, app => documented(app, false))
  t.same(disabled.components?.securitySchemes, { axioms: BEARER_SCHEME }, 'disabled: Bearer only')
  t.same(disabled.paths['/items']?.get?.security, [{ axioms: ['items:read'] }])

  const named = await openapiDoc(t, { openapi: { securitySchemeName: 'oauth' } }, documented)
  t.same(Object.keys(named.components?.securitySchemes ?? {}), ['oauth', 'oauthDpop'], 'the twin follows securitySchemeName')
  t.same(named.paths['/items']?.get?.security, [{ oauth: ['items:read'] }, { oauthDpop: ['items:read'] }])

  // Swagger 2.0 has neither scheme type: both are described as the Authorization header, and both defined.
  const v2 = await openapiDoc(t, {}, documented, { swagger: { info: { title: 'API', version: '1.0.0' } } } as SwaggerOptions)
  t.same(v2.securityDefinitions, {
    axioms: { type: 'apiKey', name: 'Authorization', in: 'header', description: 'Bearer <access token>' },
    axiomsDpop: { type: 'apiKey', name: 'Authorization', in: 'header', description: 'DPoP <access token>, with a DPoP proof in the DPoP header (RFC 9449)' }
  }, 'Swagger 2.0: every scheme an operation names is defined')
  t.same(v2.paths['/items']?.get?.security, [{ axioms: ['items:read'] }, { axiomsDpop: ['items:read'] }])
  const v2off = await openapiDoc(t, { dpop: false }, app => documented(app, false), { swagger: { info: { title: 'API', version: '1.0.0' } } } as SwaggerOptions)
  t.same(Object.keys(v2off.securityDefinitions ?? {}), ['axioms'], 'Swagger 2.0, DPoP disabled: Bearer only')
})

t.test('errorResponse: \'throw\': the AxiomsError carries the DPoP challenge and DPoP-Nonce', async t => {
  const thrown: AxiomsError[] = []
  const s = await rig(t, {
    idp,
    options: { errorResponse: 'throw', dpop: { nonce: { secret: 'x'.repeat(32) } } },
    routes: app => {
      app.setErrorHandler((err: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
        if (!isAxiomsError(err)) return reply.send(err)
        thrown.push(err)
        return reply.code(err.statusCode).headers(err.headers).send({ mine: true, reason: err.reason })
      })
    }
  })
  const first = await s.dpop(s.bound())
  t.equal(first.status, 401)
  t.same(first.body, { mine: true, reason: 'dpop_nonce_required' }, 'the app\'s own body')
  const err = thrown[0] as AxiomsError
  t.ok(err instanceof AxiomsError)
  t.equal(err.code, 'AXIOMS_DPOP_NONCE_REQUIRED')
  t.equal(err.error, 'use_dpop_nonce')
  t.match(err.nonce, /^[A-Za-z0-9_-]{32}$/)
  t.same(err.headers, { 'www-authenticate': dpopChallenge('use_dpop_nonce', 'Resource server requires nonce in DPoP proof'), 'dpop-nonce': err.nonce }, 'the challenge and the nonce, ready to send')
  t.equal(first.headers['dpop-nonce'], err.nonce)
  t.equal(first.handled, 0)
  passed(t, await s.dpop(s.bound(), '/items', { nonce: err.nonce as string }), 'the retry with the nonce')
  const bearer = await s.bearer(s.plain(), '/dpop-only')
  t.same(bearer.body, { mine: true, reason: 'dpop_scheme_required' })
  t.same(thrown[1]?.headers, { 'www-authenticate': DPOP_BARE, 'dpop-nonce': err.nonce }, 'a Bearer request on a DPoP route: the DPoP challenge alone')
})

t.test('errorResponse: \'throw\' with Fastify\'s default error handler: status and DPoP headers kept', async t => {
  const s = await rig(t, { idp, options: { errorResponse: 'throw', dpop: { replayStore: { claim: () => { throw new Error('down') } } } } })
  const out = await s.dpop(s.bound(), '/items', { proof: null })
  t.equal(out.status, 401)
  t.equal(out.headers['www-authenticate'], dpopChallenge('invalid_dpop_proof', 'Missing DPoP proof'))
  t.match(out.body, { statusCode: 401, code: 'AXIOMS_DPOP_MISSING', message: 'Missing DPoP proof' })
  const down = await s.dpop(s.bound())
  t.equal(down.status, 503)
  t.equal(down.headers['retry-after'], '5')
  t.equal(down.headers['www-authenticate'], undefined)
  t.match(down.body, { statusCode: 503, code: 'AXIOMS_DPOP_STORE_UNAVAILABLE' })
  t.equal(s.calls, 0)
})

t.test('problemDetails: DPoP refusals as application/problem+json, headers unchanged', async t => {
  const s = await rig(t, { idp, options: { problemDetails: true, dpop: { nonce: { secret: 'y'.repeat(32) } } } })
  const problem = (status: number, title: string, detail: string, error: string): Record<string, unknown> => ({ type: 'about:blank', title, status, detail, error })
  const first = await s.dpop(s.bound())
  const nonce = first.headers['dpop-nonce'] as string
  t.equal(first.status, 401)
  t.match(first.headers['content-type'], /^application\/problem\+json/)
  t.same(first.body, problem(401, 'Unauthorized', 'Resource server requires nonce in DPoP proof', 'use_dpop_nonce'))
  t.equal(first.headers['www-authenticate'], dpopChallenge('use_dpop_nonce', 'Resource server requires nonce in DPoP proof'))
  const bad = await s.dpop(s.bound(), '/items', { nonce, claims: { htm: 'PUT' } })
  t.same(bad.body, problem(401, 'Unauthorized', 'DPoP proof method mismatch', 'invalid_dpop_proof'))
  t.equal(bad.headers['www-authenticate'], dpopChallenge('invalid_dpop_proof', 'DPoP proof method mismatch'))
  t.equal(bad.headers['dpop-nonce'], nonce)
  const scheme = await s.bearer(s.plain(), '/dpop-only')
  t.same(scheme.body, problem(401, 'Unauthorized', 'Invalid Authorization DPoP', 'invalid_token'))
  t.equal(scheme.headers['www-authenticate'], DPOP_BARE)
  const store = await rig(t, { idp, options: { problemDetails: true, dpop: { replayStore: { claim: async () => { throw new Error('down') } } } } })
  const down = await store.dpop(store.bound())
  t.same(down.body, problem(503, 'Service Unavailable', STORE_DOWN.description, 'temporarily_unavailable'))
  t.equal(down.headers['retry-after'], '5')
  t.equal(s.calls + store.calls, 0)
})

t.test('tokenMiddleware: DPoP requests verified once, never rejected; the route\'s hooks reuse the result', async t => {
  const s = await rig(t, {
    idp,
    options: { tokenMiddleware: true },
    routes: (app, spy) => {
      app.get('/open', async request => {
        spy(request)
        return { claims: request.authJwt === null || request.authJwt === false ? request.authJwt : 'claims', missing: request.missingAuthHeader, invalid: request.invalidBearerToken }
      })
    }
  })
  const token = s.bound()
  const open = await s.dpop(token, '/open')
  t.same(open.body, { claims: 'claims', missing: false, invalid: false }, 'a valid DPoP request')
  t.same((await s.dpop(token, '/open', { proof: null })).body, { claims: false, missing: false, invalid: false }, 'no proof: invalid, not rejected')
  t.same((await s.bearer(token, '/open')).body, { claims: false, missing: false, invalid: false }, 'a bound token as Bearer: invalid')
  t.same((await s.call({ url: '/open' })).body, { claims: null, missing: true, invalid: false }, 'no token')
  t.same((await s.call({ url: '/open', headers: { authorization: 'DPoP' } })).body, { claims: false, missing: false, invalid: true }, 'DPoP without a token')
  // The middleware and the route's own check share one verification: the proof is claimed once.
  passed(t, await s.dpop(token, '/items'), 'a protected route after the middleware')
  refused(t, await s.dpop(token, '/items', { proof: null }), { status: 401, error: 'invalid_dpop_proof', description: 'Missing DPoP proof', challenge: dpopChallenge('invalid_dpop_proof', 'Missing DPoP proof') }, 'and its refusal')
})

t.test('@fastify/auth: a DPoP-only strategy composed with an API key', async t => {
  const apiKey = async (request: FastifyRequest): Promise<void> => {
    if (request.headers['x-api-key'] !== 'good-key') throw Object.assign(new Error('bad api key'), { statusCode: 401 })
  }
  const s = await rig(t, {
    idp,
    before: async app => await app.register(fastifyAuth),
    routes: (app, spy) => {
      app.get('/or', { onRequest: app.auth([app.hasValidAccessToken({ dpop: true }), apiKey]) }, async request => { spy(request); return { ok: true } })
      app.get('/key-first', { onRequest: app.auth([apiKey, app.hasRequiredScopes(['items:read'], { dpop: true })]) }, async request => { spy(request); return { ok: true } })
    }
  })
  passed(t, await s.dpop(s.bound(), '/or'), 'DPoP passes the first strategy')
  const keyed = await s.call({ url: '/or', headers: { authorization: `Bearer ${s.plain()}`, 'x-api-key': 'good-key' } })
  passed(t, keyed, 'Bearer refused by the DPoP strategy, the API key passes')
  t.equal(keyed.headers['www-authenticate'], undefined, 'nothing of the refusal is left')
  const neither = await s.call({ url: '/or', headers: { authorization: `Bearer ${s.plain()}`, 'x-api-key': 'wrong' } })
  t.equal(neither.status, 401, 'both fail: @fastify/auth reports the last, the API key\'s')
  t.equal(neither.handled, 0)
  refused(t, await s.call({ url: '/key-first', headers: { authorization: `Bearer ${s.plain()}`, 'x-api-key': 'wrong' } }), { status: 401, error: 'invalid_token', description: 'Invalid Authorization DPoP', challenge: DPOP_BARE }, 'the DPoP strategy\'s refusal is the one reported')
  refused(t, await s.call({ url: '/key-first', headers: { authorization: `DPoP ${s.bound()}`, 'x-api-key': 'wrong' } }), { status: 401, error: 'invalid_dpop_proof', description: 'Missing DPoP proof', challenge: dpopChallenge('invalid_dpop_proof', 'Missing DPoP proof') }, 'a proof fault reported the same way')
  passed(t, await s.dpop(s.bound(), '/key-first', { headers: { 'x-api-key': 'wrong' } }), 'DPoP passes after a failed API key')
})

t.test('app.axioms.verify has no request to bind to: sender-constrained tokens are refused, cached or not', async t => {
  const s = await rig(t, { idp, options: { tokenCache: 10 } })
  const refusedAs = async (token: string): Promise<string | undefined> => {
    try {
      await s.app.axioms.verify(token)
    } catch (err) {
      return isAxiomsError(err) ? `${err.reason} ${err.error_description}` : 'not an AxiomsError'
    }
    return undefined
  }
  const bound = s.bound()
  t.equal(await refusedAs(bound), 'sender_constrained Invalid access token', 'a DPoP-bound token')
  t.equal(await refusedAs(s.plain({ cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dgA' } })), 'sender_constrained Invalid access token', 'a certificate-bound token')
  passed(t, await s.dpop(bound), 'the same token over DPoP')
  t.equal(s.app.axioms.stats().tokenCacheSize, 1, 'cached by the request that checked its binding')
  t.equal(await refusedAs(bound), 'sender_constrained Invalid access token', 'still refused once cached')
  const plain = s.plain()
  passed(t, await s.bearer(plain), 'a plain token')
  t.equal(await refusedAs(plain), undefined, 'a plain token from the cache is fine')
  // The cached bound token keeps its binding on the request path too.
  refused(t, await s.bearer(bound), { status: 401, error: 'invalid_token', description: 'DPoP-bound access token requires the DPoP scheme', challenge: bearerChallenge(s.realm, 'invalid_token', 'DPoP-bound access token requires the DPoP scheme') }, 'the cached bound token as Bearer')
})
