import { test, before, after } from 'node:test'
import assert from 'node:assert'
import { createTestIssuer } from 'axioms-fastify/testing'

let idp
let build
before(async () => {
  idp = await createTestIssuer({ audience: 'orders-api' })
  process.env.ORDERS_ISSUER = idp.issuer
  // autoConfig reads the issuer when the plugin file is imported: after it is known.
  build = (await import('../helper.js')).build
})
after(() => idp.close())

test('GET /orders needs orders:read', async t => {
  const app = await build(t)
  const ok = await app.inject({ url: '/orders', headers: { authorization: `Bearer ${idp.sign({ sub: 'c-7', scope: 'orders:read' })}` } })
  assert.deepStrictEqual([ok.statusCode, ok.json()], [200, { customer: 'c-7' }])
  const lacking = await app.inject({ url: '/orders', headers: { authorization: `Bearer ${idp.sign({ scope: 'x' })}` } })
  assert.deepStrictEqual([lacking.statusCode, lacking.json().error], [403, 'insufficient_scope'])
})

test('no token: 401 with the challenge', async t => {
  const app = await build(t)
  const res = await app.inject({ url: '/orders' })
  assert.strictEqual(res.statusCode, 401)
  assert.match(res.headers['www-authenticate'], /^Bearer realm=/)
})
