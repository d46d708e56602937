// tokenCache: an LRU of verified tokens keyed by the whole token. An entry never outlives the
// token's exp, its key's presence in the JWKS, or jwksCacheTtl without a good fetch.
import t from 'tap'
import { TokenCache } from '../lib/cache.js'
import { is401, is503, rig, sleep } from './jwks-helpers.js'

t.test('TokenCache is a bounded LRU', async t => {
  const c = new TokenCache<number>(2)
  c.set('a', 1)
  c.set('b', 2)
  t.equal(c.get('a'), 1, 'a is now the most recent')
  c.set('c', 3)
  t.equal(c.size, 2)
  t.equal(c.get('b'), undefined, 'b, least recently used, was evicted')
  t.equal(c.get('a'), 1)
  c.set('a', 10)
  t.equal(c.get('a'), 10, 'set replaces')
  t.equal(c.size, 2)
  c.delete('a')
  t.equal(c.size, 1)
  c.clear()
  t.equal(c.size, 0)
  t.equal(c.get('zzz'), undefined)
})

t.test('the plugin cache is bounded by tokenCache', async t => {
  const s = await rig(t, { tokenCache: 3 })
  for (let i = 0; i < 10; i++) t.equal((await s.call(s.idp.sign({ sub: `u${i}` }))).statusCode, 200)
  t.equal(s.app.axioms.stats().tokenCacheSize, 3)
  const off = await rig(t)
  await off.call(off.idp.sign({}))
  t.equal(off.app.axioms.stats().tokenCacheSize, 0, 'off by default')
})

t.test('a cached token answers again without another key lookup, and clears on close', async t => {
  const s = await rig(t, { tokenCache: 10 })
  const token = s.idp.sign({ sub: 'u' })
  t.equal((await s.call(token)).statusCode, 200)
  s.idp.setMode('down')
  t.equal((await s.call(token)).statusCode, 200)
  t.equal(s.idp.requests.jwks, 1)
  t.equal(s.app.axioms.stats().tokenCacheSize, 1)
  await s.app.close()
  t.equal(s.app.axioms.stats().tokenCacheSize, 0)
})

t.test('app.axioms.verify answers a cached token from the cache too', async t => {
  const s = await rig(t, { tokenCache: 10 })
  const token = s.idp.sign({ sub: 'u' })
  const first = await s.app.axioms.verify(token)
  t.equal(await s.app.axioms.verify(token), first, 'the same frozen claims')
  t.match(s.app.axioms.stats(), { verified: 1, cacheHits: 1, refused: 0, tokenCacheSize: 1 }, 'one signature check')
})

t.test('an entry never outlives exp', async t => {
  const s = await rig(t, { tokenCache: 10 })
  // Two seconds of life, so a busy machine still verifies it once before it expires.
  const exp = Math.floor(Date.now() / 1000) + 2
  const token = s.idp.sign({ sub: 'u', exp })
  t.equal((await s.call(token)).statusCode, 200)
  t.equal(s.app.axioms.stats().tokenCacheSize, 1)
  await sleep(exp * 1000 - Date.now() + 50)
  is401(t, await s.call(token), { error: 'invalid_token', error_description: 'Token has expired' })
  t.equal(s.calls(), 1)
})

t.test('an entry is dropped when its key leaves the JWKS after a refresh', async t => {
  const s = await rig(t, { tokenCache: 10 })
  const token = s.idp.sign({ sub: 'u' })
  t.equal((await s.call(token)).statusCode, 200)
  s.idp.rotate({ keepOld: true })
  await s.app.axioms.refresh()
  t.equal((await s.call(token)).statusCode, 200, 'still published: still cached')
  s.idp.rotate()
  await s.app.axioms.refresh()
  is401(t, await s.call(token))
  t.equal(s.calls(), 2)
})

t.test('a cached token stops working once the set is older than jwksCacheTtl', async t => {
  const s = await rig(t, { tokenCache: 10, jwksRefreshInterval: 1, jwksCacheTtl: 2, jwksCooldown: 0.2, jwksTimeout: '300ms' })
  await s.app.ready()
  const fetched = Date.now()
  const token = s.idp.sign({ sub: 'u' })
  t.equal((await s.call(token)).statusCode, 200)
  s.idp.setMode('down')
  await sleep(fetched + 2300 - Date.now())
  is503(t, await s.call(token))
  t.equal(s.calls(), 1)
})

t.test('same sub and jti, different scope: judged separately', async t => {
  const s = await rig(t, { tokenCache: 10 })
  let writes = 0
  s.app.post('/w', { config: { axioms: { scopes: ['write'] } } }, async () => { writes++; return { ok: true } })
  const claims = { sub: 'u', jti: 'same-jti' }
  const rw = s.idp.sign({ ...claims, scope: 'read write' })
  const ro = s.idp.sign({ ...claims, scope: 'read' })
  const post = async (token: string) => s.app.inject({ method: 'POST', url: '/w', headers: { authorization: `Bearer ${token}` } })
  t.equal((await post(rw)).statusCode, 200)
  t.equal((await post(ro)).statusCode, 403)
  t.equal((await post(rw)).statusCode, 200)
  t.equal((await post(ro)).statusCode, 403)
  t.equal(writes, 2)
})

t.test('a tampered copy of a cached token is verified, not served from the cache', async t => {
  const s = await rig(t, { tokenCache: 10 })
  const token = s.idp.sign({ sub: 'u' })
  t.equal((await s.call(token)).statusCode, 200)
  const [h, p, sig] = token.split('.') as [string, string, string]
  const last = sig.at(-1) === 'A' ? 'B' : 'A'
  const res = await s.call(`${h}.${p}.${sig.slice(0, -1)}${last}`)
  t.equal(res.statusCode, 401)
})
