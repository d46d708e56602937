import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import swagger, { type SwaggerOptions } from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import axioms, { type AxiomsOptions } from '../index.js'
import { completeDocument, describeRules } from '../lib/openapi.js'
import { createTestIssuer, type TestIssuer } from '../testing.js'

type Doc = {
  openapi?: string
  swagger?: string
  components?: { securitySchemes?: Record<string, unknown> }
  securityDefinitions?: Record<string, unknown>
  paths: Record<string, Record<string, Record<string, unknown>>>
}

const OTHER = { type: 'apiKey', in: 'header', name: 'x-api-key' }
const BEARER = { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'OAuth 2.0 / OIDC access token (JWT), verified by axioms-fastify' }

async function issuer (t: Test): Promise<TestIssuer> {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  return idp
}

function routes (app: FastifyInstance): void {
  const ok = async (): Promise<{ ok: true }> => ({ ok: true })
  app.get('/public', ok)
  app.get('/private', { preHandler: [app.hasValidAccessToken(), app.hasRequiredScopes(['openid', 'profile'])] }, ok)
  app.get('/strict', { config: { axioms: { scopes: { all: ['read:data', 'openid'] }, roles: ['editor'] } } }, ok)
  app.post('/items/:id', {
    schema: { description: 'Updates an item.', params: { type: 'object', properties: { id: { type: 'string' } } } },
    config: { axioms: { permissions: { all: ['write:items', 'audit:items'] } } }
  }, ok)
  app.get('/optional', { config: { axioms: { optional: true } } }, ok)
  app.get('/token-only', { onRequest: app.hasValidAccessToken() }, ok)
  app.get('/mixed', {
    onRequest: [app.hasRequiredScopes({ any: ['a', 'b'] }), app.hasRequiredScopes({ all: ['c'] })],
    preHandler: app.hasRequiredRoles(['admin'])
  }, ok)
  app.get('/mine', { onRequest: app.checkObjectOwnership({ getObject: () => ({ user: 'x' }) }) }, ok)
  app.get('/explicit', { schema: { security: [{ other: [] }] }, config: { axioms: { scopes: ['x'] } } }, ok)
  app.get('/skip-get', { config: { axioms: { scopes: ['x'], safeMethods: ['GET', 'HEAD'] } } }, ok)
  app.route({ method: ['GET', 'POST'], url: '/multi', config: { axioms: { scopes: ['m'] } }, handler: ok })
}

async function build (t: Test, order: 'swagger-first' | 'axioms-first', options: Partial<AxiomsOptions> = {}, swaggerOpts: Record<string, unknown> = {}): Promise<{ app: FastifyInstance, idp: TestIssuer }> {
  const idp = await issuer(t)
  const app = Fastify()
  t.teardown(() => app.close())
  const sw = { openapi: { openapi: '3.1.0', info: { title: 'API', version: '1.0.0' }, components: { securitySchemes: { other: OTHER } }, ...swaggerOpts } }
  if (order === 'swagger-first') await app.register(swagger, sw as SwaggerOptions)
  await app.register(axioms, { audience: 'your-api-audience', issuer: idp.issuer, env: {}, jwksPrefetch: false, dpop: false, ...options }) // Bearer only here; DPoP: test/dpop/documents.test.ts
  if (order === 'axioms-first') await app.register(swagger, sw as SwaggerOptions)
  routes(app)
  await app.ready()
  return { app, idp }
}

for (const order of ['swagger-first', 'axioms-first'] as const) {
  t.test(`security requirements in the generated document (${order})`, async t => {
    const { app } = await build(t, order)
    const doc = app.swagger() as unknown as Doc
    t.same(doc.components?.securitySchemes, { other: OTHER, axioms: BEARER }, 'one bearer JWT scheme, registered once, next to the user\'s')
    t.equal(doc.paths['/public']?.get?.security, undefined, 'unprotected route untouched')
    t.equal(doc.paths['/public']?.get?.['x-axioms'], undefined)
    // any-of scopes: OpenAPI alternatives, each listing what it requires
    t.same(doc.paths['/private']?.get?.security, [{ axioms: ['openid'] }, { axioms: ['profile'] }])
    t.same(doc.paths['/private']?.get?.['x-axioms'], { optional: false, scopes: [{ any: ['openid', 'profile'] }] })
    // all-of scopes: one requirement; roles described
    const strict = doc.paths['/strict']?.get as Record<string, unknown>
    t.same(strict.security, [{ axioms: ['read:data', 'openid'] }])
    t.same(strict['x-axioms'], { optional: false, scopes: [{ all: ['read:data', 'openid'] }], roles: [{ any: ['editor'] }] })
    t.equal(strict.description, 'Requires roles `editor` (axioms).')
    // permissions described after the route's own description; path params converted
    const item = doc.paths['/items/{id}']?.post as Record<string, unknown>
    t.same(item.security, [{ axioms: [] }])
    t.equal(item.description, 'Updates an item.\n\nRequires permissions all of `write:items`, `audit:items` (axioms).')
    t.same(doc.paths['/optional']?.get?.security, [{}, { axioms: [] }], 'optional: anonymous or a token')
    t.same(doc.paths['/token-only']?.get?.security, [{ axioms: [] }])
    // (a OR b) AND c, AND a role
    const mixed = doc.paths['/mixed']?.get as Record<string, unknown>
    t.same(mixed.security, [{ axioms: ['a', 'c'] }, { axioms: ['b', 'c'] }])
    t.equal(mixed.description, 'Requires roles `admin` (axioms).')
    t.same(doc.paths['/mine']?.get?.security, [{ axioms: [] }], 'ownership needs a token')
    t.same(doc.paths['/explicit']?.get?.security, [{ other: [] }], 'an explicit security wins')
    t.equal(doc.paths['/skip-get']?.get?.security, undefined, 'a route whose methods all skip axioms is not protected')
    t.same(doc.paths['/multi']?.get?.security, [{ axioms: ['m'] }], 'several methods')
    t.same(doc.paths['/multi']?.post?.security, [{ axioms: ['m'] }])
    t.equal(app.swagger(), doc as unknown, 'cached document, completed once')
    t.same((app.swagger() as unknown as Doc).paths['/mixed']?.get?.security, mixed.security, 'idempotent')
    const yaml = app.swagger({ yaml: true })
    t.type(yaml, 'string')
    t.same(JSON.parse(yaml).paths['/private'].get.security, [{ axioms: ['openid'] }, { axioms: ['profile'] }], 'YAML (JSON text is YAML) is completed too')
  })
}

t.test('hook factories still enforce what the document says', async t => {
  const { app, idp } = await build(t, 'swagger-first')
  const both = await app.inject({ url: '/mixed', headers: { authorization: `Bearer ${idp.sign({ scope: 'b c', roles: ['admin'] })}` } })
  t.equal(both.statusCode, 200)
  const noC = await app.inject({ url: '/mixed', headers: { authorization: `Bearer ${idp.sign({ scope: 'a b', roles: ['admin'] })}` } })
  t.equal(noC.statusCode, 403)
  t.equal(noC.json().error, 'insufficient_scope')
})

t.test('securitySchemeName and a scheme the user defined (oauth2)', async t => {
  const oauth2 = { type: 'oauth2', flows: { clientCredentials: { tokenUrl: 'https://idp.example/token', scopes: { openid: 'OpenID' } } } }
  const { app } = await build(t, 'axioms-first', { openapi: { securitySchemeName: 'idp' } }, { components: { securitySchemes: { idp: oauth2, other: OTHER } } })
  const doc = app.swagger() as unknown as Doc
  t.same(doc.components?.securitySchemes, { idp: oauth2, other: OTHER }, 'the user\'s scheme is kept')
  t.same(doc.paths['/private']?.get?.security, [{ idp: ['openid'] }, { idp: ['profile'] }])
})

t.test('openapi: false leaves the document alone', async t => {
  const { app } = await build(t, 'swagger-first', { openapi: false })
  const doc = app.swagger() as unknown as Doc
  t.same(doc.components?.securitySchemes, { other: OTHER })
  t.equal(doc.paths['/private']?.get?.security, undefined)
  t.equal(doc.paths['/private']?.get?.['x-axioms'], undefined)
  t.equal(doc.paths['/strict']?.get?.description, undefined)
})

t.test('swagger 2.0 mode: an Authorization header apiKey definition', async t => {
  const idp = await issuer(t)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(swagger, { swagger: { info: { title: 'API', version: '1.0.0' } } })
  await app.register(axioms, { audience: 'your-api-audience', issuer: idp.issuer, env: {}, jwksPrefetch: false, dpop: false })
  app.get('/private', { config: { axioms: { scopes: { all: ['openid'] } } } }, async () => ({ ok: true }))
  await app.ready()
  const doc = app.swagger() as unknown as Doc
  t.equal(doc.swagger, '2.0')
  t.same(doc.securityDefinitions, { axioms: { type: 'apiKey', name: 'Authorization', in: 'header', description: 'Bearer <access token>' } })
  t.same(doc.paths['/private']?.get?.security, [{ axioms: ['openid'] }])
})

t.test('without @fastify/swagger: routes work, schemas only carry the extension', async t => {
  const idp = await issuer(t)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, { audience: 'your-api-audience', issuer: idp.issuer, env: {}, dpop: false })
  let seen: unknown
  app.addHook('onRoute', r => { if (r.url === '/p') seen = r.schema })
  app.get('/p', { config: { axioms: { scopes: ['openid'] } } }, async () => ({ ok: true }))
  await app.ready()
  t.equal((app as unknown as { swagger?: unknown }).swagger, undefined)
  t.same(Object.keys(seen as object), ['x-axioms'])
  t.same((seen as Record<string, unknown>)['x-axioms'], { optional: false, scopes: [{ any: ['openid'] }] })
  const res = await app.inject({ url: '/p', headers: { authorization: `Bearer ${idp.sign({ scope: 'openid' })}` } })
  t.equal(res.statusCode, 200)
})

t.test('Swagger UI serves the completed document', async t => {
  const idp = await issuer(t)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(swagger, { openapi: { info: { title: 'API', version: '1.0.0' } } })
  await app.register(swaggerUi, { routePrefix: '/docs' })
  await app.register(axioms, { audience: 'your-api-audience', issuer: idp.issuer, env: {}, jwksPrefetch: false, dpop: false })
  app.get('/private', { config: { axioms: { scopes: ['openid'] } } }, async () => ({ ok: true }))
  const json = await app.inject({ url: '/docs/json' })
  t.equal(json.statusCode, 200)
  t.same(json.json().paths['/private'].get.security, [{ axioms: ['openid'] }])
  t.same(json.json().components.securitySchemes.axioms, BEARER)
  const yaml = await app.inject({ url: '/docs/yaml' })
  t.equal(yaml.statusCode, 200)
  t.match(yaml.body, /axioms/)
})

t.test('pure helpers', async t => {
  t.equal(describeRules([], ['GET'], new Set(['OPTIONS'])), undefined)
  const doc = { openapi: '3.0.3', paths: { '/x': { get: { responses: {} } } } }
  t.equal(completeDocument(doc, 'axioms'), doc, 'nothing protected: untouched')
  t.same(doc, { openapi: '3.0.3', paths: { '/x': { get: { responses: {} } } } })
  t.same(completeDocument({ swagger: '2.0' }, 'axioms'), { swagger: '2.0' }, 'no paths')
  const any = { openapi: '3.0.3', paths: { '/y': { get: { 'x-axioms': { optional: false, scopes: [{ any: ['a', 'a'] }, { all: ['a'] }], permissions: [{ any: ['p', 'q'] }] } } } } }
  completeDocument(any, 'axioms')
  t.same(any.paths['/y'].get, {
    'x-axioms': { optional: false, scopes: [{ any: ['a', 'a'] }, { all: ['a'] }], permissions: [{ any: ['p', 'q'] }] },
    security: [{ axioms: ['a'] }],
    description: 'Requires permissions one of `p`, `q` (axioms).'
  }, 'duplicate alternatives merged; one-of wording')
})
