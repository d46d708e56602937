// The plugin registered inside an encapsulated plugin: its own context is protected, and a route
// elsewhere that declares config.axioms fails startup instead of being served unprotected.
import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import axioms from '../index.js'
import { createTestIssuer } from '../testing.js'

const idp = await createTestIssuer()
t.teardown(() => idp.close())
const options = { audience: 'your-api-audience', issuer: idp.issuer, env: {} }
const admin = { config: { axioms: { roles: ['admin'] } } }

t.test('a sibling context declaring config.axioms fails startup', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(async child => { await child.register(axioms, options) })
  app.register(async sibling => { sibling.get('/a', admin, async () => 'LEAK') })
  await t.rejects(async () => { await app.ready() }, /GET \/a.*declares config\.axioms, but axioms-fastify is not registered in its context/)
})

t.test('a root route declared after an encapsulated registration is refused when added', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(async child => { await child.register(axioms, options) })
  t.throws(() => app.get('/b', admin, async () => 'LEAK'), /GET \/b.*not registered in its context/)
  // An explicit opt-out stays public, and undeclared routes are untouched.
  app.get('/public', { config: { axioms: false } }, async () => 'public')
  app.get('/plain', async () => 'plain')
  await app.ready()
  t.equal((await app.inject({ url: '/public' })).statusCode, 200)
  t.equal((await app.inject({ url: '/plain' })).statusCode, 200)
})

t.test('the context that registered the plugin, and its children, are protected', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  let calls = 0
  await app.register(async (api: FastifyInstance) => {
    await api.register(axioms, options)
    api.get('/own', admin, async () => { calls++; return 'ok' })
    await api.register(async nested => { nested.get('/nested', admin, async () => { calls++; return 'ok' }) })
  }, { prefix: '/api' })
  await app.ready()
  for (const url of ['/api/own', '/api/nested']) {
    t.equal((await app.inject({ url })).statusCode, 401, `${url} without a token`)
    const res = await app.inject({ url, headers: { authorization: `Bearer ${idp.sign({ roles: ['admin'] })}` } })
    t.equal(res.statusCode, 200, `${url} with the role`)
  }
  t.equal(calls, 2)
})

t.test('two encapsulated registrations with their own audiences', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  for (const [prefix, audience] of [['/orders', 'orders-api'], ['/billing', 'billing-api']] as const) {
    await app.register(async api => {
      await api.register(axioms, { ...options, audience })
      api.get('/', { config: { axioms: {} } }, async () => audience)
    }, { prefix })
  }
  await app.ready()
  const orders = idp.sign({ aud: 'orders-api' })
  t.equal((await app.inject({ url: '/orders', headers: { authorization: `Bearer ${orders}` } })).body, 'orders-api')
  const res = await app.inject({ url: '/billing', headers: { authorization: `Bearer ${orders}` } })
  t.equal(res.statusCode, 401)
  t.equal(res.json().error_description, 'Invalid token audience')
})

t.test('a sibling context loaded before the encapsulated registration fails closed per request', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  let calls = 0
  app.register(async sibling => { sibling.get('/early', admin, async () => { calls++; return 'LEAK' }) })
  await app.register(async child => { await child.register(axioms, options) })
  app.get('/open', async () => 'open')
  await app.ready()
  const res = await app.inject({ url: '/early', headers: { authorization: `Bearer ${idp.sign({ roles: ['admin'] })}` } })
  t.equal(res.statusCode, 500)
  t.same(res.json(), { error: 'server_error', error_description: 'Route protection is misconfigured' })
  t.equal(calls, 0)
  t.equal((await app.inject({ url: '/open' })).statusCode, 200)
})

t.test('a declaration object shared with a route declared before registration: that route still fails closed', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  let calls = 0
  const adminOnly = { roles: ['admin'] }
  app.get('/early', { config: { axioms: adminOnly } }, async () => { calls++; return 'LEAK' })
  await app.register(axioms, options)
  app.get('/late', { config: { axioms: adminOnly } }, async () => { calls++; return 'ok' })
  await app.ready()
  const early = await app.inject({ url: '/early' })
  t.equal(early.statusCode, 500, 'never compiled, although its declaration object was')
  t.same(early.json(), { error: 'server_error', error_description: 'Route protection is misconfigured' })
  t.equal((await app.inject({ url: '/late' })).statusCode, 401)
  t.equal((await app.inject({ url: '/late', headers: { authorization: `Bearer ${idp.sign({ roles: ['admin'] })}` } })).statusCode, 200)
  t.equal(calls, 1)
  t.same(adminOnly, { roles: ['admin'] }, 'the app\'s declaration object is left as it was')
})
