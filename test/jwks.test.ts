// Where keys come from and how the set follows the issuer: discovery (issuer compared), the
// jwks.json fallback, explicit jwksUri, rotation, the unknown-kid cooldown, one fetch per cold
// burst, prefetch on ready and the background refresh timer. Real issuer on 127.0.0.1.
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { signJws, generateTestKey } from '../testing.js'
import { INVALID, is401, is503, issuer, rig, sleep, until } from './jwks-helpers.js'

t.test('discovery: used when no jwksUri is configured', async t => {
  const s = await rig(t)
  await s.app.ready()
  t.same(s.idp.requests, { jwks: 1, discovery: 1 }, 'prefetched on ready through discovery')
  t.equal((await s.call(s.idp.sign({ sub: 'u' }))).statusCode, 200)
  t.same(s.idp.requests, { jwks: 1, discovery: 1 })
  t.equal(s.app.axioms.stats().issuers[0]?.jwksUri, s.idp.jwksUri)
  t.same(s.idp.log.map(r => r.document), ['discovery', 'jwks'])
})

t.test('discovery: the document names another jwks_uri; it is followed', async t => {
  const keysHost = await issuer(t)
  const s = await rig(t, { jwksPrefetch: false })
  s.idp.setDiscovery({ issuer: s.idp.issuer, jwks_uri: keysHost.jwksUri })
  const token = signJws({ alg: 'RS256', kid: keysHost.keys[0]?.kid, typ: 'JWT' }, JSON.parse(Buffer.from((s.idp.sign({ sub: 'u' }).split('.')[1] as string), 'base64url').toString()), keysHost.keys[0]!)
  t.equal((await s.call(token)).statusCode, 200)
  t.equal(s.idp.requests.jwks, 0)
  t.equal(keysHost.requests.jwks, 1)
  t.equal((await s.call(s.idp.sign({ sub: 'u' }))).statusCode, 401, "the issuer's own keys are not the published set")
})

t.test('discovery: a document whose issuer differs is refused; ready still succeeds', async t => {
  const s = await rig(t)
  s.idp.setDiscovery({ issuer: 'https://evil.example', jwks_uri: s.idp.jwksUri })
  await s.app.ready() // register/ready does not fail
  t.same(s.idp.requests, { jwks: 0, discovery: 1 }, 'the JWKS is never fetched')
  const warn = s.logs.find(l => l.cause !== undefined && l.level === 40)
  t.equal(warn?.cause, 'discovery_issuer_mismatch', 'prefetch failure is logged at warn')
  t.equal(warn?.stage, 'discovery', 'the warning names the stage')
  t.equal(warn?.url, `${s.idp.issuer}/.well-known/openid-configuration`, 'and the URL tried')
  t.equal(warn?.status, 200)
  t.equal(warn?.msg, `axioms: OIDC discovery for ${s.idp.issuer} failed: GET ${s.idp.issuer}/.well-known/openid-configuration answered HTTP 200 (application/json, ${String(warn?.bytes)} bytes), a document whose "issuer" is not this issuer`)
  t.type(warn?.bytes, 'number')
  const res = await s.call(s.idp.sign({ sub: 'u' }))
  is503(t, res)
  t.equal(s.calls(), 0)
  t.equal(s.idp.requests.jwks, 0)
})

t.test('discovery: unusable documents give 503, never a guessed location', async t => {
  for (const [name, doc] of [
    ['no jwks_uri', (iss: string) => ({ issuer: iss })],
    ['non-http jwks_uri', (iss: string) => ({ issuer: iss, jwks_uri: 'file:///etc/passwd' })],
    ['not an object', () => '[1,2]'],
    ['null', () => 'null'],
    ['issuer not a string', () => ({ issuer: 7, jwks_uri: 'http://127.0.0.1:1/' })]
  ] as const) {
    const s = await rig(t, { jwksPrefetch: false })
    s.idp.setDiscovery(doc(s.idp.issuer))
    is503(t, await s.call(s.idp.sign({ sub: 'u' })), name)
    t.equal(s.idp.requests.jwks, 0, `${name}: no JWKS fetch`)
  }
  const s = await rig(t, { jwksPrefetch: false })
  s.idp.setMode('status')
  is503(t, await s.call(s.idp.sign({ sub: 'u' })), 'discovery 500 is an outage, not a missing document')
  t.same(s.idp.requests, { jwks: 0, discovery: 1 })
})

t.test('no discovery document (404): falls back to {issuer}/.well-known/jwks.json', async t => {
  const idp = await issuer(t, { discovery: false })
  const s = await rig(t, {}, idp)
  await s.app.ready()
  t.equal(idp.requests.jwks, 1)
  t.equal(idp.requests.discovery, 0)
  t.equal((await s.call(idp.sign({ sub: 'u' }))).statusCode, 200)
  t.equal(s.calls(), 1)
})

t.test('an issuer with a path and a trailing slash: discovery under the path', async t => {
  const idp = await issuer(t, { discovery: false })
  const iss = `${idp.url}/`
  const s = await rig(t, { issuer: iss, jwksPrefetch: false }, idp)
  t.equal((await s.call(idp.sign({ sub: 'u', iss }))).statusCode, 200)
  t.equal(idp.requests.jwks, 1)
})

t.test('explicit jwksUri wins over discovery', async t => {
  const idp = await issuer(t)
  idp.setDiscovery({ issuer: 'https://evil.example', jwks_uri: 'http://127.0.0.1:1/' })
  const s = await rig(t, { jwksUri: idp.jwksUri }, idp)
  await s.app.ready()
  t.same(idp.requests, { jwks: 1, discovery: 0 })
  t.equal((await s.call(idp.sign({ sub: 'u' }))).statusCode, 200)
})

t.test('rotation: a new kid is fetched once, on its first token', async t => {
  const s = await rig(t)
  await s.app.ready()
  const old = s.idp.sign({ sub: 'u' })
  s.idp.rotate({ keepOld: true })
  const fresh = s.idp.sign({ sub: 'u' })
  const results = await Promise.all([s.call(fresh), s.call(fresh), s.call(s.idp.sign({ sub: 'v' }))])
  t.same(results.map(r => r.statusCode), [200, 200, 200])
  t.equal(s.idp.requests.jwks, 2, 'one refetch for the new kid')
  t.equal((await s.call(old)).statusCode, 200, 'a key still published keeps working')
  t.equal((await s.call(fresh)).statusCode, 200)
  t.equal(s.idp.requests.jwks, 2)
})

t.test('rotation: a removed key stops working after a miss-triggered refetch', async t => {
  const s = await rig(t)
  await s.app.ready()
  const old = s.idp.sign({ sub: 'u' })
  t.equal((await s.call(old)).statusCode, 200)
  s.idp.rotate()
  t.equal((await s.call(old)).statusCode, 200, 'until the set is refetched, the cached key verifies')
  t.equal((await s.call(s.idp.sign({ sub: 'u' }))).statusCode, 200, 'new kid: refetch')
  t.equal(s.idp.requests.jwks, 2)
  is401(t, await s.call(old))
  t.equal(s.idp.requests.jwks, 2, 'the now-unknown kid is in cooldown: no fetch')
  t.equal(s.calls(), 3)
})

t.test('rotation: a removed key stops working after the background refresh', async t => {
  const s = await rig(t, { jwksRefreshInterval: 1, jwksCacheTtl: 30, jwksCooldown: 30 })
  await s.app.ready()
  const old = s.idp.sign({ sub: 'u' })
  t.equal((await s.call(old)).statusCode, 200)
  const fetchedAt = s.app.axioms.stats().issuers[0]?.fetchedAt ?? 0
  s.idp.rotate()
  // Wait for the refreshed set to be installed, not just requested.
  t.ok(await until(() => (s.app.axioms.stats().issuers[0]?.fetchedAt ?? 0) > fetchedAt), 'background refresh ran')
  const before = s.idp.requests.jwks
  const res = await s.call(old)
  is401(t, res)
  t.ok(s.idp.requests.jwks <= before + 1)
  t.equal(s.calls(), 1)
})

t.test('cooldown: a burst of distinct unknown kids causes at most one refetch', async t => {
  const s = await rig(t, { jwksCooldown: 30 })
  await s.app.ready()
  t.equal(s.idp.requests.jwks, 1)
  const burst = await Promise.all(Array.from({ length: 50 }, (_, i) => s.call(s.idp.sign({ sub: 'u' }, { kid: `unknown-${i}` }))))
  for (const r of burst) t.same([r.statusCode, r.json()], [401, INVALID])
  t.equal(s.idp.requests.jwks, 2, 'one refetch for 50 unknown kids')
  for (let i = 0; i < 20; i++) await s.call(s.idp.sign({ sub: 'u' }, { kid: `later-${i}` }))
  t.equal(s.idp.requests.jwks, 2, 'later unknown kids within the cooldown: no fetch')
  const stats = s.app.axioms.stats().issuers[0]
  t.ok((stats?.cooldownHits ?? 0) >= 20)
  t.equal(stats?.fetches, 2)
  t.equal((await s.call(s.idp.sign({ sub: 'u' }))).statusCode, 200, 'known kids are unaffected')
  t.equal(s.calls(), 1)
})

t.test('cooldown: after it passes, one more refetch is allowed', async t => {
  const s = await rig(t, { jwksCooldown: 0.3 })
  await s.app.ready()
  await s.call(s.idp.sign({}, { kid: 'nope-1' }))
  await s.call(s.idp.sign({}, { kid: 'nope-2' }))
  t.equal(s.idp.requests.jwks, 2)
  await sleep(450)
  s.idp.rotate({ keepOld: true })
  t.equal((await s.call(s.idp.sign({ sub: 'u' }))).statusCode, 200, 'a real rotation is picked up after the cooldown')
  t.equal(s.idp.requests.jwks, 3)
})

t.test('cooldown: background (and manual) refreshes do not start one', async t => {
  const s = await rig(t, { jwksCooldown: 30 })
  await s.app.ready()
  await s.app.axioms.refresh()
  t.equal(s.idp.requests.jwks, 2)
  s.idp.rotate({ keepOld: true })
  t.equal((await s.call(s.idp.sign({ sub: 'u' }))).statusCode, 200, 'first unknown kid after a refresh refetches at once')
  t.equal(s.idp.requests.jwks, 3)
  t.equal(s.app.axioms.stats().issuers[0]?.cooldownHits, 0)

  const timed = await rig(t, { jwksCooldown: 30, jwksRefreshInterval: 1, jwksCacheTtl: 30 })
  await timed.app.ready()
  t.ok(await until(() => timed.idp.requests.jwks >= 2), 'a timer refresh ran')
  timed.idp.rotate({ keepOld: true })
  t.equal((await timed.call(timed.idp.sign({ sub: 'u' }))).statusCode, 200)
  t.equal(timed.app.axioms.stats().issuers[0]?.cooldownHits, 0)
})

t.test('cold burst: 200 concurrent requests with no key set share ONE fetch', async t => {
  const s = await rig(t, { jwksPrefetch: false })
  s.idp.setDelay(100)
  await s.app.ready()
  t.same(s.idp.requests, { jwks: 0, discovery: 0 }, 'no prefetch')
  const token = s.idp.sign({ sub: 'u' })
  const results = await Promise.all(Array.from({ length: 200 }, () => s.call(token)))
  t.same(new Set(results.map(r => r.statusCode)), new Set([200]))
  t.same(s.idp.requests, { jwks: 1, discovery: 1 })
  t.equal(s.calls(), 200)
})

t.test('cold burst of unknown kids: one fetch, then 401s', async t => {
  const s = await rig(t, { jwksPrefetch: false })
  s.idp.setDelay(50)
  const results = await Promise.all(Array.from({ length: 30 }, (_, i) => s.call(s.idp.sign({}, { kid: `x${i}` }))))
  for (const r of results) t.same([r.statusCode, r.json()], [401, INVALID])
  t.equal(s.idp.requests.jwks, 1)
})

t.test('a key signed by a key of another issuer is never fetched from elsewhere', async t => {
  const s = await rig(t)
  await s.app.ready()
  const stranger = generateTestKey('RS256', s.idp.keys[0]?.kid)
  const forged = s.idp.signRaw({ alg: 'RS256', kid: stranger.kid }, { iss: s.idp.issuer, aud: 'your-api-audience', exp: Math.floor(Date.now() / 1000) + 60 }, stranger)
  const res = await s.call(forged)
  t.equal(res.statusCode, 401)
  t.equal(res.json().error_description, 'Invalid token signature')
  t.equal(s.idp.requests.jwks, 1)
})

t.test('prefetch on ready, or not', async t => {
  const on = await rig(t)
  t.equal(on.idp.requests.jwks, 0, 'nothing before ready')
  await on.app.ready()
  t.equal(on.idp.requests.jwks, 1)
  t.equal(on.app.axioms.stats().issuers[0]?.keys, 1)
  const off = await rig(t, { jwksPrefetch: false })
  await off.app.ready()
  t.equal(off.idp.requests.jwks, 0)
  t.equal(off.app.axioms.stats().issuers[0]?.fetchedAt, null)
})

t.test('prefetch failure (issuer down) is logged, ready resolves, tokens get 503', async t => {
  const s = await rig(t)
  s.idp.setMode('down')
  await s.app.ready()
  const warn = s.logs.find(l => l.cause === 'network')
  t.equal(warn?.level, 40)
  t.equal(warn?.stage, 'discovery')
  t.match(warn?.msg, /^axioms: OIDC discovery for http:\/\/127\.0\.0\.1:\d+ failed: GET http:\/\/127\.0\.0\.1:\d+\/\.well-known\/openid-configuration could not be completed \(connection refused, reset or closed\)$/)
  t.notOk(JSON.stringify(s.logs).includes('Bearer'), 'no token in logs')
  is503(t, await s.call(s.idp.sign({ sub: 'u' })))
  t.equal(s.calls(), 0)
})

t.test('background refresh stops on app.close()', async t => {
  const s = await rig(t, { jwksRefreshInterval: 1, jwksCacheTtl: 2 })
  await s.app.ready()
  t.ok(await until(() => s.idp.requests.jwks >= 2), 'refreshing while open')
  await s.app.close()
  const after = s.idp.requests.jwks
  await sleep(2300)
  t.equal(s.idp.requests.jwks, after, 'no refresh after close')
})

t.test('background refresh timer is unref\'d: a process with a ready app exits by itself', async t => {
  const script = fileURLToPath(new URL('./fixtures/unref-app.ts', import.meta.url))
  // The same loaders as this test process (tap's TypeScript import), so coverage maps agree.
  const child = spawn(process.execPath, [...process.execArgv, script], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', d => { out += String(d) })
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  const code = await new Promise(resolve => child.on('exit', (c, sig) => resolve(sig ?? c)))
  clearTimeout(killer)
  t.equal(code, 0, 'exited on its own (not killed)')
  t.match(out, /status=200 fetches=1/)
})

t.test('diagnostics channel: fetch, fetch_failed, cooldown and stale events, nothing secret', async t => {
  const { subscribe, unsubscribe } = await import('node:diagnostics_channel')
  const { JWKS_CHANNEL } = await import('../index.js')
  const seen: Array<Record<string, unknown>> = []
  const listener = (m: unknown): void => { seen.push(m as Record<string, unknown>) }
  subscribe(JWKS_CHANNEL, listener)
  t.teardown(() => unsubscribe(JWKS_CHANNEL, listener))
  const s = await rig(t, { jwksRefreshInterval: 1, jwksCacheTtl: 30, jwksCooldown: 30 })
  await s.app.ready()
  const token = s.idp.sign({ sub: 'u' })
  await s.call(s.idp.sign({}, { kid: 'unknown-1' }))
  await s.call(s.idp.sign({}, { kid: 'unknown-2' }))
  s.idp.setMode('html')
  t.ok(await until(() => seen.some(m => m.issuer === s.idp.issuer && m.event === 'fetch_failed')))
  await sleep(1100)
  t.equal((await s.call(token)).statusCode, 200)
  const mine = seen.filter(m => m.issuer === s.idp.issuer)
  const events = new Set(mine.map(m => m.event))
  for (const e of ['fetch', 'fetch_failed', 'cooldown', 'stale']) t.ok(events.has(e), e)
  t.same(mine.find(m => m.event === 'fetch'), { issuer: s.idp.issuer, event: 'fetch', keys: 1 })
  t.same(mine.find(m => m.event === 'fetch_failed'), { issuer: s.idp.issuer, event: 'fetch_failed', cause: 'status_502', stage: 'jwks', url: s.idp.jwksUri, status: 502, contentType: 'text/html' })
  t.notMatch(JSON.stringify(mine), /Bad gateway|eyJ/, 'no IdP body, no token')
})
