import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import axioms, { type AxiomsOptions, type IssuerOptions } from '../index.js'
import { createTestIssuer, type TestIssuer } from '../testing.js'

async function idp (t: Test, options: Parameters<typeof createTestIssuer>[0] = {}): Promise<TestIssuer> {
  const i = await createTestIssuer(options)
  t.teardown(() => i.close())
  return i
}

function fetches (...issuers: TestIssuer[]): number {
  return issuers.reduce((n, i) => n + i.requests.jwks + i.requests.discovery, 0)
}

async function app (t: Test, issuers: IssuerOptions[], extra: Partial<AxiomsOptions> = {}): Promise<{ app: FastifyInstance, calls: { n: number } }> {
  const a = Fastify()
  t.teardown(() => a.close())
  await a.register(axioms, { audience: 'your-api-audience', issuers, env: {}, jwksPrefetch: false, ...extra })
  const calls = { n: 0 }
  a.get('/data', { config: { axioms: { scopes: ['read:data'] } } }, async request => { calls.n++; return { iss: (request.authJwt as { iss: string }).iss } })
  return { app: a, calls }
}

const bearer = (token: string): { authorization: string } => ({ authorization: `Bearer ${token}` })

t.test('the token\'s iss picks its issuer from the list; keys are fetched per issuer', async t => {
  const a = await idp(t)
  const b = await idp(t)
  const { app: api, calls } = await app(t, [{ issuer: a.issuer }, { issuer: b.issuer }])
  const ra = await api.inject({ url: '/data', headers: bearer(a.sign({ scope: 'read:data' })) })
  t.equal(ra.statusCode, 200)
  t.same(ra.json(), { iss: a.issuer })
  t.equal(a.requests.jwks, 1)
  t.equal(fetches(b), 0, 'B is not asked for A\'s token')
  const rb = await api.inject({ url: '/data', headers: bearer(b.sign({ scope: 'read:data' })) })
  t.equal(rb.statusCode, 200)
  t.same(rb.json(), { iss: b.issuer })
  t.equal(b.requests.jwks, 1)
  t.equal(a.requests.jwks, 1, 'A is not asked for B\'s token')
  t.equal(calls.n, 2)
  const stats = api.axioms.stats()
  t.same(stats.issuers.map(s => [s.issuer, s.keys, s.fetches]), [[a.issuer, 1, 1], [b.issuer, 1, 1]])
})

t.test('an iss outside the list: 401 "Invalid token issuer" and no fetch anywhere', async t => {
  const a = await idp(t)
  const b = await idp(t)
  const c = await idp(t)
  const { app: api, calls } = await app(t, [{ issuer: a.issuer }, { issuer: b.issuer }])
  const tokens = [
    c.sign({ scope: 'read:data' }), // a real issuer that is not ours
    a.sign({ scope: 'read:data', iss: undefined }), // no iss
    a.sign({ scope: 'read:data', iss: `${a.issuer}/` }), // near miss
    a.sign({ scope: 'read:data', iss: a.issuer.toUpperCase() }),
    a.sign({ scope: 'read:data', iss: [a.issuer] }), // not a string
    a.sign({ scope: 'read:data', iss: 'constructor' }),
    a.sign({ scope: 'read:data', iss: '__proto__' })
  ]
  for (const token of tokens) {
    const res = await api.inject({ url: '/data', headers: bearer(token) })
    t.equal(res.statusCode, 401)
    t.same(res.json(), { error: 'invalid_token', error_description: 'Invalid token issuer' })
    t.equal(res.headers['www-authenticate'], `Bearer realm="${a.issuer}", error="invalid_token", error_description="Invalid token issuer"`, 'realm: the first issuer')
  }
  t.equal(fetches(a, b, c), 0)
  t.equal(calls.n, 0)
})

t.test('a kid present at two issuers never crosses over', async t => {
  const a = await idp(t)
  const b = await idp(t)
  const aShared = a.addKey('RS256', 'shared')
  const bShared = b.addKey('RS256', 'shared')
  const { app: api, calls } = await app(t, [{ issuer: a.issuer }, { issuer: b.issuer }])
  const claims = (iss: string): Record<string, unknown> => ({ iss, aud: 'your-api-audience', scope: 'read:data', exp: Math.floor(Date.now() / 1000) + 300 })
  const header = { alg: 'RS256', kid: 'shared', typ: 'at+jwt' }

  // B's "shared" key, A's iss: verified with A's "shared" key, so the signature fails.
  const crossed = await api.inject({ url: '/data', headers: bearer(b.signRaw(header, claims(a.issuer), bShared)) })
  t.equal(crossed.statusCode, 401)
  t.same(crossed.json(), { error: 'invalid_token', error_description: 'Invalid token signature' })
  t.equal(fetches(b), 0, 'B\'s key set is never consulted for iss A')

  // and the other way round
  const back = await api.inject({ url: '/data', headers: bearer(a.signRaw(header, claims(b.issuer), aShared)) })
  t.equal(back.statusCode, 401)
  t.same(back.json(), { error: 'invalid_token', error_description: 'Invalid token signature' })

  // each issuer's own "shared" key works for its own tokens
  t.equal((await api.inject({ url: '/data', headers: bearer(a.signRaw(header, claims(a.issuer), aShared)) })).statusCode, 200)
  t.equal((await api.inject({ url: '/data', headers: bearer(b.signRaw(header, claims(b.issuer), bShared)) })).statusCode, 200)

  // a kid only B publishes, presented with iss A: unknown at A (A refetches once, B stays out)
  const bOnly = b.keys[0]
  const before = b.requests.jwks
  const unknown = await api.inject({ url: '/data', headers: bearer(b.signRaw({ alg: 'RS256', kid: bOnly?.kid, typ: 'at+jwt' }, claims(a.issuer), bOnly)) })
  t.equal(unknown.statusCode, 401)
  t.same(unknown.json(), { error: 'invalid_token', error_description: 'Invalid access token' })
  t.equal(b.requests.jwks, before)
  t.equal(calls.n, 2)
})

t.test('per-issuer audience is honoured; the top-level audience is the fallback', async t => {
  const a = await idp(t)
  const b = await idp(t)
  const c = await idp(t)
  const { app: api, calls } = await app(t, [
    { issuer: a.issuer, audience: 'api-a' },
    { issuer: b.issuer, audience: ['api-b', 'api-b2'] },
    { issuer: c.issuer }
  ], { audience: 'shared-api' })
  const status = async (i: TestIssuer, aud: unknown): Promise<number> =>
    (await api.inject({ url: '/data', headers: bearer(i.sign({ scope: 'read:data', aud })) })).statusCode
  t.equal(await status(a, 'api-a'), 200)
  t.equal(await status(b, 'api-b'), 200)
  t.equal(await status(b, ['other', 'api-b2']), 200)
  t.equal(await status(c, 'shared-api'), 200)
  t.equal(await status(b, 'api-a'), 401, 'A\'s audience is not accepted for B\'s tokens')
  t.equal(await status(a, 'api-b'), 401, 'nor B\'s for A\'s')
  t.equal(await status(a, 'shared-api'), 401, 'an issuer\'s own audience replaces the top-level one')
  t.equal(await status(c, 'api-a'), 401)
  const res = await api.inject({ url: '/data', headers: bearer(b.sign({ scope: 'read:data', aud: 'api-a' })) })
  t.same(res.json(), { error: 'invalid_token', error_description: 'Invalid token audience' })
  t.equal(calls.n, 4)
})

t.test('explicit jwksUri per issuer, several iss values per issuer, custom iss', async t => {
  const a = await idp(t, { issuer: 'https://tenant-a.example.com/', discovery: false })
  const b = await idp(t, { issuer: 'https://login.example.net/tenant-b/v2.0' })
  const { app: api } = await app(t, [
    { issuer: ['https://tenant-a.example.com/', 'https://tenant-a.example.com'], jwksUri: a.jwksUri },
    { issuer: 'https://login.example.net/tenant-b/v2.0', jwksUri: b.jwksUri }
  ])
  t.equal((await api.inject({ url: '/data', headers: bearer(a.sign({ scope: 'read:data' })) })).statusCode, 200)
  t.equal((await api.inject({ url: '/data', headers: bearer(a.sign({ scope: 'read:data', iss: 'https://tenant-a.example.com' })) })).statusCode, 200)
  t.equal((await api.inject({ url: '/data', headers: bearer(b.sign({ scope: 'read:data' })) })).statusCode, 200)
  t.equal(a.requests.jwks, 1, 'one key set for both iss spellings of A')
  t.equal(a.requests.discovery + b.requests.discovery, 0, 'explicit jwksUri: no discovery')
  t.same(api.axioms.stats().issuers.map(s => s.issuer), ['https://tenant-a.example.com/', 'https://login.example.net/tenant-b/v2.0'])
})

t.test('one issuer down does not affect the other', async t => {
  const a = await idp(t)
  const b = await idp(t)
  const { app: api } = await app(t, [{ issuer: a.issuer }, { issuer: b.issuer }])
  a.setMode('status')
  const down = await api.inject({ url: '/data', headers: bearer(a.sign({ scope: 'read:data' })) })
  t.equal(down.statusCode, 503)
  t.equal(down.headers['retry-after'], '5', 'the next fetch may happen in 5 s (min(jwksCooldown, 5 s))')
  t.equal((await api.inject({ url: '/data', headers: bearer(b.sign({ scope: 'read:data' })) })).statusCode, 200)
  const [sa, sb] = api.axioms.stats().issuers
  t.equal(sa?.failures, 1)
  t.equal(sb?.failures, 0)
})

t.test('startup errors', async t => {
  const register = async (opts: Record<string, unknown>): Promise<void> => {
    const a = Fastify()
    t.teardown(() => a.close())
    await a.register(axioms, { audience: 'api', env: {}, ...opts } as AxiomsOptions)
  }
  const A = 'https://a.example.com'
  const B = 'https://b.example.com'
  await t.rejects(register({ issuers: [] }), /"issuers"/, 'empty list')
  await t.rejects(register({ issuers: {} }), /"issuers"/, 'not a list')
  await t.rejects(register({ issuers: [{ issuer: A }, { issuer: A }] }), /"issuers".*twice/, 'duplicate entries')
  await t.rejects(register({ issuers: [{ issuer: [A, B] }, { issuer: B }] }), /"issuers".*twice/, 'an iss value in two entries')
  await t.rejects(register({ issuers: [{ issuer: A }], issuer: B }), /"issuers".*cannot be combined/)
  await t.rejects(register({ issuers: [{ issuer: A }], domain: 'b.example.com' }), /"issuers".*cannot be combined/)
  await t.rejects(register({ issuers: [{ issuer: A }], jwksUri: `${B}/jwks.json` }), /"issuers".*cannot be combined/)
  await t.rejects(register({ issuers: [{ issuer: A }], env: { AXIOMS_ISS_URL: B } }), /"issuers".*cannot be combined/, 'env issuer counts too')
  await t.rejects(register({ issuers: [null] }), /"issuers\[0\]"/)
  await t.rejects(register({ issuers: [{ issuer: A }, { jwksUri: `${B}/jwks.json` }] }), /"issuers\[1\]\.issuer"/)
  await t.rejects(register({ issuers: [{ issuer: 'not-a-url' }] }), /"issuers\[0\]\.issuer"/)
  await t.rejects(register({ issuers: [{ issuer: A, jwksUri: 'file:///etc/passwd' }] }), /"issuers\[0\]\.jwksUri"/)
  await t.rejects(register({ issuers: [{ issuer: A, audience: [] }] }), /"issuers\[0\]\.audience"/)
  await t.rejects(register({ audience: undefined, issuers: [{ issuer: A }] }), /"issuers\[0\]\.audience".*required/)
  await register({ audience: undefined, issuers: [{ issuer: A, audience: 'x' }] })
  t.pass('an issuer\'s own audience makes the top-level one optional')
})

t.test('options are not mutated', async t => {
  const issuers = [{ issuer: ['https://a.example.com'], audience: ['x'] }]
  const snapshot = JSON.stringify(issuers)
  const a = Fastify()
  t.teardown(() => a.close())
  await a.register(axioms, { issuers, env: {} })
  t.equal(JSON.stringify(issuers), snapshot)
  t.notOk(Object.isFrozen(issuers[0]))
})
