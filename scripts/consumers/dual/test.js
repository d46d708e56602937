// The dual-package hazard: an ES module app whose CommonJS dependency (or test runner) requires
// the package loads both builds, so two AxiomsError classes exist in one process.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import Fastify from 'fastify'
import * as esm from 'axioms-fastify'
import * as esmKit from 'axioms-fastify/testing'

const require = createRequire(import.meta.url)
const cjs = require('axioms-fastify')
const cjsKit = require('axioms-fastify/testing')

assert.match(import.meta.resolve('axioms-fastify'), /\/dist\/esm\/index\.js$/)
assert.match(require.resolve('axioms-fastify'), /[\\/]dist[\\/]cjs[\\/]index\.js$/)
assert.notEqual(esm.AxiomsError, cjs.AxiomsError, 'two builds, two classes')
assert.notEqual(esm.default, cjs.default)
assert.notEqual(esmKit.createTestIssuer, cjsKit.createTestIssuer)

const builds = { esm, cjs }
for (const [maker, other] of [['cjs', 'esm'], ['esm', 'cjs']]) {
  const err = new builds[maker].AxiomsError('expired')
  for (const mod of [builds[other], builds[maker]]) {
    assert.ok(err instanceof mod.AxiomsError, `${maker} error instanceof ${mod === esm ? 'esm' : 'cjs'} AxiomsError`)
    assert.ok(mod.isAxiomsError(err))
  }
  assert.ok(err instanceof Error)
  assert.equal(err.code, 'AXIOMS_EXPIRED')
  assert.equal(err.statusCode, 401)
  assert.deepEqual(err.toJSON(), { error: 'invalid_token', error_description: 'Token has expired' })
  // Look-alikes are not AxiomsErrors: the brand is a registered symbol, not a name or a code.
  const lookAlike = Object.assign(new Error('Token has expired'), { name: 'AxiomsError', code: 'AXIOMS_EXPIRED', statusCode: 401 })
  assert.ok(!(lookAlike instanceof builds[other].AxiomsError))
  assert.ok(!builds[other].isAxiomsError(lookAlike))
  for (const v of [null, undefined, 'AxiomsError', {}, new Error('x')]) assert.ok(!builds[other].isAxiomsError(v))
}

// Errors the plugin itself raises, seen by the other build: an app on one build with
// errorResponse: 'throw', whose error handler tests with the other build; and verify().
for (const [plugin, other, kit] of [['cjs', 'esm', esmKit], ['esm', 'cjs', cjsKit]]) {
  const idp = await kit.createTestIssuer({ audience: 'api' })
  const app = Fastify()
  const seen = []
  app.setErrorHandler((err, request, reply) => {
    seen.push(err)
    if (builds[other].isAxiomsError(err)) return reply.code(err.statusCode).headers(err.headers).send({ code: err.code })
    return reply.code(500).send({ code: 'NOT_RECOGNISED' })
  })
  await app.register(builds[plugin].default, { issuer: idp.issuer, audience: 'api', errorResponse: 'throw' })
  app.get('/x', { config: { axioms: { roles: ['admin'] } } }, async request => ({ sub: request.authJwt.sub }))

  const expired = await app.inject({ url: '/x', headers: { authorization: `Bearer ${idp.sign({ roles: ['admin'] }, { expiresIn: -60 })}` } })
  assert.equal(expired.statusCode, 401)
  assert.deepEqual(expired.json(), { code: 'AXIOMS_EXPIRED' })
  assert.match(expired.headers['www-authenticate'], /error="invalid_token"/)
  assert.ok(seen[0] instanceof builds[other].AxiomsError)
  const forbidden = await app.inject({ url: '/x', headers: { authorization: `Bearer ${idp.sign({ roles: ['viewer'] })}` } })
  assert.deepEqual([forbidden.statusCode, forbidden.json()], [403, { code: 'AXIOMS_INSUFFICIENT' }])
  const ok = await app.inject({ url: '/x', headers: { authorization: `Bearer ${idp.sign({ sub: 'u1', roles: ['admin'] })}` } })
  assert.deepEqual([ok.statusCode, ok.json()], [200, { sub: 'u1' }])

  const rejected = await app.axioms.verify(idp.sign({ aud: 'other' })).catch(e => e)
  assert.ok(rejected instanceof builds[other].AxiomsError && builds[other].isAxiomsError(rejected))
  assert.equal(rejected.code, 'AXIOMS_BAD_AUDIENCE')
  await app.close()
  await idp.close()
}

// A bad option fails register() with a ConfigError: recognised across builds by its code and brand.
for (const [plugin, other] of [['cjs', 'esm'], ['esm', 'cjs']]) {
  const app = Fastify()
  const err = await app.register(builds[plugin].default, { audience: 'api', issuer: 'https://idp.example', jwksTimeout: -1 }).then(() => null, e => e)
  assert.equal(err?.code, 'AXIOMS_INVALID_OPTION')
  assert.ok(err instanceof builds[plugin].ConfigError)
  assert.ok(err instanceof builds[other].ConfigError, 'the other build\'s ConfigError recognises it')
  assert.ok(!builds[other].isAxiomsError(err), 'a ConfigError is no AxiomsError')
  await app.close()
}

// Both builds' plugins side by side in one process, each on its own app.
const idp = await esmKit.createTestIssuer({ audience: 'api' })
const apps = []
for (const mod of [esm, cjs]) {
  const app = Fastify()
  await app.register(mod.default, { issuer: idp.issuer, audience: 'api' })
  app.get('/me', { config: { axioms: {} } }, async request => ({ sub: request.authJwt.sub }))
  apps.push(app)
}
const token = idp.sign({ sub: 'both' })
for (const app of apps) {
  const res = await app.inject({ url: '/me', headers: { authorization: `Bearer ${token}` } })
  assert.deepEqual([res.statusCode, res.json()], [200, { sub: 'both' }])
  await app.close()
}
await idp.close()
console.log('dual consumer: ok')
