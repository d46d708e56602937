// SECURITY.md §8 G: issuers, JWKS and caching. Keys are looked up by (issuer, kid) only; the token
// never names a URL to fetch. JWKS faults are played by the local issuers (and one trickling host).
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import t from 'tap'
import axioms from '../../index.js'
import { createTestIssuer, generateTestKey, signJws } from '../../testing.js'
import {
  A_ISS, API, B_ISS, accepted, claimsV, createApi, createWorld, headerFor, now, optionsFor, refused, token
} from './harness.js'

const world = await createWorld()
t.teardown(() => world.close())
const { a, b } = world
const twoIssuers = {
  issuer: undefined,
  jwksUri: undefined,
  issuers: [{ issuer: A_ISS, jwksUri: a.jwksUri }, { issuer: B_ISS, jwksUri: b.jwksUri }]
}
const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

t.test('G1 issuers [A, B]: a B key with iss A is refused', async t => {
  const api = await createApi(t, world, { options: twoIssuers })
  const out = await api.get(token(world, { iss: A_ISS }, {}, world.k.b))
  refused(t, out, 'IAC', api.realm, { jwks: 1 }, 'k-b is unknown to A: one refresh of A')
  t.equal(out.jwksB, 0, 'B is not asked')
  accepted(t, await api.get(token(world, { iss: B_ISS }, {}, world.k.b)), 'the same key with iss B')
})

t.test('G2 both publish kid "shared": B\'s key with iss A is checked against A\'s key', async t => {
  const api = await createApi(t, world, { options: twoIssuers })
  const out = await api.get(token(world, { iss: A_ISS }, {}, world.k.sharedB))
  refused(t, out, 'SIG', api.realm)
  t.equal(out.jwksB, 0)
  accepted(t, await api.get(token(world, { iss: B_ISS }, {}, world.k.sharedB)), 'iss B')
  accepted(t, await api.get(token(world, { iss: A_ISS }, {}, world.k.shared)), 'iss A with A\'s shared')
})

t.test('G3 cache-key collisions (iss and kid with ":"): nothing planted for A', async t => {
  const api = await createApi(t, world, { options: twoIssuers })
  const mine = generateTestKey('RS256', 'k-rs:https://idp-a.test')
  const evil = signJws(headerFor(mine), claimsV({ iss: 'https://evil.test/?:https://idp-a.test' }), mine)
  refused(t, await api.get(evil), 'ISS', api.realm)
  for (const kid of ['k-rs:https://idp-a.test', 'https://idp-a.test:k-rs', 'RS256:k-rs:idp-a.test', `${B_ISS}:shared`]) {
    const forged = signJws(headerFor(mine, { kid }), claimsV(), mine)
    refused(t, await api.get(forged), 'IAC', api.realm, { jwks: null }, kid)
  }
  accepted(t, await api.get(token(world)), 'A\'s real key unaffected')
})

t.test('G4 iss of an unconfigured host serving a valid JWKS: Invalid token issuer, zero requests there', async t => {
  const rogue = await createTestIssuer({ audience: API })
  t.teardown(() => rogue.close())
  const api = await createApi(t, world)
  refused(t, await api.get(rogue.sign({ scope: 'items:read' })), 'ISS', api.realm)
  refused(t, await api.get(rogue.sign({ scope: 'items:read' }, { kid: 'k-rs' })), 'ISS', api.realm, {}, 'with kid k-rs')
  t.same(rogue.requests, { jwks: 0, discovery: 0 })
})

t.test('G5 discovery document naming another issuer: refused, prefetch warns, tokens get 503', async t => {
  const idp = await createTestIssuer({ issuer: 'https://other.test', audience: API })
  t.teardown(() => idp.close())
  const lines: string[] = []
  const { Writable } = await import('node:stream')
  const stream = new Writable({ write (c, _e, cb) { lines.push(...c.toString().split('\n').filter(Boolean)); cb() } })
  const app = Fastify({ logger: { level: 'warn', stream } })
  t.teardown(() => app.close())
  let calls = 0
  await app.register(axioms, { issuer: idp.url, audience: API, env: {} })
  app.get('/items', { config: { axioms: { scopes: ['items:read'] } } }, async () => { calls++; return {} })
  await app.ready()
  t.equal(idp.requests.discovery, 1, 'discovery fetched once at startup')
  t.equal(idp.requests.jwks, 0, 'the advertised jwks_uri is never used')
  t.ok(lines.some(l => /"level":40/.test(l) && l.includes('discovery_issuer_mismatch')), 'a warning with a fixed cause')
  const res = await app.inject({ url: '/items', headers: { authorization: `Bearer ${idp.sign({ iss: idp.url, scope: 'items:read' })}` } })
  t.equal(res.statusCode, 503)
  t.same(res.json(), { error: 'temporarily_unavailable', error_description: 'Unable to verify the access token right now' })
  t.match(res.headers['retry-after'], /^\d+$/)
  t.equal(res.headers['www-authenticate'], undefined)
  t.equal(calls, 0)
  t.equal(idp.requests.jwks, 0)
})

t.test('G6 a flood of 1,000 random kids: all refused, at most one fetch, bounded state', async t => {
  const api = await createApi(t, world)
  const keysBefore = api.app.axioms.stats().issuers[0]?.keys
  const before = a.requests.jwks
  let bad = 0
  const t0 = performance.now()
  for (let i = 0; i < 1000; i += 50) {
    const outs = await Promise.all(Array.from({ length: 50 }, () => api.get(token(world, {}, { kid: randomUUID() }))))
    for (const o of outs) {
      if (o.status !== 401 || (o.body as { error_description: string }).error_description !== 'Invalid access token' || o.handled !== 0) bad++
    }
  }
  t.comment(`G6 1,000 random kids in ${(performance.now() - t0).toFixed(0)} ms`)
  t.equal(bad, 0, 'every one 401 Invalid access token, no handler')
  t.ok(a.requests.jwks - before <= 1, `at most one JWKS fetch (got ${a.requests.jwks - before})`)
  const stats = api.app.axioms.stats().issuers[0]
  t.equal(stats?.keys, keysBefore, 'no per-kid entries were added')
  // The first batch shares the one in-flight refresh; every later miss is answered by the cooldown.
  t.ok((stats?.cooldownHits ?? 0) >= 950, `misses answered by the cooldown (${stats?.cooldownHits ?? 0})`)
})

t.test('G7 a new key is picked up by one refresh; a removed key stops after the next refresh', async t => {
  const api = await createApi(t, world)
  const fresh = a.addKey('ES256', `k-new-${randomUUID().slice(0, 6)}`)
  const tok = token(world, {}, {}, fresh)
  accepted(t, await api.get(tok), 'first use')
  const again = await api.get(token(world, {}, {}, fresh))
  accepted(t, again, 'second use')
  t.equal(again.jwks, 0, 'no further fetch')
  a.setJwks({ keys: a.keys.filter(k => k.kid !== fresh.kid).map(k => k.jwk) })
  t.teardown(() => a.setJwks(undefined))
  accepted(t, await api.get(token(world, {}, {}, fresh)), 'still in the cached set until the next refresh')
  await api.app.axioms.refresh()
  refused(t, await api.get(token(world, {}, {}, fresh)), 'IAC', api.realm, { jwks: null }, 'after the refresh')
})

t.test('G8 JWKS 500 or hanging: stale set within TTL serves; nothing cached gives 503', async t => {
  t.teardown(() => a.setMode('ok'))
  for (const mode of ['status', 'hang', 'down', 'html'] as const) {
    a.setMode('ok')
    const warm = await createApi(t, world, { options: { jwksTimeout: '300ms' } })
    a.setMode(mode)
    await warm.app.axioms.refresh().catch(() => {})
    accepted(t, await warm.get(token(world)), `${mode}: cached set keeps working`)
    const cold = await createApi(t, world, { options: { jwksTimeout: '300ms' } })
    refused(t, await cold.get(token(world)), 'TU', cold.realm, { jwks: null }, `${mode}: nothing cached`)
  }
  // Recovery once the issuer is back (cooldown 0: the next request may fetch at once).
  a.setMode('status')
  const api = await createApi(t, world, { options: { jwksTimeout: '300ms', jwksCooldown: 0 } })
  refused(t, await api.get(token(world)), 'TU', api.realm, { jwks: null }, 'down')
  a.setMode('ok')
  accepted(t, await api.get(token(world)), 'recovered')
})

t.test('G9 a 10 MB JWKS or a trickled body: cut by the size cap and jwksTimeout, handled as G8', async t => {
  a.setJwks(JSON.stringify({ keys: [a.keys[0]?.jwk], pad: 'x'.repeat(10 * 1024 * 1024) }))
  t.teardown(() => a.setJwks(undefined))
  const api = await createApi(t, world)
  refused(t, await api.get(token(world)), 'TU', api.realm, { jwks: null }, '10 MB')
  t.equal(api.app.axioms.stats().issuers[0]?.lastError, 'too_large')
  let hits = 0
  const trickle = createServer((_req, res) => {
    hits++
    res.writeHead(200, { 'content-type': 'application/json' })
    res.write('{"keys":[')
    const timer = setInterval(() => res.write(' '), 50)
    res.on('close', () => clearInterval(timer))
  })
  await new Promise<void>(resolve => trickle.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { trickle.closeAllConnections(); trickle.close(() => resolve()) }))
  const slow = await createApi(t, world, { options: { jwksUri: `http://127.0.0.1:${(trickle.address() as AddressInfo).port}/jwks`, jwksTimeout: '400ms' } })
  const t0 = performance.now()
  refused(t, await slow.get(token(world)), 'TU', slow.realm, { jwks: null }, 'trickled')
  t.comment(`trickled JWKS abandoned after ${(performance.now() - t0).toFixed(0)} ms (timeout 400 ms, prefetch included)`)
  t.equal(slow.app.axioms.stats().issuers[0]?.lastError, 'timeout')
  t.ok(hits >= 1)
})

t.test('G10 tokenCache: tokens judged separately, never past exp, dropped when the key leaves', async t => {
  const api = await createApi(t, world, { options: { tokenCache: 100, jwksCooldown: 0 } })
  const jti = randomUUID()
  const write = token(world, { jti, scope: 'items:write' })
  const read = token(world, { jti, scope: 'items:read' })
  accepted(t, await api.get(write, '/items', 'POST'), 'write token')
  refused(t, await api.get(read, '/items', 'POST'), 'INS', api.realm, { scope: 'items:write' }, 'same sub and jti, other scope')
  accepted(t, await api.get(write, '/items', 'POST'), 'cached write token')
  // Past exp: the cached entry is not used.
  const exp = now() + 2
  const short = token(world, { exp })
  accepted(t, await api.get(short), 'before exp')
  accepted(t, await api.get(short), 'cached before exp')
  await sleep(Math.max(0, exp * 1000 - Date.now()) + 100)
  refused(t, await api.get(short), 'EXP', api.realm, {}, 'after exp, although cached')
  // Key left the JWKS.
  const temp = a.addKey('ES256', `k-temp-${randomUUID().slice(0, 6)}`)
  const tmpTok = token(world, {}, {}, temp)
  accepted(t, await api.get(tmpTok), 'temp key')
  accepted(t, await api.get(tmpTok), 'cached')
  a.setJwks({ keys: a.keys.filter(k => k.kid !== temp.kid).map(k => k.jwk) })
  t.teardown(() => a.setJwks(undefined))
  await api.app.axioms.refresh()
  refused(t, await api.get(tmpTok), 'IAC', api.realm, { jwks: null }, 'key gone: cached entry dropped')
})

t.test('G11 two keys sharing one kid: order never matters', async t => {
  const r1 = generateTestKey('RS256', 'dup')
  const r2 = generateTestKey('RS256', 'dup')
  const e1 = generateTestKey('ES256', 'mix')
  const r3 = generateTestKey('RS256', 'mix')
  t.teardown(() => a.setJwks(undefined))
  const outcomes: string[] = []
  for (const order of [[r1, r2, e1, r3], [r2, r1, r3, e1]]) {
    a.setJwks({ keys: order.map(k => k.jwk) })
    const api = await createApi(t, world)
    const o1 = await api.get(token(world, {}, {}, r1))
    const o2 = await api.get(token(world, {}, {}, r2))
    refused(t, o1, 'IAC', api.realm, {}, 'ambiguous RS256 "dup" (first)')
    refused(t, o2, 'IAC', api.realm, {}, 'ambiguous RS256 "dup" (second)')
    accepted(t, await api.get(token(world, {}, {}, e1)), 'ES256 "mix" chosen by type')
    accepted(t, await api.get(token(world, {}, {}, r3)), 'RS256 "mix" chosen by type')
    outcomes.push(`${o1.status}/${o2.status}`)
  }
  t.equal(outcomes[0], outcomes[1], 'same outcome in both orders')
})

t.test('G12 unsafe configuration fails register() with a clear message', async t => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ jwksUri: 'file:///etc/passwd' }, /jwksUri/],
    [{ jwksUri: 'ftp://idp-a.test/jwks' }, /jwksUri/],
    [{ audience: undefined }, /audience/],
    [{ audience: '' }, /audience/],
    [{ algorithms: ['none'] }, /algorithms/],
    [{ algorithms: ['HS256'] }, /algorithms/],
    [{ algorithms: ['RS256', 'hs512'] }, /algorithms/],
    [{ algorithms: [] }, /algorithms/],
    [{ jwksRefreshInterval: 600, jwksCacheTtl: 1000 }, /jwksCacheTtl/],
    [{ issuer: undefined }, /issuer/],
    [{ issuer: 'not a url' }, /issuer/]
  ]
  for (const [extra, re] of cases) {
    const app = Fastify()
    t.teardown(() => app.close())
    const opts = optionsFor(world, 'D', extra as never)
    await t.rejects(async () => { await app.register(axioms, opts); await app.ready() }, { message: re }, JSON.stringify(extra))
  }
})

t.test('G13 issuer templates next to a literal issuer: tenants pinned exactly, kids never cross, nothing planted', async t => {
  const template = 'https://login.idp-b.test/{tenant}/v2.0'
  const tenant = (v: string): string => `https://login.idp-b.test/${v}/v2.0`
  for (const [form, tenants] of [['allow-list', ['t1', 't2']], ['function', (v: { tenant?: string }) => v.tenant === 't1' || v.tenant === 't2']] as const) {
    const api = await createApi(t, world, {
      options: { issuer: undefined, jwksUri: undefined, issuers: [{ issuer: A_ISS, jwksUri: a.jwksUri }, { issuer: template, jwksUri: b.jwksUri, tenants }] }
    })
    accepted(t, await api.get(token(world, { iss: tenant('t1') }, {}, world.k.sharedB)), `${form}: tenant t1 with B's key`)
    accepted(t, await api.get(token(world, { iss: tenant('t2') }, {}, world.k.b)), `${form}: tenant t2`)
    const third = await api.get(token(world, { iss: tenant('t3') }, {}, world.k.b))
    refused(t, third, 'ISS', api.realm, {}, `${form}: tenant t3`)
    t.equal(third.jwksB, 0, `${form}: t3 fetched nothing`)
    // A's "shared" under a tenant's iss is checked against B's "shared"; B's under iss A against A's.
    const crossed = await api.get(token(world, { iss: tenant('t1') }, {}, world.k.shared))
    refused(t, crossed, 'SIG', api.realm, {}, `${form}: A's key, tenant iss`)
    refused(t, await api.get(token(world, { iss: A_ISS }, {}, world.k.sharedB)), 'SIG', api.realm, {}, `${form}: B's key, iss A`)
    // A kid only A publishes, under a tenant's iss: unknown in the template's set; A is not asked.
    const aOnly = await api.get(token(world, { iss: tenant('t1') }, {}, world.k.rs))
    refused(t, aOnly, 'IAC', api.realm, {}, `${form}: k-rs under a tenant`)
    t.equal(aOnly.jwksB, 1, `${form}: one refresh of the template's set`)
    // CVE-2025-59936's shape: glued iss and kid values plant nothing anywhere.
    const mine = generateTestKey('RS256', `k-rs:${tenant('t1')}`)
    for (const iss of [`https://evil.test/?:${tenant('t1')}`, `${tenant('t1')}:${A_ISS}`, `${A_ISS}:${tenant('t1')}`, tenant(`t1:${A_ISS}`)]) {
      refused(t, await api.get(signJws(headerFor(mine), claimsV({ iss }), mine)), 'ISS', api.realm, { jwks: 0 }, `${form}: ${iss}`)
    }
    accepted(t, await api.get(token(world)), `${form}: A's real tokens unaffected`)
    accepted(t, await api.get(token(world, { iss: tenant('t1') }, {}, world.k.b)), `${form}: the tenants' too`)
  }
})
