// Replay stores through Fastify (RFC 9449 §11.1): the default in-memory store refuses a replay, lets
// its entries go with the proof window, and answers 503 with Retry-After when full (never evicting);
// a custom store that throws, rejects, answers nonsense or never answers gives a 503 within
// replayTimeout, never another 5xx, never an unchecked proof, and the handler never runs.
import t, { type Test } from 'tap'
import type { AxiomsOptions } from '../../index.js'
import { createTestIssuer, generateDpopKey } from '../../testing.js'
import { logSink } from '../attacks/harness.js'
import { passed, proofFault, refused, rig, type Rig, sleep, STORE_DOWN } from './http.js'

const idp = await createTestIssuer()
t.teardown(() => idp.close())

const nowSeconds = (): number => Math.floor(Date.now() / 1000)

interface Logged { lines: string[], debug: () => Array<Record<string, unknown>> }

async function logged (t: Test, options: AxiomsOptions): Promise<Rig & Logged> {
  const { stream, lines } = logSink()
  const s = await rig(t, { idp, options, fastify: { logger: { level: 'debug', stream } } })
  const debug = (): Array<Record<string, unknown>> => lines.map(l => JSON.parse(l) as Record<string, unknown>).filter(l => l.msg === 'axioms: request refused')
  return Object.assign(s, { lines, debug })
}

t.test('the memory store: a proof is accepted once per key; a jti reused by another key is its own', async t => {
  const s = await rig(t, { idp })
  const token = s.bound()
  const proof = s.proof(token)
  passed(t, await s.dpop(token, '/items', { proof }), 'first use')
  refused(t, await s.dpop(token, '/items', { proof }), proofFault('DPoP proof replayed'), 'the same proof again')
  refused(t, await s.dpop(s.bound(), '/items', { proof }), proofFault('DPoP proof access token hash mismatch'), 'the proof with another token of the key')
  // The jti is remembered with the key: a new proof reusing it, for another route, is a replay too.
  const jti = 'reused-jti'
  passed(t, await s.dpop(token, '/items', { jti }), 'a jti, first time')
  refused(t, await s.dpop(token, '/any', { jti }), proofFault('DPoP proof replayed'), 'the jti again in a fresh proof, another URL')
  const other = generateDpopKey('ES256')
  passed(t, await s.dpop(s.bound({}, other), '/items', { jti, key: other }), 'the same jti under another key')
})

t.test('the memory store: entries go with the proof window; full of live entries it answers 503, never evicting', async t => {
  // A one-second window and room for two proofs; start early in a second so both share their iat.
  await sleep(1000 - (Date.now() % 1000) + 20)
  const s = await logged(t, { dpop: { iatOffset: 1, iatLeeway: 0, replayCacheSize: 2 } })
  const token = s.bound()
  const iat = nowSeconds()
  const first = s.proof(token, '/items', { iat })
  passed(t, await s.dpop(token, '/items', { proof: first }), 'one')
  passed(t, await s.dpop(token, '/items', { iat }), 'two')
  const full = await s.dpop(token, '/items', { iat })
  refused(t, full, { ...STORE_DOWN, retryAfter: full.headers['retry-after'] as string }, 'a third while two are live')
  t.match(full.headers['retry-after'], /^[12]$/, 'Retry-After: the seconds until the first entry expires')
  t.match(s.debug().at(-1), { reason: 'dpop_store_full', cause: 'full' }, 'logged at debug with its cause')
  refused(t, await s.dpop(token, '/items', { proof: first }), proofFault('DPoP proof replayed'), 'a full store still refuses a replay')

  // Entries expire at iat + iatOffset + iatLeeway + 1 s: by then the proof is too old anyway.
  await sleep((iat + 2) * 1000 + 100 - Date.now())
  passed(t, await s.dpop(token), 'room again once the entries have expired')
  refused(t, await s.dpop(token, '/items', { proof: first }), proofFault('DPoP proof is not recent'), 'the expired proof is too old to be replayed')
  t.equal(s.app.axioms.stats().refusedBy.dpop_store_full, 1)
})

interface StoreCase { label: string, claim: () => unknown, detail: string }

const storeCases: StoreCase[] = [
  { label: 'throws', claim: () => { throw new Error('ECONNREFUSED') }, detail: 'store_error' },
  { label: 'rejects', claim: async () => { throw new Error('ECONNRESET') }, detail: 'store_error' },
  { label: 'answers "OK"', claim: () => 'OK', detail: 'bad_answer' },
  { label: 'answers undefined', claim: () => undefined, detail: 'bad_answer' },
  { label: 'answers 1 later', claim: async () => 1, detail: 'bad_answer' },
  { label: 'answers null later', claim: async () => null, detail: 'bad_answer' },
  { label: 'answers a thenable whose then throws', claim: () => ({ get then (): never { throw new Error('no then') } }), detail: 'store_error' },
  { label: 'never answers', claim: () => new Promise(() => {}), detail: 'timeout' }
]

t.test('a custom store that fails in any way: 503 within replayTimeout, handler not run', async t => {
  for (const c of storeCases) {
    const s = await logged(t, { dpop: { replayStore: { claim: c.claim as () => boolean }, replayTimeout: '200ms' } })
    const started = Date.now()
    const out = await s.dpop(s.bound())
    const took = Date.now() - started
    refused(t, out, STORE_DOWN, c.label)
    // Generous for a shared CI machine: what matters is that it is bounded, not how fast it is.
    t.ok(took < 5000, `${c.label}: answered in ${took} ms`)
    if (c.detail === 'timeout') t.ok(took >= 190, `${c.label}: waited for replayTimeout (${took} ms)`)
    t.match(s.debug().at(-1), { reason: 'dpop_store_unavailable', cause: c.detail }, `${c.label}: the cause in the debug log`)
    const stats = s.app.axioms.stats()
    t.equal(stats.refusedBy.dpop_store_unavailable, 1, `${c.label}: counted as a refusal`)
    t.equal(stats.internalErrors, 0, `${c.label}: not an internal error`)
    passed(t, await s.bearer(s.plain()), `${c.label}: Bearer requests do not need the store`)
  }
})

t.test('a custom asynchronous store that works: accepted, replays refused, with nonces the 503 carries the nonce', async t => {
  const seen = new Map<string, number>()
  const calls: Array<[string, number]> = []
  const s = await rig(t, {
    idp,
    options: {
      dpop: {
        replayStore: {
          claim: async (key, expiresAt) => {
            calls.push([key, expiresAt])
            if (seen.has(key)) return false
            seen.set(key, expiresAt)
            return true
          }
        }
      }
    }
  })
  const token = s.bound()
  const proof = s.proof(token)
  passed(t, await s.dpop(token, '/items', { proof }), 'accepted after the store\'s answer')
  refused(t, await s.dpop(token, '/items', { proof }), proofFault('DPoP proof replayed'), 'a replay')
  t.equal(calls.length, 2)
  t.match(calls[0]?.[0], /^[A-Za-z0-9_-]{43}$/, 'a fixed-length key')
  const iat = JSON.parse(Buffer.from(proof.split('.')[1] as string, 'base64url').toString()).iat as number
  t.equal(calls[0]?.[1], (iat + 300 + 30) * 1000 + 1000, 'kept for iat + iatOffset + iatLeeway, and a second')
  // Only proofs good in every other respect reach the store.
  refused(t, await s.dpop(token, '/items', { claims: { htm: 'POST' } }), proofFault('DPoP proof method mismatch'), 'a bad proof')
  t.equal(calls.length, 2, 'the bad proof never reached the store')

  const n = await rig(t, { idp, options: { dpop: { nonce: true, replayStore: { claim: () => { throw new Error('down') } } } } })
  const first = await n.dpop(n.bound())
  const nonce = first.headers['dpop-nonce'] as string
  refused(t, await n.dpop(n.bound(), '/items', { nonce }), { ...STORE_DOWN, nonce }, 'with nonces on, the 503 carries the current nonce')
})
