// verifyBatch: the signature checks of one event-loop turn run together in the check phase, then
// their requests go on together. Batching changes when a token is checked, never the answer.
import t, { type Test } from 'tap'
import { AsyncLocalStorage } from 'node:async_hooks'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import axioms, { type AxiomsOptions, VERIFY_CHANNEL } from '../index.js'
import { TurnBatch } from '../lib/batch.js'
import { createTestIssuer, type TestIssuer } from '../testing.js'

const turn = (): Promise<void> => new Promise(resolve => setImmediate(resolve))

t.test('TurnBatch runs a turn\'s items in the check phase, all before any caller resumes', async t => {
  const events: string[] = []
  const batch = new TurnBatch<number, number>(16, n => { events.push(`work ${n}`); return n * 2 })
  const results = [1, 2, 3].map(async n => {
    const doubled = await batch.push(n)
    events.push(`resume ${n}`)
    return doubled
  })
  await Promise.resolve()
  t.same(events, [], 'nothing runs in the pushing turn, nor in its microtasks')
  t.same(await Promise.all(results), [2, 4, 6])
  t.same(events, ['work 1', 'work 2', 'work 3', 'resume 1', 'resume 2', 'resume 3'])
})

t.test('a full batch runs at once; the rest waits for the check phase', async t => {
  const seen: number[] = []
  const batch = new TurnBatch<number, number>(3, n => { seen.push(n); return n })
  const pending = [1, 2, 3, 4].map(async n => batch.push(n))
  t.same(seen, [1, 2, 3], 'the third push ran the batch synchronously')
  await turn()
  t.same(seen, [1, 2, 3, 4])
  t.same(await Promise.all(pending), [1, 2, 3, 4])
  // A later turn schedules its own flush.
  const later = batch.push(5)
  t.same(seen, [1, 2, 3, 4])
  t.equal(await later, 5)
})

t.test('one failing item fails alone; promises pass through', async t => {
  const batch = new TurnBatch<string, string>(16, s => {
    if (s === 'throw') throw new Error('sync failure')
    if (s === 'reject') return Promise.reject(new Error('async failure'))
    if (s === 'later') return new Promise(resolve => setTimeout(() => resolve('late'), 5))
    return s
  })
  const [a, b, c, d] = await Promise.allSettled(['a', 'throw', 'reject', 'later'].map(async s => batch.push(s)))
  t.same(a, { status: 'fulfilled', value: 'a' })
  t.equal(b?.status === 'rejected' && (b.reason as Error).message, 'sync failure')
  t.equal(c?.status === 'rejected' && (c.reason as Error).message, 'async failure')
  t.same(d, { status: 'fulfilled', value: 'late' })
})

interface Rig { app: FastifyInstance, idp: TestIssuer, events: string[] }

// An app whose route and the verification channel write to one event log.
async function rig (t: Test, options: AxiomsOptions = {}): Promise<Rig> {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, { audience: 'your-api-audience', issuer: idp.issuer, env: {}, ...options })
  const events: string[] = []
  // Marks the end of the turn the requests arrived in: the check phase begins.
  let marked = false
  app.addHook('onRequest', (_request, _reply, done) => {
    if (!marked) {
      marked = true
      setImmediate(() => { marked = false; events.push('check phase') })
    }
    done()
  })
  app.get('/p', { config: { axioms: {} } }, async request => {
    const claims = request.authJwt
    const sub = claims === null || claims === false ? '-' : String(claims.sub)
    events.push(`handler ${sub}`)
    return { sub }
  })
  await app.ready()
  const onVerify = (m: unknown): void => {
    const msg = m as { ok: boolean, reason?: string }
    events.push(msg.ok ? 'verified' : `refused ${String(msg.reason)}`)
  }
  subscribe(VERIFY_CHANNEL, onVerify)
  t.teardown(() => unsubscribe(VERIFY_CHANNEL, onVerify))
  return { app, idp, events }
}

const get = async (s: Rig, token: string): Promise<LightMyRequestResponse> =>
  s.app.inject({ url: '/p', headers: { authorization: `Bearer ${token}` } })

t.test('the tokens of one turn are checked together, then their handlers run; answers unchanged', async t => {
  const s = await rig(t)
  const bad = s.idp.sign({ sub: 'x' }).slice(0, -4) + 'AAAA'
  const tokens = [s.idp.sign({ sub: 'a' }), bad, s.idp.sign({}, { kid: 'nope' }), s.idp.sign({ sub: 'b' })]
  const res = await Promise.all(tokens.map(async token => get(s, token)))
  t.same(res.map(r => r.statusCode), [200, 401, 401, 200])
  t.equal(res[1]?.json().error_description, 'Invalid token signature')
  t.match(res[2]?.headers['www-authenticate'], /error="invalid_token"/)
  // The unknown kid waits for its key set refetch; the others do not wait for it.
  t.same(s.events, ['check phase', 'verified', 'refused bad_signature', 'verified', 'handler a', 'handler b', 'refused unknown_kid'])
  t.equal(s.idp.requests.jwks, 2, 'the prefetch, then the refetch for the unknown kid')
})

t.test('verifyBatch: 0 checks each token as its request arrives', async t => {
  const s = await rig(t, { verifyBatch: 0 })
  const res = await Promise.all(['a', 'b', 'c'].map(async sub => get(s, s.idp.sign({ sub }))))
  t.same(res.map(r => r.statusCode), [200, 200, 200])
  await turn()
  t.same(s.events, ['verified', 'verified', 'verified', 'handler a', 'handler b', 'handler c', 'check phase'], 'checked in the turn the requests arrived in')
  const bad = await get(s, s.idp.sign({}).slice(0, -4) + 'AAAA')
  t.equal(bad.statusCode, 401)
  t.equal(bad.json().error_description, 'Invalid token signature')
  // A key that must be fetched first: after a rotation, the refetch finds it.
  s.idp.rotate({ keepOld: true })
  t.equal((await get(s, s.idp.sign({ sub: 'f' }))).statusCode, 200)
  t.equal(s.idp.requests.jwks, 2)
})

t.test('a full batch goes on at once, the rest in the check phase', async t => {
  const s = await rig(t, { verifyBatch: 2 })
  const res = await Promise.all(['a', 'b', 'c', 'd', 'e'].map(async sub => get(s, s.idp.sign({ sub }))))
  t.same(res.map(r => r.statusCode), [200, 200, 200, 200, 200])
  t.same(s.events, ['verified', 'verified', 'verified', 'verified', 'handler a', 'handler b', 'handler c', 'handler d', 'check phase', 'verified', 'handler e'])
})

t.test('a tokenCache hit does not wait for the batch', async t => {
  const s = await rig(t, { tokenCache: 10 })
  const warm = s.idp.sign({ sub: 'w' })
  t.equal((await get(s, warm)).statusCode, 200)
  s.events.length = 0
  await turn()
  s.events.length = 0
  const res = await Promise.all([s.idp.sign({ sub: 'x' }), warm, s.idp.sign({ sub: 'y' })].map(async token => get(s, token)))
  t.same(res.map(r => r.statusCode), [200, 200, 200])
  t.same(s.events, ['handler w', 'check phase', 'verified', 'verified', 'handler x', 'handler y'])
  t.equal(s.app.axioms.stats().cacheHits, 1)
})

t.test('a burst over a real socket: every answer right, every handler once', async t => {
  const s = await rig(t)
  await s.app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(s.app.server.address() as AddressInfo).port}/p`
  const good = Array.from({ length: 40 }, (_, i) => s.idp.sign({ sub: `u${i}` }))
  const bad = Array.from({ length: 10 }, (_, i) => s.idp.sign({ sub: `b${i}` }).slice(0, -4) + 'AAAA')
  const all = good.flatMap((token, i) => i < bad.length ? [token, bad[i] as string] : [token])
  const res = await Promise.all(all.map(async token => {
    const r = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) })
    return [token, r.status, await r.json() as { sub?: string }] as const
  }))
  for (const [token, status, body] of res) {
    const i = good.indexOf(token)
    t.equal(status, i === -1 ? 401 : 200)
    // Each request got its own token's claims.
    if (i !== -1) t.equal(body.sub, `u${i}`)
  }
  const handled = s.events.filter(e => e.startsWith('handler')).sort()
  t.same(handled, good.map((_, i) => `handler u${i}`).sort(), 'each good token reached the handler once')
})

t.test('each token is checked in its own request\'s async context', async t => {
  for (const verifyBatch of [16, 2]) {
    const als = new AsyncLocalStorage<string>()
    const idp = await createTestIssuer()
    t.teardown(() => idp.close())
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(axioms, { audience: 'your-api-audience', issuer: idp.issuer, env: {}, verifyBatch })
    // Each request runs its hooks inside a store naming its own token (as request-context plugins do).
    app.addHook('onRequest', (request, _reply, done) => { als.run(String(request.headers['x-id']), done) })
    app.get('/p', { config: { axioms: {} } }, async () => ({ ok: true }))
    await app.ready()
    const seen: Array<[string | undefined, unknown]> = []
    const onVerify = (m: unknown): void => { seen.push([als.getStore(), (m as { jti?: string }).jti]) }
    subscribe(VERIFY_CHANNEL, onVerify)
    t.teardown(() => unsubscribe(VERIFY_CHANNEL, onVerify))
    const ids = ['a', 'b', 'c', 'd', 'e']
    const res = await Promise.all(ids.map(async id => app.inject({ url: '/p', headers: { authorization: `Bearer ${idp.sign({ jti: id })}`, 'x-id': id } })))
    unsubscribe(VERIFY_CHANNEL, onVerify)
    t.same(res.map(r => r.statusCode), [200, 200, 200, 200, 200])
    t.same(seen, ids.map(id => [id, id]), `verifyBatch ${verifyBatch}: each verification saw its own request's store`)
  }
})

t.test('app.axioms.verify is not batched', async t => {
  const s = await rig(t)
  const pending = s.app.axioms.verify(s.idp.sign({ sub: 'v' }))
  t.same(s.events, ['verified'], 'checked before verify() returned')
  t.equal((await pending).sub, 'v')
})
