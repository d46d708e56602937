// ES modules: axioms-fastify/dpop/redis resolves to dist/esm and loads without ioredis, which the
// store never imports (it takes the app's client). A client stub with SET NX PX semantics stands
// in for Redis: the store plugged into the plugin refuses a replayed DPoP proof.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import Fastify from 'fastify'
import axioms from 'axioms-fastify'
import { RedisReplayStore } from 'axioms-fastify/dpop/redis'
import { createDpopProof, createTestIssuer, generateDpopKey, signDpopBoundToken } from 'axioms-fastify/testing'

assert.match(import.meta.resolve('axioms-fastify/dpop/redis'), /\/node_modules\/axioms-fastify\/dist\/esm\/lib\/dpop\/redis\.js$/)
assert.throws(() => createRequire(import.meta.url).resolve('ioredis'), { code: 'MODULE_NOT_FOUND' }, 'ioredis is not installed here')
await assert.rejects(import('ioredis'), { code: 'ERR_MODULE_NOT_FOUND' })

/** What the store needs of ioredis: set(key, value, 'PX', ms, 'NX'). */
function stubClient () {
  const keys = new Map()
  const calls = []
  return {
    calls,
    async set (key, value, px, ms, nx) {
      calls.push([key, value, px, ms, nx])
      const now = Date.now()
      if ((keys.get(key) ?? 0) > now) return null
      keys.set(key, now + ms)
      return 'OK'
    }
  }
}

assert.throws(() => new RedisReplayStore(undefined), TypeError, 'a client is required')
const client = stubClient()
const store = new RedisReplayStore(client, { prefix: 'api:' })
assert.equal(await store.claim('k', Date.now() + 60_000), true)
assert.equal(await store.claim('k', Date.now() + 60_000), false)
assert.equal(client.calls[0][0], 'api:k')
assert.deepEqual(client.calls[0].slice(1, 3), ['1', 'PX'])
assert.equal(client.calls[0][4], 'NX')

const idp = await createTestIssuer({ audience: 'orders-api' })
const app = Fastify()
await app.register(axioms, { issuer: idp.issuer, audience: 'orders-api', dpop: { replayStore: new RedisReplayStore(stubClient()) } })
app.get('/orders', { config: { axioms: { dpop: true } } }, async request => ({ sub: request.authJwt.sub }))
const key = generateDpopKey()
const token = signDpopBoundToken(idp, key, { sub: 'customer-1' })
const dpop = createDpopProof(key, { htu: 'http://localhost/orders', accessToken: token })
const headers = { authorization: `DPoP ${token}`, dpop }
const ok = await app.inject({ url: '/orders', headers })
assert.equal(ok.statusCode, 200)
assert.deepEqual(ok.json(), { sub: 'customer-1' })
const replay = await app.inject({ url: '/orders', headers })
assert.equal(replay.statusCode, 401)
assert.deepEqual(replay.json(), { error: 'invalid_dpop_proof', error_description: 'DPoP proof replayed' })
await app.close()
await idp.close()
console.log('dpop-redis consumer (esm): ok')
