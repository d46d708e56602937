import t from 'tap'
import type { AxiomsStats } from '../index.js'
import { appWithTwoIssuers } from './fixture.js'

t.test('app.axioms.stats(): counters and per-issuer key state, for a health route', async t => {
  const { app, a, b } = await appWithTwoIssuers(t, { jwksPrefetch: false, tokenCache: 10, jwksCooldown: 3600 })
  app.get('/p', { config: { axioms: { scopes: ['read'] } } }, async () => ({ ok: true }))
  app.get('/health', async () => app.axioms.stats())

  const empty = (await app.inject({ url: '/health' })).json() as AxiomsStats
  t.same(empty, {
    verified: 0,
    cacheHits: 0,
    refused: 0,
    internalErrors: 0,
    refusedBy: {},
    tokenCacheSize: 0,
    issuers: [
      { issuer: a.issuer, jwksUri: undefined, keys: 0, fetchedAt: null, fetches: 0, failures: 0, cooldownHits: 0, staleUses: 0, refusedKeys: 0, lastError: null },
      { issuer: b.issuer, jwksUri: undefined, keys: 0, fetchedAt: null, fetches: 0, failures: 0, cooldownHits: 0, staleUses: 0, refusedKeys: 0, lastError: null }
    ].map(({ jwksUri, ...rest }) => rest)
  }, 'JSON-ready snapshot (jwksUri not yet discovered)')

  const good = a.sign({ scope: 'read' })
  const call = async (token: string): Promise<number> => (await app.inject({ url: '/p', headers: { authorization: `Bearer ${token}` } })).statusCode
  t.equal(await call(good), 200)
  t.equal(await call(good), 200, 'second time: from the token cache')
  t.equal(await call(a.sign({ scope: 'other' })), 403, 'verified, then refused for scope: counts as verified')
  t.equal(await call(a.sign({ scope: 'read' }, { expiresIn: -1 })), 401)
  t.equal(await call(a.sign({ scope: 'read' }, { expiresIn: -1 })), 401)
  t.equal(await call(a.sign({ scope: 'read', iss: 'https://nope.example' })), 401)
  t.equal(await call(a.sign({ scope: 'read' }, { kid: 'gone' })), 401, 'unknown kid: one refetch')
  t.equal(await call(a.sign({ scope: 'read' }, { kid: 'gone-too' })), 401, 'cooldown hit')
  t.equal((await app.inject({ url: '/p' })).statusCode, 401, 'no token: not a verification')
  await app.axioms.verify(a.sign({ scope: 'x' }))
  b.setMode('status')
  t.equal(await call(b.sign({ scope: 'read' })), 503)

  const s = app.axioms.stats()
  t.equal(s.verified, 3)
  t.equal(s.cacheHits, 1)
  t.equal(s.refused, 6)
  t.same(s.refusedBy, { expired: 2, bad_issuer: 1, unknown_kid: 2, keys_unavailable: 1 })
  t.equal(s.tokenCacheSize, 3)
  const [sa, sb] = s.issuers
  t.equal(sa?.issuer, a.issuer)
  t.equal(sa?.jwksUri, a.jwksUri, 'discovered')
  t.equal(sa?.keys, 1)
  t.type(sa?.fetchedAt, 'number')
  t.equal(sa?.fetches, 2)
  t.equal(sa?.failures, 0)
  t.equal(sa?.cooldownHits, 1)
  t.equal(sa?.lastError, null)
  t.equal(sb?.keys, 0)
  t.equal(sb?.fetchedAt, null)
  t.equal(sb?.failures, 1)
  t.type(sb?.lastError, 'string')
  s.refusedBy.expired = 99
  t.equal(app.axioms.stats().refusedBy.expired, 2, 'a snapshot: changing it changes nothing')
  t.same(JSON.parse(JSON.stringify(s)).issuers.length, 2, 'serialisable')
})
