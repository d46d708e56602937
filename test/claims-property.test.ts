// Where the claims live: decoratorName (request.user for apps used to @fastify/jwt, or any other
// name beside an app's own @fastify/jwt), and app.axioms.claims(request) for non-null claims.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyJwt from '@fastify/jwt'
import axioms, { type AxiomsOptions, AxiomsError, ConfigError } from '../index.js'
import { createTestIssuer, type TestIssuer } from '../testing.js'
import { offered } from './fixture.js'

async function setup (t: Test, options: AxiomsOptions = {}, before?: (app: FastifyInstance) => Promise<void>): Promise<{ app: FastifyInstance, idp: TestIssuer }> {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const app = Fastify()
  t.teardown(() => app.close())
  if (before !== undefined) await before(app)
  await app.register(axioms, { issuer: idp.issuer, audience: 'your-api-audience', env: {}, ...options })
  return { app, idp }
}

const auth = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

t.test('decoratorName: "user" puts the claims on request.user', async t => {
  const { app, idp } = await setup(t, { decoratorName: 'user', tokenMiddleware: true })
  const r = app as unknown as { get: FastifyInstance['get'] }
  r.get('/me', { config: { axioms: {} } }, async request => {
    const req = request as unknown as Record<string, unknown>
    return { user: (req.user as { sub: string }).sub, authJwt: 'authJwt' in req ? 'present' : 'absent' }
  })
  r.get('/open', async request => ({ user: (request as unknown as Record<string, unknown>).user }))
  const res = await app.inject({ url: '/me', headers: auth(idp.sign({ sub: 'alice' })) })
  t.same(res.json(), { user: 'alice', authJwt: 'absent' })
  t.same((await app.inject({ url: '/open', headers: auth('garbage') })).json(), { user: false }, 'tokenMiddleware marks an invalid token on the chosen property')
  t.same((await app.inject({ url: '/open' })).json(), { user: null })
})

t.test('beside an app\'s own @fastify/jwt, each keeps its property', async t => {
  const { app, idp } = await setup(t, {}, async app => { await app.register(fastifyJwt, { secret: 'app-secret-for-its-own-sessions' }) })
  app.get('/both', { config: { axioms: {} } }, async request => {
    await request.jwtVerify({ onlyCookie: false }).catch(() => undefined)
    return { axioms: request.authJwt === false || request.authJwt === null ? null : request.authJwt.sub, jwt: request.user ?? null }
  })
  const res = await app.inject({ url: '/both', headers: auth(idp.sign({ sub: 'bob' })) })
  t.equal(res.statusCode, 200)
  t.equal(res.json().axioms, 'bob')
  // The same name as @fastify/jwt's fails at startup with a message saying what to do.
  const app2 = Fastify()
  t.teardown(() => app2.close())
  await app2.register(fastifyJwt, { secret: 'x' })
  const err = await app2.register(axioms, { issuer: idp.issuer, audience: 'a', env: {}, decoratorName: 'user' }).then(() => undefined, (e: unknown) => e)
  t.type(err, ConfigError)
  t.match((err as Error).message, /"decoratorName" names request.user, which is already taken \(by Fastify, @fastify\/jwt or another plugin\): choose another name/)
})

t.test('decoratorName must name a free request property', async t => {
  for (const name of ['body', 'headers', 'log']) {
    const app = Fastify()
    const err = await app.register(axioms, { issuer: 'https://i.example', audience: 'a', env: {}, decoratorName: name }).then(() => undefined, (e: unknown) => e)
    await app.close()
    t.match((err as Error).message, new RegExp(`names request.${name}, which is already taken`), name)
  }
  for (const name of ['', 'has space', '1abc', 'ownedObject', 7]) {
    t.rejects(async () => {
      const app = Fastify()
      try { await app.register(axioms, { issuer: 'https://i.example', audience: 'a', env: {}, decoratorName: name as string }) } finally { await app.close() }
    }, /"decoratorName" must be a JavaScript identifier/, String(name))
  }
})

t.test('app.axioms.claims(request): non-null claims, or the plugin\'s 401', async t => {
  const { app, idp } = await setup(t)
  let calls = 0
  app.get('/me', { config: { axioms: {} } }, async request => ({ sub: app.axioms.claims(request).sub }))
  app.get('/feed', { config: { axioms: { optional: true } } }, async request => { calls++; return { sub: app.axioms.claims(request).sub } })
  app.get('/public', async request => { calls++; return { sub: app.axioms.claims(request).sub } })
  t.same((await app.inject({ url: '/me', headers: auth(idp.sign({ sub: 'carol' })) })).json(), { sub: 'carol' })
  t.same((await app.inject({ url: '/feed', headers: auth(idp.sign({ sub: 'dan' })) })).json(), { sub: 'dan' })
  for (const url of ['/feed', '/public']) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 401, `${url}: no claims`)
    t.same(res.json(), { error: 'invalid_token', error_description: 'Missing Authorization Header' })
    t.equal(res.headers['www-authenticate'], offered(idp.issuer))
  }
  t.equal(calls, 3)
})

t.test('app.axioms.claims under errorResponse: "throw" reaches the app\'s error handler', async t => {
  const { app } = await setup(t, { errorResponse: 'throw' })
  const seen: unknown[] = []
  app.setErrorHandler((err, _req, reply) => { seen.push(err); return reply.code(499).send({ handled: true }) })
  app.get('/public', async request => app.axioms.claims(request))
  const res = await app.inject({ url: '/public' })
  t.equal(res.statusCode, 499)
  t.ok(seen[0] instanceof AxiomsError)
  t.equal((seen[0] as AxiomsError).code, 'AXIOMS_MISSING_HEADER')
})
