import t from 'tap'
import Fastify from 'fastify'
import axioms from '../index.js'
import { createTestIssuer } from '../testing.js'

t.test('seed /private', async t => {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, { audience: 'your-api-audience', issuer: idp.issuer, env: {} })
  let calls = 0
  app.get('/private', { preHandler: [app.hasValidAccessToken(), app.hasRequiredScopes(['openid', 'profile'])] }, async () => { calls++; return { message: 'All good. You are authenticated!' } })
  app.get('/cfg', { config: { axioms: { scopes: { all: ['openid', 'email'] } } } }, async () => { calls++; return { ok: true } })
  const ok = await app.inject({ url: '/private', headers: { authorization: `Bearer ${idp.sign({ sub: 'user123', scope: 'openid profile email' })}` } })
  t.equal(ok.statusCode, 200)
  const no = await app.inject({ url: '/private', headers: { authorization: `Bearer ${idp.sign({ sub: 'user123', scope: 'email' })}` } })
  t.equal(no.statusCode, 403)
  t.same(no.json(), { error: 'insufficient_scope', error_description: 'Insufficient role, scope or permission' })
  t.equal(no.headers['www-authenticate'], `Bearer realm="${idp.issuer}", error="insufficient_scope", error_description="Insufficient role, scope or permission", scope="openid profile"`)
  const missing = await app.inject({ url: '/cfg' })
  t.equal(missing.statusCode, 401)
  t.equal(missing.headers['www-authenticate'], `Bearer realm="${idp.issuer}"`)
  const cfg = await app.inject({ url: '/cfg', headers: { authorization: `Bearer ${idp.sign({ scope: 'openid email' })}` } })
  t.equal(cfg.statusCode, 200)
  t.equal(calls, 2)
  t.equal(idp.requests.jwks, 1)
})
