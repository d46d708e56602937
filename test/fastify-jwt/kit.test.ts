// verifier 'fastify-jwt' changes nothing an app sees of the plugin but the verification: the
// OpenAPI document is the built-in mode's, and a user's test written with the test kit (as in the
// README) passes against an app on @fastify/jwt + get-jwks.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import swagger, { type SwaggerOptions } from '@fastify/swagger'
import buildGetJwks from 'get-jwks'
import axioms, { type AxiomsOptions } from '../../index.js'
import { createTestIssuer, type TestIssuer } from '../../testing.js'
import { registerFastifyJwt } from './fixture.js'

function routes (app: FastifyInstance): void {
  const ok = async (): Promise<{ ok: true }> => ({ ok: true })
  app.get('/public', ok)
  app.get('/private', { preHandler: [app.hasValidAccessToken(), app.hasRequiredScopes(['openid', 'profile'])] }, ok)
  app.get('/strict', { config: { axioms: { scopes: { all: ['read:data', 'openid'] }, roles: ['editor'] } } }, ok)
  app.post('/items/:id', { schema: { description: 'Updates an item.' }, config: { axioms: { permissions: { all: ['write:items'] } } } }, ok)
  app.get('/optional', { config: { axioms: { optional: true } } }, ok)
  app.get('/mine', { onRequest: app.checkObjectOwnership({ getObject: () => ({ user: 'x' }) }) }, ok)
}

async function documented (t: Test, idp: TestIssuer, extra: Partial<AxiomsOptions>): Promise<unknown> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(swagger, { openapi: { openapi: '3.1.0', info: { title: 'API', version: '1.0.0' } } } as SwaggerOptions)
  if (extra.verifier === 'fastify-jwt') await registerFastifyJwt(app, buildGetJwks({ issuersWhitelist: [idp.issuer] }))
  await app.register(axioms, { audience: 'your-api-audience', issuer: idp.issuer, env: {}, jwksPrefetch: false, ...extra })
  routes(app)
  await app.ready()
  return app.swagger()
}

t.test('the OpenAPI document is the same in both modes (DPoP, which @fastify/jwt cannot carry, off)', async t => {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const builtin = await documented(t, idp, { dpop: false }) as { paths: Record<string, Record<string, { security?: unknown }>> }
  const mode = await documented(t, idp, { verifier: 'fastify-jwt' })
  t.same(mode, builtin)
  t.same(builtin.paths['/strict']?.get?.security, [{ axioms: ['read:data', 'openid'] }], 'and it is annotated')
  t.same(builtin.paths['/optional']?.get?.security, [{}, { axioms: [] }])
})

// The README's test kit example, with the app on @fastify/jwt + get-jwks.
async function buildApp (auth: { issuer: string, audience: string }): Promise<FastifyInstance> {
  const app = Fastify()
  await registerFastifyJwt(app, buildGetJwks({ issuersWhitelist: [auth.issuer] }))
  await app.register(axioms, { ...auth, verifier: 'fastify-jwt', env: {} })
  app.get('/orders', { config: { axioms: { scopes: ['orders:read'] } } }, async request =>
    ({ orders: [], customer: request.authJwt ? request.authJwt.sub : null }))
  app.delete('/orders/:id', { config: { axioms: { scopes: { all: ['orders:write'] }, roles: ['admin'] } } }, async () => ({ deleted: true }))
  return app
}

t.test('orders API on @fastify/jwt + get-jwks, tested with the test kit', async t => {
  const idp = await createTestIssuer({ audience: 'orders-api' })
  t.teardown(() => idp.close())
  const app = await buildApp({ issuer: idp.issuer, audience: 'orders-api' })
  t.teardown(() => app.close())
  const call = async (method: 'GET' | 'DELETE', url: string, token?: string): Promise<{ statusCode: number, json: () => unknown, headers: Record<string, unknown> }> =>
    await app.inject({ method, url, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })

  t.test('a token with the right scope reads orders', async t => {
    const res = await call('GET', '/orders', idp.sign({ sub: 'customer-42', scope: 'orders:read' }))
    t.equal(res.statusCode, 200)
    t.same(res.json(), { orders: [], customer: 'customer-42' })
  })

  t.test('deleting needs orders:write and the admin role', async t => {
    const res = await call('DELETE', '/orders/7', idp.sign({ sub: 'customer-42', scope: 'orders:read' }))
    t.equal(res.statusCode, 403)
    t.match(res.headers['www-authenticate'], /scope="orders:write"/)
    t.equal((await call('DELETE', '/orders/7', idp.sign({ sub: 'ops-1', scope: 'orders:write', roles: ['admin'] }))).statusCode, 200)
  })

  t.test('key rotation', async t => {
    idp.rotate({ keepOld: true })
    t.equal((await call('GET', '/orders', idp.sign({ scope: 'orders:read' }))).statusCode, 200, 'new kid: get-jwks fetches it')
    t.equal((await call('GET', '/orders', idp.sign({ scope: 'orders:read' }, { kid: 'retired' }))).statusCode, 401, 'an unknown kid')
  })

  t.test('an identity provider outage', async t => {
    idp.setMode('down')
    t.teardown(() => idp.setMode('ok'))
    const token = idp.sign({ scope: 'orders:read' })
    t.equal((await call('GET', '/orders', token)).statusCode, 200, 'a cached key keeps working')
    const cold = await buildApp({ issuer: idp.issuer, audience: 'orders-api' })
    t.teardown(() => cold.close())
    const res = await cold.inject({ url: '/orders', headers: { authorization: `Bearer ${token}` } })
    t.equal(res.statusCode, 503)
    t.same(res.json(), { error: 'temporarily_unavailable', error_description: 'Unable to verify the access token right now' })
  })
})
