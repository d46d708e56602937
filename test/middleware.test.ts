// tokenMiddleware: true — every request is verified in onRequest without rejecting (the family's
// setup_token_middleware); hooks after it reuse the result.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import axioms, { type AxiomsOptions } from '../index.js'
import { appWithIssuer } from './fixture.js'
import { createTestIssuer, type TestIssuer } from '../testing.js'

interface Ctx { app: FastifyInstance, idp: TestIssuer }

async function setup (t: Test, options: AxiomsOptions = {}): Promise<Ctx> {
  const { app, idp } = await appWithIssuer(t, { tokenMiddleware: true, ...options })
  const state = async (request: { authJwt: unknown, missingAuthHeader: boolean, invalidBearerToken: boolean }): Promise<unknown> =>
    ({ authJwt: request.authJwt, missingAuthHeader: request.missingAuthHeader, invalidBearerToken: request.invalidBearerToken })
  app.get('/open', state)
  app.get('/guarded', { preHandler: app.hasValidAccessToken() }, state)
  app.get('/scoped', { preHandler: app.hasRequiredScopes(['a']) }, state)
  app.get('/declared', { config: { axioms: { scopes: ['a'] } } }, state)
  return { app, idp }
}

t.test('never rejects; sets authJwt, missingAuthHeader, invalidBearerToken', async t => {
  const ctx = await setup(t)
  const none = await ctx.app.inject({ url: '/open' })
  t.equal(none.statusCode, 200)
  t.same(none.json(), { authJwt: null, missingAuthHeader: true, invalidBearerToken: false })
  const cases: Array<[string, boolean]> = [
    ['Basic dXNlcjpwYXNz', true],
    ['Bearer', true],
    ['Bearer    ', true],
    ['Bearer a b', true],
    ['Bearer abc', false],
    [`Bearer ${ctx.idp.sign({ exp: 1 })}`, false],
    [`Bearer ${ctx.idp.sign({ aud: 'other' })}`, false],
    [`Bearer ${'x'.repeat(9000)}`, false]
  ]
  for (const [authorization, invalidBearer] of cases) {
    const res = await ctx.app.inject({ url: '/open', headers: { authorization } })
    t.equal(res.statusCode, 200, authorization.slice(0, 12))
    t.same(res.json(), { authJwt: false, missingAuthHeader: false, invalidBearerToken: invalidBearer })
  }
  const two = await ctx.app.inject({ url: '/open', headers: { authorization: ['Bearer a', 'Bearer b'] } as unknown as Record<string, string> })
  t.same(two.json(), { authJwt: false, missingAuthHeader: false, invalidBearerToken: true }, 'two Authorization headers')
  const ok = await ctx.app.inject({ url: '/open', headers: { authorization: `Bearer ${ctx.idp.sign({ sub: 'u1', scope: 'a' })}` } })
  t.equal(ok.statusCode, 200)
  t.match(ok.json(), { authJwt: { sub: 'u1', scope: 'a', iss: ctx.idp.issuer }, missingAuthHeader: false, invalidBearerToken: false })
})

t.test('hooks after the middleware reuse its result', async t => {
  const ctx = await setup(t)
  const token = ctx.idp.sign({ sub: 'u1', scope: 'a' })
  for (const url of ['/guarded', '/scoped', '/declared']) {
    const none = await ctx.app.inject({ url })
    t.equal(none.statusCode, 401, `${url} without a token`)
    t.same(none.json(), { error: 'invalid_token', error_description: 'Missing Authorization Header' })
    const bad = await ctx.app.inject({ url, headers: { authorization: 'Bearer abc' } })
    t.equal(bad.statusCode, 401)
    t.same(bad.json(), { error: 'invalid_token', error_description: 'Malformed token' })
    const scheme = await ctx.app.inject({ url, headers: { authorization: 'Basic abc' } })
    t.equal(scheme.statusCode, 401)
    t.same(scheme.json(), { error: 'invalid_token', error_description: 'Invalid Authorization Bearer' })
    const ok = await ctx.app.inject({ url, headers: { authorization: `Bearer ${token}` } })
    t.equal(ok.statusCode, 200)
    t.equal(ok.json().authJwt.sub, 'u1')
  }
  const forbidden = await ctx.app.inject({ url: '/scoped', headers: { authorization: `Bearer ${ctx.idp.sign({ scope: 'b' })}` } })
  t.equal(forbidden.statusCode, 403)
  // One verification per request: the JWKS was fetched once, and a token cache is not needed.
  t.equal(ctx.idp.requests.jwks, 1)
})

t.test('the fail-closed guard still runs first', async t => {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const app = Fastify()
  t.teardown(() => app.close())
  app.get('/early', { config: { axioms: { scopes: ['a'] } } }, async () => 'open')
  await app.register(axioms, { audience: 'your-api-audience', issuer: idp.issuer, env: {}, tokenMiddleware: true })
  const res = await app.inject({ url: '/early', headers: { authorization: `Bearer ${idp.sign({ scope: 'a' })}` } })
  t.equal(res.statusCode, 500)
  t.same(res.json(), { error: 'server_error', error_description: 'Route protection is misconfigured' })
})
