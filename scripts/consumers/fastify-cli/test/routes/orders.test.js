'use strict'

const { test, before, after } = require('node:test')
const assert = require('node:assert')
const { createTestIssuer } = require('axioms-fastify/testing')
const { build } = require('../helper')

let idp
before(async () => {
  idp = await createTestIssuer({ audience: 'orders-api' })
  // How the app is configured in production too: the family's AXIOMS_* variables.
  process.env.AXIOMS_ISS_URL = idp.issuer
  process.env.AXIOMS_AUDIENCE = 'orders-api'
})
after(() => idp.close())

const bearer = token => ({ authorization: `Bearer ${token}` })

test('the autoloaded plugin protects the autoloaded routes', async t => {
  const app = await build(t)
  const ok = await app.inject({ url: '/orders', headers: bearer(idp.sign({ sub: 'c-42', scope: 'orders:read' })) })
  assert.strictEqual(ok.statusCode, 200)
  assert.deepStrictEqual(ok.json(), { customer: 'c-42' })
  const none = await app.inject({ url: '/orders' })
  assert.strictEqual(none.statusCode, 401)
  assert.deepStrictEqual(none.json(), { error: 'invalid_token', error_description: 'Missing Authorization Header' })
  assert.match(none.headers['www-authenticate'], /^Bearer realm="http:\/\/127\.0\.0\.1:\d+"/)
  const lacking = await app.inject({ url: '/orders', headers: bearer(idp.sign({ scope: 'orders:write' })) })
  assert.strictEqual(lacking.statusCode, 403)
  assert.match(lacking.headers['www-authenticate'], /scope="orders:read"/)
})

test('composed with @fastify/auth: a token or the operations key', async t => {
  const app = await build(t)
  const key = await app.inject({ method: 'POST', url: '/orders', headers: { 'x-ops-key': 'ops-secret' } })
  assert.strictEqual(key.statusCode, 200)
  assert.deepStrictEqual(key.json(), { created: true, by: 'ops' })
  assert.strictEqual(key.headers['www-authenticate'], undefined)
  const token = await app.inject({ method: 'POST', url: '/orders', headers: bearer(idp.sign({ sub: 'w-1', scope: 'orders:write' })) })
  assert.deepStrictEqual(token.json(), { created: true, by: 'w-1' })
  const neither = await app.inject({ method: 'POST', url: '/orders', headers: bearer(idp.sign({ scope: 'orders:read' })) })
  assert.strictEqual(neither.statusCode, 401, 'the operations key failed last: its answer')
})

test('options passed down (skipOverride) and a typo in axioms\' own', async t => {
  const app = await build(t)
  assert.strictEqual(typeof app.hasRequiredScopes, 'function', 'decorators reach the test through skipOverride')
  const Fastify = require('fastify')
  const bad = Fastify()
  await assert.rejects(async () => { await bad.register(require('axioms-fastify'), { audiance: 'orders-api', skipOverride: true }) }, err => {
    assert.strictEqual(err.code, 'AXIOMS_INVALID_OPTION')
    assert.match(err.message, /"audiance" is not an option of axioms-fastify: did you mean "audience"\?/)
    return true
  })
  await bad.close()
})
