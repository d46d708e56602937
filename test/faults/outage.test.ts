// JWKS outages (SPEC §5.6): with a set fetched before, cached keys keep working within
// jwksCacheTtl; with no set, 503 temporarily_unavailable + Retry-After and no challenge; recovery
// once the issuer is back; a set older than jwksCacheTtl is no longer trusted (503).
import t from 'tap'
import type { TestIssuer } from '../../testing.js'
import { INVALID, is503, rig, sleep, until } from '../jwks-helpers.js'

const faults: Array<[string, (idp: TestIssuer) => void]> = [
  ['connection dropped', idp => idp.setMode('down')],
  ['HTTP 500', idp => idp.setMode('status')],
  ['HTML error page', idp => idp.setMode('html')],
  ['hanging host', idp => idp.setMode('hang')],
  ['trickled body', idp => idp.setMode('trickle')],
  ['10 MB body', idp => idp.setMode('big')],
  ['redirect', idp => idp.setMode('redirect')],
  ['404', idp => idp.setMode('notfound')],
  ['malformed JSON', idp => idp.setJwks('{"keys": [')],
  ['not an object', idp => idp.setJwks('"keys"')],
  ['keys not an array', idp => idp.setJwks({ keys: { kid: 'x' } })],
  ['JSON null', idp => idp.setJwks('null')]
]

const fast = { jwksTimeout: '300ms', jwksCooldown: 0.2 } as const

t.test('with a set fetched before: cached keys keep working through every fault', async t => {
  for (const [name, fault] of faults) {
    const s = await rig(t, { ...fast })
    await s.app.ready()
    const token = s.idp.sign({ sub: 'u' })
    fault(s.idp)
    await t.rejects(s.app.axioms.refresh(), `${name}: the refresh fails`)
    t.equal((await s.call(token)).statusCode, 200, `${name}: cached key still verifies`)
    const unknown = await s.call(s.idp.sign({ sub: 'u' }, { kid: 'rotated-meanwhile' }))
    t.same([unknown.statusCode, unknown.json()], [401, INVALID], `${name}: unknown kid is 401, never 5xx`)
    t.equal(s.calls(), 1)
    const stats = s.app.axioms.stats().issuers[0]
    t.ok((stats?.failures ?? 0) >= 1, `${name}: failure counted`)
    t.ok(stats?.lastError !== null, `${name}: lastError set`)
    t.notMatch(JSON.stringify(s.logs), /Bad gateway|<html|xxxx/, `${name}: no IdP body in logs`)
  }
})

t.test('with no set: 503 + Retry-After, no challenge, handler never runs', async t => {
  for (const [name, fault] of faults) {
    const s = await rig(t, { ...fast, jwksPrefetch: false })
    fault(s.idp)
    is503(t, await s.call(s.idp.sign({ sub: 'u' })), name)
    t.equal(s.calls(), 0)
  }
})

t.test('recovery once the issuer is back', async t => {
  const s = await rig(t, { ...fast, jwksPrefetch: false })
  s.idp.setMode('down')
  const token = s.idp.sign({ sub: 'u' })
  is503(t, await s.call(token))
  is503(t, await s.call(token), 'retried at once: still 503 (no retry storm)')
  t.equal(s.idp.requests.jwks + s.idp.requests.discovery, 2, 'one attempt within the retry delay (its request sent twice: a connection reset before any answer is retried once)')
  s.idp.setMode('ok')
  await sleep(300)
  t.equal((await s.call(token)).statusCode, 200)
  t.equal(s.calls(), 1)
  t.equal(s.app.axioms.stats().issuers[0]?.lastError, null)
})

t.test('through a long outage: stale keys within jwksCacheTtl, then 503, then recovery', async t => {
  const s = await rig(t, { jwksRefreshInterval: 1, jwksCacheTtl: 2, jwksCooldown: 0.2, jwksTimeout: '300ms' })
  await s.app.ready()
  const fetchedAt = Date.now()
  const token = s.idp.sign({ sub: 'u' })
  s.idp.setMode('status')
  t.ok(await until(() => s.idp.requests.discovery >= 2), 'a background refresh failed')
  await sleep(Math.max(0, fetchedAt + 1200 - Date.now()))
  // Within the TTL (the set is older than one interval): still served, counted as stale use.
  if (Date.now() - fetchedAt < 1900) {
    t.equal((await s.call(token)).statusCode, 200, 'stale key within jwksCacheTtl')
    t.ok((s.app.axioms.stats().issuers[0]?.staleUses ?? 0) >= 1)
  }
  await sleep(Math.max(0, fetchedAt + 2300 - Date.now()))
  is503(t, await s.call(token), 'beyond jwksCacheTtl the set is not trusted')
  t.equal(s.app.axioms.stats().issuers[0]?.keys, 0)
  s.idp.setMode('ok')
  t.ok(await until(() => s.app.axioms.stats().issuers[0]?.keys === 1), 'background refresh recovers')
  t.equal((await s.call(token)).statusCode, 200)
})

t.test('a 10k flood of unknown kids stores nothing per kid', async t => {
  const s = await rig(t, { jwksCooldown: 30 })
  await s.app.ready()
  const base = s.idp.sign({ sub: 'u' }).split('.')
  const header = (kid: string) => Buffer.from(JSON.stringify({ alg: 'RS256', kid, typ: 'JWT' })).toString('base64url')
  for (let i = 0; i < 100; i++) {
    await Promise.all(Array.from({ length: 100 }, (_, j) => s.app.axioms.verify(`${header(`k${i}-${j}`)}.${base[1]}.${base[2]}`).catch(e => e)))
  }
  t.equal(s.idp.requests.jwks, 2, 'one refetch in the cooldown')
  t.equal(s.app.axioms.stats().issuers[0]?.keys, 1, 'no negative entries')
})
