// An ES module app importing the package by name: the import condition, dist/esm.
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import axioms, { axioms as named, AxiomsError, isAxiomsError, getTokenScopes } from 'axioms-fastify'
import { createTestIssuer } from 'axioms-fastify/testing'
import { readFileSync } from 'node:fs'

assert.match(import.meta.resolve('axioms-fastify'), /\/node_modules\/axioms-fastify\/dist\/esm\/index\.js$/)
assert.match(import.meta.resolve('axioms-fastify/testing'), /\/node_modules\/axioms-fastify\/dist\/esm\/testing\.js$/)
// exports['./package.json'] is kept for tools that read it.
assert.equal(JSON.parse(readFileSync(new URL(import.meta.resolve('axioms-fastify/package.json')), 'utf8')).name, 'axioms-fastify')
assert.equal(axioms, named, 'the default export is the named export axioms')
assert.equal(axioms[Symbol.for('plugin-meta')].name, 'axioms-fastify')
assert.deepEqual(getTokenScopes({ scope: 'a b' }), ['a', 'b'])

const idp = await createTestIssuer({ audience: 'orders-api' })
const app = Fastify()
await app.register(axioms, { issuer: idp.issuer, audience: 'orders-api' })
app.get('/orders', { config: { axioms: { scopes: ['orders:read'] } } }, async request => ({ customer: request.authJwt.sub }))
app.get('/admin', { onRequest: [app.hasValidAccessToken(), app.hasRequiredRoles(['admin'])] }, async () => ({ admin: true }))

const call = (url, token) => app.inject({ url, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })

const ok = await call('/orders', idp.sign({ sub: 'customer-42', scope: 'orders:read' }))
assert.equal(ok.statusCode, 200)
assert.deepEqual(ok.json(), { customer: 'customer-42' })

const missing = await call('/orders')
assert.equal(missing.statusCode, 401)
assert.deepEqual(missing.json(), { error: 'invalid_token', error_description: 'Missing Authorization Header' })
// DPoP is accepted by default: the bare challenge offers both schemes.
assert.equal(missing.headers['www-authenticate'], `Bearer realm="${idp.issuer}", DPoP algs="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA"`)

const expired = await call('/orders', idp.sign({ scope: 'orders:read' }, { expiresIn: -60 }))
assert.equal(expired.statusCode, 401)
assert.deepEqual(expired.json(), { error: 'invalid_token', error_description: 'Token has expired' })
assert.equal(expired.headers['www-authenticate'], `Bearer realm="${idp.issuer}", error="invalid_token", error_description="Token has expired"`)

const forbidden = await call('/admin', idp.sign({ roles: ['viewer'] }))
assert.equal(forbidden.statusCode, 403)
assert.equal(forbidden.json().error, 'insufficient_scope')
assert.equal((await call('/admin', idp.sign({ roles: ['admin'] }))).statusCode, 200)

// errorResponse: 'throw' hands the app's error handler an AxiomsError with a stable code.
const thrower = Fastify()
const seen = []
thrower.setErrorHandler((err, request, reply) => {
  seen.push(err)
  return reply.code(err.statusCode).headers(err.headers).send({ mine: err.code })
})
await thrower.register(axioms, { issuer: idp.issuer, audience: 'orders-api', errorResponse: 'throw' })
thrower.get('/x', { config: { axioms: {} } }, async () => ({}))
const thrown = await thrower.inject({ url: '/x', headers: { authorization: 'Bearer not.a.jwt' } })
assert.equal(thrown.statusCode, 401)
assert.deepEqual(thrown.json(), { mine: 'AXIOMS_MALFORMED' })
assert.ok(seen[0] instanceof AxiomsError && isAxiomsError(seen[0]))

await Promise.all([app.close(), thrower.close()])
await idp.close()
console.log('esm consumer: ok')
