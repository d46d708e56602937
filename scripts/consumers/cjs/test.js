'use strict'
// A CommonJS app requiring the package by name: the require condition, dist/cjs. Run with
// --no-experimental-require-module, so nothing here may load an ES module.
const assert = require('node:assert/strict')

assert.equal(process.features.require_module, false, 'require(esm) must be off for this fixture')
assert.throws(() => require('./esm-probe.mjs'), { code: 'ERR_REQUIRE_ESM' })

const Fastify = require('fastify')
const { axioms, AxiomsError, isAxiomsError } = require('axioms-fastify')
const { createTestIssuer } = require('axioms-fastify/testing')
const mod = require('axioms-fastify')

assert.match(require.resolve('axioms-fastify'), /[\\/]node_modules[\\/]axioms-fastify[\\/]dist[\\/]cjs[\\/]index\.js$/)
assert.match(require.resolve('axioms-fastify/testing'), /[\\/]dist[\\/]cjs[\\/]testing\.js$/)
assert.equal(require('axioms-fastify/package.json').name, 'axioms-fastify')
assert.equal(mod.default, axioms, 'require(...).default is the plugin')
assert.equal(axioms[Symbol.for('plugin-meta')].name, 'axioms-fastify')

async function main () {
  const idp = await createTestIssuer({ audience: 'orders-api' })
  const opts = { issuer: idp.issuer, audience: 'orders-api' }
  // The three ways a CommonJS user registers a plugin: the module object (avvio takes its
  // .default), .default, and the named export.
  for (const [how, plugin] of [['module object', require('axioms-fastify')], ['.default', mod.default], ['{ axioms }', axioms]]) {
    const app = Fastify()
    await app.register(plugin, opts)
    // fastify-plugin's skip-override held: the decorators reached the instance that registered it.
    assert.equal(typeof app.hasValidAccessToken, 'function', `${how}: decorators on the root instance`)
    app.get('/orders', { config: { axioms: { scopes: ['orders:read'] } } }, async request => ({ customer: request.authJwt.sub }))
    app.get('/admin', { preHandler: [app.hasValidAccessToken(), app.hasRequiredRoles(['admin'])] }, async () => ({ admin: true }))
    // Over a real socket: Fastify's inject() loads light-my-request, whose cookie@2 is an ES
    // module, which this process cannot require.
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    const call = async (url, token) => {
      const res = await fetch(base + url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
      const body = await res.json()
      return { statusCode: res.status, headers: Object.fromEntries(res.headers), json: () => body }
    }

    const ok = await call('/orders', idp.sign({ sub: 'customer-42', scope: 'orders:read' }))
    assert.equal(ok.statusCode, 200, how)
    assert.deepEqual(ok.json(), { customer: 'customer-42' })

    const missing = await call('/orders')
    assert.equal(missing.statusCode, 401)
    assert.deepEqual(missing.json(), { error: 'invalid_token', error_description: 'Missing Authorization Header' })
    // DPoP is accepted by default: the bare challenge offers both schemes.
    assert.equal(missing.headers['www-authenticate'], `Bearer realm="${idp.issuer}", DPoP algs="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA"`)

    const wrongAud = await call('/orders', idp.sign({ scope: 'orders:read', aud: 'billing-api' }))
    assert.equal(wrongAud.statusCode, 401)
    assert.deepEqual(wrongAud.json(), { error: 'invalid_token', error_description: 'Invalid token audience' })
    assert.equal(wrongAud.headers['www-authenticate'], `Bearer realm="${idp.issuer}", error="invalid_token", error_description="Invalid token audience"`)

    assert.equal((await call('/admin', idp.sign({ roles: ['viewer'] }))).statusCode, 403)
    assert.equal((await call('/admin', idp.sign({ roles: ['admin'] }))).statusCode, 200)
    await app.close()
  }

  const app = Fastify()
  await app.register(axioms, opts)
  await app.ready()
  const err = await app.axioms.verify(idp.sign({}, { expiresIn: -60 })).then(() => null, e => e)
  assert.ok(err instanceof AxiomsError && isAxiomsError(err))
  assert.equal(err.code, 'AXIOMS_EXPIRED')
  await app.close()
  await idp.close()
  console.log('cjs consumer: ok')
}

main().catch(err => { console.error(err); process.exit(1) })
