// A user's test written with axioms-fastify/testing (the README shows it). In an application the
// imports are 'axioms-fastify' and 'axioms-fastify/testing'; the app factory is the user's own.
import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import axioms, { type AxiomsOptions } from '../index.js'
import { createTestIssuer } from '../testing.js'

// --- the application under test (normally in src/app.ts) ---
async function buildApp (auth: AxiomsOptions): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(axioms, auth)
  app.get('/orders', { config: { axioms: { scopes: ['orders:read'] } } }, async request => {
    const claims = request.authJwt
    return { orders: [], customer: claims ? claims.sub : null }
  })
  app.delete('/orders/:id', { config: { axioms: { scopes: { all: ['orders:write'] }, roles: ['admin'] } } }, async () => ({ deleted: true }))
  return app
}

// --- the tests ---
// A developer's shell may export AXIOMS_* variables for a real IdP, and a corporate proxy:
// idp.pluginOptions() reads none of them (env: {}). Here the process has hostile ones (a proxy that
// refuses every connection), and every assertion still holds.
const exported = {
  AXIOMS_JWKS_URL: 'http://127.0.0.1:9/jwks.json',
  AXIOMS_ALGORITHMS: 'ES512',
  AXIOMS_TOKEN_TYPS: 'other+jwt',
  AXIOMS_SCOPE_CLAIMS: 'nope',
  HTTP_PROXY: 'http://127.0.0.1:1',
  HTTPS_PROXY: 'http://127.0.0.1:1',
  http_proxy: 'http://127.0.0.1:1'
}
Object.assign(process.env, exported)
t.teardown(() => { for (const k of Object.keys(exported)) Reflect.deleteProperty(process.env, k) })

t.test('orders API', async t => {
  // A real issuer on 127.0.0.1: discovery, JWKS, signing keys. No mocks.
  const idp = await createTestIssuer({ audience: 'orders-api' })
  t.teardown(() => idp.close())
  // jwksCooldown: 0 only because the tests below rotate keys twice within a second; keep the
  // default (30 s) in production.
  const options = idp.pluginOptions({ jwksCooldown: 0 })
  const app = await buildApp(options)
  t.teardown(() => app.close())
  const call = (method: 'GET' | 'DELETE', url: string, token?: string) =>
    app.inject({ method, url, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })

  t.test('a token with the right scope reads orders', async t => {
    const token = idp.sign({ sub: 'customer-42', scope: 'orders:read' })
    const res = await call('GET', '/orders', token)
    t.equal(res.statusCode, 200)
    t.same(res.json(), { orders: [], customer: 'customer-42' })
  })

  t.test('deleting needs orders:write and the admin role', async t => {
    const reader = idp.sign({ sub: 'customer-42', scope: 'orders:read' })
    const res = await call('DELETE', '/orders/7', reader)
    t.equal(res.statusCode, 403)
    t.same(res.json(), { error: 'insufficient_scope', error_description: 'Insufficient role, scope or permission' })
    t.match(res.headers['www-authenticate'], /scope="orders:write"/)
    const admin = idp.sign({ sub: 'ops-1', scope: 'orders:write', roles: ['admin'] })
    t.equal((await call('DELETE', '/orders/7', admin)).statusCode, 200)
  })

  t.test('expired, foreign and missing tokens are refused', async t => {
    const expired = await call('GET', '/orders', idp.sign({ scope: 'orders:read' }, { expiresIn: -60 }))
    t.equal(expired.statusCode, 401)
    t.equal(expired.json().error_description, 'Token has expired')
    const otherApi = await call('GET', '/orders', idp.sign({ scope: 'orders:read', aud: 'billing-api' }))
    t.equal(otherApi.json().error_description, 'Invalid token audience')
    const noExp = await call('GET', '/orders', idp.sign({ scope: 'orders:read', exp: undefined }))
    t.equal(noExp.json().error_description, 'Token missing expiration claim')
    t.equal((await call('GET', '/orders')).statusCode, 401)
  })

  t.test('key rotation: new keys are picked up, removed keys stop working', async t => {
    const before = idp.sign({ scope: 'orders:read' })
    t.equal((await call('GET', '/orders', before)).statusCode, 200)
    idp.rotate({ keepOld: true }) // the IdP publishes a new key next to the old one
    t.equal((await call('GET', '/orders', idp.sign({ scope: 'orders:read' }))).statusCode, 200, 'unknown kid: the JWKS is fetched again')
    t.equal((await call('GET', '/orders', before)).statusCode, 200, 'the old key is still published')
    idp.rotate() // now only a brand-new key is published
    t.equal((await call('GET', '/orders', idp.sign({ scope: 'orders:read' }))).statusCode, 200)
    t.equal((await call('GET', '/orders', before)).statusCode, 401, 'the retired key no longer verifies')
  })

  t.test('an identity provider outage', async t => {
    idp.setMode('down') // connections to the JWKS are dropped
    t.teardown(() => idp.setMode('ok'))
    const token = idp.sign({ scope: 'orders:read' })
    t.equal((await call('GET', '/orders', token)).statusCode, 200, 'cached keys keep working')

    // A fresh instance has no keys yet: it answers 503 with Retry-After, never 401 or 500.
    const cold = await buildApp(options)
    t.teardown(() => cold.close())
    const res = await cold.inject({ url: '/orders', headers: { authorization: `Bearer ${token}` } })
    t.equal(res.statusCode, 503)
    t.equal(res.headers['retry-after'], '1', 'jwksCooldown 0: try again in a second')
    t.same(res.json(), { error: 'temporarily_unavailable', error_description: 'Unable to verify the access token right now' })

    idp.setMode('ok') // the IdP is back
    t.equal((await cold.inject({ url: '/orders', headers: { authorization: `Bearer ${token}` } })).statusCode, 200)
  })
})
