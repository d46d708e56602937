'use strict'
// CommonJS with require(esm) off: axioms-fastify/dpop/redis resolves to dist/cjs and loads without
// ioredis installed.
const assert = require('node:assert/strict')
const { RedisReplayStore } = require('axioms-fastify/dpop/redis')

assert.match(require.resolve('axioms-fastify/dpop/redis'), /[\\/]node_modules[\\/]axioms-fastify[\\/]dist[\\/]cjs[\\/]lib[\\/]dpop[\\/]redis\.js$/)
assert.throws(() => require.resolve('ioredis'), { code: 'MODULE_NOT_FOUND' }, 'ioredis is not installed here')
assert.equal(typeof RedisReplayStore, 'function')

async function main () {
  let seen
  const store = new RedisReplayStore({ set: async (...args) => { seen = args; return 'OK' } })
  assert.equal(await store.claim('k', Date.now() + 5000), true)
  assert.equal(seen[0], 'axioms:dpop:k', 'the default prefix')
  assert.ok(seen[3] > 4000 && seen[3] <= 5000, 'the TTL from expiresAt')
  const replayed = new RedisReplayStore({ set: async () => null })
  assert.equal(await replayed.claim('k', Date.now() + 5000), false)
  const odd = new RedisReplayStore({ set: async () => 'QUEUED' })
  await assert.rejects(odd.claim('k', Date.now() + 5000), Error, 'anything but OK or nil is no answer')
  console.log('dpop-redis consumer (cjs): ok')
}

main().catch(err => {
  console.error(err)
  process.exit(1)
})
