// The Redis replay store through Fastify, against a real redis-server on 127.0.0.1 that the test
// starts and stops itself (Debian's package; .ci/run installs it): two app instances sharing it
// refuse each other's replays over real sockets, one acceptance out of many concurrent attempts;
// Redis stopped mid-test and a Redis that never answers both give a 503 within a bounded time.
import t, { type Test } from 'tap'
import { Redis, type RedisOptions } from 'ioredis'
import type { Duration } from '../../index.js'
import { RedisReplayStore } from '../../lib/dpop/redis.js'
import { createDpopProof, createTestIssuer, generateDpopKey, signDpopBoundToken } from '../../testing.js'
import { httpGet, listen } from '../attacks/harness.js'
import { dpopChallenge, passed, refused, rig, type Rig, STORE_DOWN } from './http.js'
import { startRedis, startSilentServer } from './redis-server.js'

const idp = await createTestIssuer()
t.teardown(() => idp.close())
const key = generateDpopKey('ES256')
// Both instances are reached under one name, as behind a load balancer.
const HOST = 'api.test'
const HTU = `http://${HOST}/items`

function client (t: Test, port: number, extra: RedisOptions = {}, defaults = false): Redis {
  // Reconnect quickly, give up on a command after one try (unless ioredis' defaults are asked for).
  const tuned: RedisOptions = defaults ? {} : { maxRetriesPerRequest: 1, retryStrategy: () => 50 }
  const c = new Redis({ host: '127.0.0.1', port, ...tuned, ...extra } as never)
  c.on('error', () => {})
  t.teardown(() => { c.disconnect() })
  return c
}

async function ready (c: Redis): Promise<void> {
  if (c.status !== 'ready') await new Promise<void>(resolve => c.once('ready', () => resolve()))
}

interface Instance { s: Rig, port: number }

async function instance (t: Test, redis: Redis, replayTimeout: Duration = '300ms'): Promise<Instance> {
  const s = await rig(t, { idp, options: { dpop: { replayStore: new RedisReplayStore(redis), replayTimeout } } })
  return { s, port: await listen(s.app) }
}

type Answer = Awaited<ReturnType<typeof httpGet>>

// node:http, not a half-closed raw socket: Node's server drops a response still pending (the
// store's answer) once the client has ended its side.
function send (i: Instance, token: string, proof: string): Promise<Answer> {
  return httpGet(i.port, '/items', { host: HOST, authorization: `DPoP ${token}`, dpop: proof })
}

const REPLAYED = { error: 'invalid_dpop_proof', error_description: 'DPoP proof replayed' }

t.test('two instances sharing one redis-server refuse each other\'s replays', async t => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const a = await instance(t, client(t, redis.port))
  const b = await instance(t, client(t, redis.port))
  const token = signDpopBoundToken(idp, key, { scope: 'items:read' })

  const p1 = createDpopProof(key, { htu: HTU, accessToken: token })
  t.equal((await send(a, token, p1)).status, 200, 'A accepts a fresh proof')
  const atB = await send(b, token, p1)
  t.equal(atB.status, 401, 'B refuses it')
  t.same(JSON.parse(atB.body), REPLAYED)
  t.equal(atB.headers['www-authenticate'], dpopChallenge('invalid_dpop_proof', 'DPoP proof replayed'))
  t.same(JSON.parse((await send(a, token, p1)).body), REPLAYED, 'and A refuses it again')
  const p2 = createDpopProof(key, { htu: HTU, accessToken: token })
  t.equal((await send(b, token, p2)).status, 200, 'B accepts another')
  t.same(JSON.parse((await send(a, token, p2)).body), REPLAYED, 'which A refuses')

  // The same proof sent to both at once, many times: SET NX lets exactly one through.
  const p3 = createDpopProof(key, { htu: HTU, accessToken: token })
  const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => send(i % 2 === 0 ? a : b, token, p3)))
  t.equal(answers.filter(r => r.status === 200).length, 1, 'one acceptance out of 12 concurrent attempts')
  t.ok(answers.every(r => r.status === 200 || JSON.parse(r.body).error_description === REPLAYED.error_description), 'the others are replays')
  t.equal(a.s.calls + b.s.calls, 3, 'handlers ran for the three accepted proofs only')
})

t.test('Redis stopped mid-test: 503 within a bounded time on both instances, Bearer unaffected', async t => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const queued = client(t, redis.port)
  const failFast = client(t, redis.port, { enableOfflineQueue: false, commandTimeout: 200 })
  const untouched = client(t, redis.port, {}, true)
  await Promise.all([ready(queued), ready(failFast), ready(untouched)])
  const a = await instance(t, queued)
  const b = await instance(t, failFast)
  // ioredis' defaults queue the command and retry for seconds: replayTimeout answers first.
  const c = await instance(t, untouched)
  for (const [label, i] of [['A', a], ['B', b], ['C', c]] as const) passed(t, await i.s.dpop(i.s.bound()), `${label} before`)
  await redis.stop()

  for (const [label, i] of [['offline queue, one retry', a], ['enableOfflineQueue: false, commandTimeout', b], ['ioredis defaults', c]] as const) {
    for (let n = 0; n < 3; n++) {
      const started = Date.now()
      const out = await i.s.dpop(i.s.bound())
      const took = Date.now() - started
      refused(t, out, STORE_DOWN, `${label} #${n}`)
      // An upper bound for a shared CI machine, not a performance threshold: no hang, no 5xx.
      t.ok(took < 5000, `${label} #${n}: answered in ${took} ms`)
    }
    passed(t, await i.s.bearer(i.s.plain()), `${label}: Bearer requests never ask the store`)
  }
})

t.test('a Redis that accepts connections and never answers: 503 within the deadline', async t => {
  const silent = await startSilentServer()
  t.teardown(() => silent.stop())
  for (const [label, extra] of [['no commandTimeout', {}], ['commandTimeout 100 ms', { commandTimeout: 100 }]] as const) {
    const i = await instance(t, client(t, silent.port, extra), '400ms')
    const started = Date.now()
    const out = await i.s.dpop(i.s.bound())
    const took = Date.now() - started
    refused(t, out, STORE_DOWN, label)
    t.ok(took < 5000, `${label}: answered in ${took} ms`)
  }
})

t.test('a full Redis under noeviction (its default) answers SET with an error: 503, never an accepted proof', async t => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const admin = client(t, redis.port)
  const i = await instance(t, client(t, redis.port))
  passed(t, await i.s.dpop(i.s.bound()), 'before')
  t.equal(await admin.config('GET', 'maxmemory-policy').then(r => (r as string[])[1]), 'noeviction')
  // A limit below what Redis already uses: every write is refused with OOM.
  await admin.config('SET', 'maxmemory', '1')
  refused(t, await i.s.dpop(i.s.bound()), STORE_DOWN, 'full')
  t.equal(i.s.calls, 1, 'the handler ran for the first proof only')
  await admin.config('SET', 'maxmemory', '0')
  passed(t, await i.s.dpop(i.s.bound()), 'room again')
})
