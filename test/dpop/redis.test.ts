// The Redis replay store (lib/dpop/redis.ts) against a real redis-server on 127.0.0.1: two
// "instances" sharing it refuse each other's replays, atomically; entries expire with the proof
// window; Redis killed mid-test, and a Redis that accepts connections but never answers, both
// give a 503 within the replay deadline, never a hang.
import t from 'tap'
import { Redis, type RedisOptions } from 'ioredis'
import { RedisReplayStore, type RedisSetClient } from '../../lib/dpop/redis.js'
import { DpopVerifier, type DpopRequest } from '../../lib/dpop/proof.js'
import { proof, rawKey, refusal, settings, TOKEN } from './helpers.js'
import { startRedis, startSilentServer } from './redis-server.js'

const key = rawKey('ES256')

function client (port: number, extra: RedisOptions = {}): Redis {
  // No retries storm in tests: reconnect quickly, give up on a command after one try.
  const options: RedisOptions = { host: '127.0.0.1', port, maxRetriesPerRequest: 1, retryStrategy: () => 50, ...extra }
  // ioredis' option types do not survive exactOptionalPropertyTypes.
  const c = new Redis(options as never)
  c.on('error', () => {})
  return c
}

function ready (c: Redis): Promise<void> {
  return c.status === 'ready' ? Promise.resolve() : new Promise(resolve => c.once('ready', () => resolve()))
}

function instance (redis: RedisSetClient, replayTimeout = '500ms'): DpopVerifier {
  return new DpopVerifier(settings({ replayStore: new RedisReplayStore(redis), replayTimeout }))
}

function request (dpop: string): DpopRequest {
  return { dpop, dpopCount: 1, method: 'GET', scheme: 'https', host: 'api.test', url: '/items', accessToken: TOKEN, claims: { cnf: { jkt: key.jkt } } }
}

const now = (): number => Math.floor(Date.now() / 1000)

t.test('two instances sharing one Redis refuse each other\'s replays', async t => {
  const server = await startRedis()
  t.teardown(() => server.stop())
  const ca = client(server.port)
  const cb = client(server.port)
  t.teardown(() => { ca.disconnect(); cb.disconnect() })
  const a = instance(ca)
  const b = instance(cb)

  const p1 = proof(key, now())
  t.equal((await a.check(request(p1))).jkt, key.jkt, 'A accepts a fresh proof')
  t.equal((await refusal(() => b.check(request(p1))))?.reason, 'dpop_replay', 'B refuses it')
  t.equal((await refusal(() => a.check(request(p1))))?.reason, 'dpop_replay', 'A refuses it too')
  const p2 = proof(key, now())
  t.equal((await b.check(request(p2))).jkt, key.jkt, 'B accepts another')
  t.equal((await refusal(() => a.check(request(p2))))?.reason, 'dpop_replay')

  // The same proof raced at both instances at once: SET NX lets exactly one through.
  const p3 = proof(key, now())
  const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).check(request(p3))))
  t.equal(results.filter(r => r.status === 'fulfilled').length, 1, 'one acceptance out of 20 concurrent attempts')
  t.ok(results.every(r => r.status === 'fulfilled' || (r.reason as { reason: string }).reason === 'dpop_replay'))
})

t.test('entries carry the proof window as their TTL, under the prefix', async t => {
  const server = await startRedis()
  t.teardown(() => server.stop())
  const c = client(server.port)
  t.teardown(() => c.disconnect())
  const v = instance(c)
  const iat = now()
  await v.check(request(proof(key, iat)))
  const keys = await c.keys('*')
  t.equal(keys.length, 1)
  t.match(keys[0], /^axioms:dpop:[A-Za-z0-9_-]{43}$/)
  const ttl = await c.pttl(keys[0] as string)
  const expected = (iat + 300 + 30) * 1000 + 1000 - Date.now()
  t.ok(Math.abs(ttl - expected) < 3000, `PTTL ${ttl} ms, about ${expected} ms`)

  // A short entry expires in Redis, and the key is free again.
  const store = new RedisReplayStore(c, { prefix: 'other:' })
  t.equal(await store.claim('k', Date.now() + 150), true)
  t.equal(await store.claim('k', Date.now() + 150), false)
  await new Promise(resolve => setTimeout(resolve, 300))
  t.equal(await store.claim('k', Date.now() + 150), true)
  t.equal(await store.claim('past', Date.now() - 5000), true, 'an expiry in the past still stores the key (1 ms)')
  t.equal(await c.exists('other:k'), 1)
  const clocked = new RedisReplayStore(c, { prefix: 'clock:', now: () => 0 })
  t.equal(await clocked.claim('k', 60_000), true)
  const pttl = await c.pttl('clock:k')
  t.ok(pttl > 55_000 && pttl <= 60_000, `TTL from the store's clock (${pttl})`)
})

t.test('Redis killed mid-test: 503 within the replay deadline, then 503 at once', async t => {
  const server = await startRedis()
  t.teardown(() => server.stop())
  const queued = client(server.port)
  const failFast = client(server.port, { enableOfflineQueue: false })
  t.teardown(() => { queued.disconnect(); failFast.disconnect() })
  await Promise.all([ready(queued), ready(failFast)])
  const v = instance(queued, '300ms')
  const w = instance(failFast, '300ms')
  t.equal((await v.check(request(proof(key, now())))).jkt, key.jkt)
  t.equal((await w.check(request(proof(key, now())))).jkt, key.jkt)
  await server.stop()

  for (const [label, verifier, bound] of [['offline queue on (ioredis default)', v, 1500], ['enableOfflineQueue: false', w, 1500]] as const) {
    for (let i = 0; i < 3; i++) {
      const started = Date.now()
      const e = await refusal(() => verifier.check(request(proof(key, now()))))
      const took = Date.now() - started
      t.equal(e?.reason, 'dpop_store_unavailable', `${label} #${i}`)
      t.equal(e?.statusCode, 503)
      t.equal(e?.retryAfter, 5)
      t.ok(took < bound, `${label} #${i}: answered in ${took} ms`)
    }
  }
})

t.test('a Redis that accepts connections and never answers: 503 within the deadline', async t => {
  const silent = await startSilentServer()
  t.teardown(() => silent.stop())
  const plain = client(silent.port)
  const timed = client(silent.port, { commandTimeout: 100 })
  t.teardown(() => { plain.disconnect(); timed.disconnect() })
  for (const [label, redis, detail] of [['no commandTimeout', plain, 'timeout'], ['commandTimeout 100 ms', timed, null]] as const) {
    const v = instance(redis, '400ms')
    const started = Date.now()
    const e = await refusal(() => v.check(request(proof(key, now()))))
    const took = Date.now() - started
    t.equal(e?.reason, 'dpop_store_unavailable', label)
    t.ok(took < 2000, `${label}: answered in ${took} ms`)
    if (detail !== null) t.equal(e?.detail, detail, `${label}: our own deadline`)
    else t.ok(e?.detail === 'store_error' || e?.detail === 'timeout', `${label}: ${String(e?.detail)}`)
  }
})

t.test('anything but OK or nil from SET NX is no answer; a client is required', async t => {
  const odd: RedisSetClient = { set: async () => 'QUEUED' as never }
  const e = await refusal(() => instance(odd).check(request(proof(key, now()))))
  t.equal(e?.reason, 'dpop_store_unavailable')
  t.equal(e?.detail, 'store_error')
  t.throws(() => new RedisReplayStore(undefined as never), TypeError)
  t.throws(() => new RedisReplayStore({} as never), TypeError)
  t.throws(() => new RedisReplayStore({ set: async () => 'OK' }, { prefix: 1 as never }), TypeError)
})
