'use strict'
/* global beforeAll, afterAll, test, expect */
const { AxiomsError, isAxiomsError } = require('axioms-fastify')
const { createTestIssuer } = require('axioms-fastify/testing')
const { buildApp } = require('./app')

let idp
let app
let base
beforeAll(async () => {
  idp = await createTestIssuer({ audience: 'orders-api' })
  app = await buildApp({ issuer: idp.issuer, audience: 'orders-api' })
  base = await app.listen({ port: 0, host: '127.0.0.1' })
})
afterAll(async () => {
  await app.close()
  await idp.close()
})

// Over a real socket, not app.inject(): Fastify's inject loads light-my-request, whose cookie@2 is
// an ES module, and Jest requires ES modules only on Node >= 24.9.
async function call (method, url, token) {
  const res = await fetch(base + url, { method, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
  const body = await res.json()
  return { statusCode: res.status, headers: Object.fromEntries(res.headers), json: () => body }
}

test('Jest loads the CommonJS build', () => {
  expect(require.resolve('axioms-fastify')).toMatch(/[\\/]axioms-fastify[\\/]dist[\\/]cjs[\\/]index\.js$/)
  expect(require.resolve('axioms-fastify/testing')).toMatch(/[\\/]dist[\\/]cjs[\\/]testing\.js$/)
})

test('a token with the scope reads orders', async () => {
  const res = await call('GET', '/orders', idp.sign({ sub: 'customer-42', scope: 'orders:read' }))
  expect(res.statusCode).toBe(200)
  expect(res.json()).toEqual({ customer: 'customer-42' })
})

test('no token: 401 with the family body and a challenge', async () => {
  const res = await call('GET', '/orders')
  expect(res.statusCode).toBe(401)
  expect(res.json()).toEqual({ error: 'invalid_token', error_description: 'Missing Authorization Header' })
  // DPoP is accepted by default: the bare challenge offers both schemes.
  expect(res.headers['www-authenticate']).toBe(`Bearer realm="${idp.issuer}", DPoP algs="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA"`)
  const expired = await call('DELETE', '/orders/7', idp.sign({ roles: ['admin'] }, { expiresIn: -60 }))
  expect(expired.statusCode).toBe(401)
  expect(expired.json()).toEqual({ error: 'invalid_token', error_description: 'Token has expired' })
  expect(expired.headers['www-authenticate']).toBe(`Bearer realm="${idp.issuer}", error="invalid_token", error_description="Token has expired"`)
  expect((await call('DELETE', '/orders/7', idp.sign({ roles: ['viewer'] }))).statusCode).toBe(403)
  expect((await call('DELETE', '/orders/7', idp.sign({ roles: ['admin'] }))).statusCode).toBe(200)
})

test('verify() rejects with an AxiomsError carrying a code', async () => {
  const err = await app.axioms.verify(idp.sign({ aud: 'billing-api' })).catch(e => e)
  expect(err).toBeInstanceOf(AxiomsError)
  expect(isAxiomsError(err)).toBe(true)
  expect(err.code).toBe('AXIOMS_BAD_AUDIENCE')
})
