// SECURITY.md §8 F (authorization), G (issuers, JWKS), H and I with verifier 'fastify-jwt' in
// front of the real @fastify/jwt + get-jwks. Authorization is the plugin's and holds as is. Of the
// G rows, issuer pinning (G3, G4) holds even with get-jwks' default "every issuer" whitelist, since
// the plugin checks `iss` first; outages answer 503 (G8, G9), bounded by jwksTimeout. What get-jwks
// keeps (per-kid cache, no cooldown, no size cap, discovery `issuer` unchecked, order-dependent
// duplicate kids) is shown as it is: G5, G6, G7, G9 and G11 differ from the built-in engine.
import Fastify from 'fastify'
import fc from 'fast-check'
import t from 'tap'
import buildGetJwks from 'get-jwks'
import axioms from '../../index.js'
import { ROWS } from '../../lib/errors.js'
import { createTestIssuer, generateTestKey, signJws } from '../../testing.js'
import { accepted, b64u, refused, segments, signText } from '../attacks/harness.js'
import { API, claimsV, createApi, createWorld, headerFor, registerFastifyJwt, token } from './fixture.js'

const world = await createWorld()
t.teardown(() => world.close())
const { a, b } = world
const rs = world.k.rs
const hdr = JSON.stringify(headerFor(rs))
const rawClaims = (extra: string, over: Record<string, unknown> = {}): string => JSON.stringify(claimsV(world, over)).slice(0, -1) + ',' + extra + '}'
const twoIssuers = { issuer: undefined, issuers: [{ issuer: a.issuer }, { issuer: b.issuer }] }

t.test('F1-F3, F5-F8 scopes: exact strings, spaces only, wrong types contribute nothing', async t => {
  const api = await createApi(t, world)
  accepted(t, await api.get(token(world)), 'warm: k-rs fetched once')
  refused(t, await api.get(token(world), '/items', 'POST'), 'INS', api.realm, { scope: 'items:write' }, 'F1')
  refused(t, await api.get(token(world, { scope: undefined }), '/items', 'POST'), 'INS', api.realm, { scope: 'items:write' }, 'F2')
  for (const scope of [1, { 'items:write': true }, true]) refused(t, await api.get(token(world, { scope }), '/items', 'POST'), 'INS', api.realm, { scope: 'items:write' }, `F3 ${JSON.stringify(scope)}`)
  accepted(t, await api.get(token(world, { scope: null, scp: 'items:write' }), '/items', 'POST'), 'F4')
  accepted(t, await api.get(token(world, { scope: ['items:write'] }), '/items', 'POST'), 'F5 array')
  for (const scope of [['items:read,items:write'], 'items:writer', 'Items:Write', 'items:read\titems:write', 'items:read\u00a0items:write', 'іtems:write']) {
    refused(t, await api.get(token(world, { scope }), '/items', 'POST'), 'INS', api.realm, { scope: 'items:write' }, `F5-F8 ${JSON.stringify(scope)}`)
  }
})

t.test('F9-F13 prototype names and __proto__ claims grant nothing', async t => {
  const api = await createApi(t, world, {
    options: { rolesClaims: [['realm_access', 'roles'], 'roles'] },
    routes: (app, spy) => { app.get('/proto', { config: { axioms: { roles: ['constructor', '__proto__'] } } }, async r => { spy(r); return {} }) }
  })
  accepted(t, await api.get(token(world)), 'warm')
  refused(t, await api.get(token(world), '/proto'), 'INS', api.realm, {}, 'F9')
  accepted(t, await api.get(token(world, { roles: ['admin'] }), '/admin'), 'F10')
  for (const roles of [['not-admin'], ['administrator'], ['Admin'], [{ value: 'admin' }]]) refused(t, await api.get(token(world, { roles }), '/admin'), 'INS', api.realm, {}, `F10-F11 ${JSON.stringify(roles)}`)
  refused(t, await api.get(signText(hdr, rawClaims('"realm_access":{"__proto__":{"roles":["admin"]}}'), rs), '/admin'), 'INS', api.realm, {}, 'F12')
  refused(t, await api.get(signText(hdr, rawClaims('"__proto__":{"roles":["admin"],"scope":"items:write"}', { scope: undefined }), rs), '/admin'), 'INS', api.realm, {}, 'F13')
  t.equal(({} as Record<string, unknown>).roles, undefined, 'Object.prototype untouched')
})

t.test('F15 ownership; F16-F17 all/any and kinds ANDed', async t => {
  const api = await createApi(t, world, {
    routes: (app, spy) => {
      app.get('/all', { config: { axioms: { scopes: { all: ['read:data', 'openid'] } } } }, async r => { spy(r); return {} })
      app.get('/both', { config: { axioms: { scopes: ['items:read'], roles: ['admin'] } } }, async r => { spy(r); return {} })
    }
  })
  accepted(t, await api.get(token(world)), 'warm')
  refused(t, await api.get(token(world), '/docs/1'), 'OWN', api.realm, {}, 'owner user-2')
  const mine = await api.get(token(world), '/docs/2')
  accepted(t, mine, 'owner user-1')
  t.same(mine.body, { ok: true, doc: { user: 'user-1', title: 'yours' } })
  refused(t, await api.get(token(world), '/docs/404'), 'NF', api.realm, {}, 'no such id')
  refused(t, await api.get(token(world, { scope: 'read:data' }), '/all'), 'INS', api.realm, { scope: 'read:data openid' }, 'F16 one of all')
  accepted(t, await api.get(token(world, { scope: 'openid read:data' }), '/all'), 'F16 all')
  refused(t, await api.get(token(world), '/both'), 'INS', api.realm, {}, 'F17')
})

t.test('F18-F19 a route declared before the plugin fails closed; bad declarations fail startup', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  let calls = 0
  app.get('/early', { config: { axioms: { scopes: ['items:read'] } } }, async () => { calls++; return { leaked: true } })
  await registerFastifyJwt(app, buildGetJwks({ issuersWhitelist: [a.issuer] }))
  await app.register(axioms, { verifier: 'fastify-jwt', issuer: a.issuer, audience: API, env: {} })
  for (const headers of [{}, { authorization: `Bearer ${token(world)}` }]) {
    const res = await app.inject({ url: '/early', headers })
    t.equal(res.statusCode, 500)
    t.same(res.json(), { error: 'server_error', error_description: 'Route protection is misconfigured' })
  }
  t.equal(calls, 0)
  const bad = Fastify()
  t.teardown(() => bad.close())
  await registerFastifyJwt(bad, buildGetJwks())
  await bad.register(axioms, { verifier: 'fastify-jwt', issuer: a.issuer, audience: API, env: {} })
  t.throws(() => bad.get('/x', { config: { axioms: { scopes: [] } } }, async () => ({})), { name: 'ConfigError' })
})

t.test('F20-F21 optional still refuses an invalid token; HEAD inherits the GET rule', async t => {
  const api = await createApi(t, world, { routes: (app, spy) => { app.get('/maybe', { config: { axioms: { optional: true } } }, async r => { spy(r); return {} }) } })
  accepted(t, await api.call('/maybe'), 'anonymous')
  refused(t, await api.get(token(world, { exp: 1 }), '/maybe'), 'EXP', api.realm, {}, 'invalid')
  accepted(t, await api.get(token(world), '/maybe'), 'valid')
  t.equal((await api.call({ method: 'HEAD', url: '/admin', headers: { authorization: `Bearer ${token(world)}` } })).status, 403)
})

t.test('G1-G2 two issuers: a key of B under iss A is looked for at A only', async t => {
  const api = await createApi(t, world, { options: twoIssuers })
  const out = await api.get(token(world, { iss: a.issuer }, {}, world.k.b))
  refused(t, out, 'IAC', api.realm, { jwks: 1 }, 'G1 k-b unknown at A')
  t.equal(out.jwksB, 0, 'B is not asked')
  accepted(t, await api.get(token(world, { iss: b.issuer }, {}, world.k.b)), 'G1 the same key with iss B')
  const shared = await api.get(token(world, { iss: a.issuer }, {}, world.k.sharedB))
  refused(t, shared, 'SIG', api.realm, { jwks: 1 }, 'G2 B\'s "shared" checked against A\'s "shared"')
  t.equal(shared.jwksB, 0)
  accepted(t, await api.get(token(world, { iss: a.issuer }, {}, world.k.shared)), 'G2 A\'s own')
})

t.test('G3-G4 hold even with get-jwks\' default whitelist (every issuer): iss is pinned before get-jwks is asked', async t => {
  const rogue = await createTestIssuer({ audience: API })
  t.teardown(() => rogue.close())
  const api = await createApi(t, world, { getJwks: {} })
  refused(t, await api.get(rogue.sign({ scope: 'items:read' })), 'ISS', api.realm, {}, 'G4 another host with a valid JWKS')
  refused(t, await api.get(rogue.sign({ scope: 'items:read' }, { kid: 'k-rs' })), 'ISS', api.realm, {}, 'G4 with kid k-rs')
  t.same(rogue.requests, { jwks: 0, discovery: 0 }, 'zero requests to it (@fastify/jwt\'s README alone would fetch its keys, #320)')
  const mine = generateTestKey('RS256', 'k-rs:' + a.issuer)
  refused(t, await api.get(signJws(headerFor(mine), claimsV(world, { iss: 'https://evil.test/?:' + a.issuer }), mine)), 'ISS', api.realm, {}, 'G3 colliding iss')
  accepted(t, await api.get(token(world)), 'A\'s real key unaffected')
})

t.test('G5 differs: get-jwks\' discovery ignores the document\'s issuer', async t => {
  a.setDiscovery({ issuer: 'https://impostor.example', jwks_uri: a.jwksUri })
  t.teardown(() => a.setDiscovery(undefined))
  const api = await createApi(t, world, { getJwks: { issuersWhitelist: [a.issuer], providerDiscovery: true } })
  const out = await api.get(token(world))
  accepted(t, out, 'accepted (the built-in engine refuses the document: 503)')
  t.equal(out.discovery, 1)
})

t.test('G6 differs: every unknown kid is a JWKS request (no cooldown); all refused', async t => {
  const api = await createApi(t, world)
  const before = a.requests.jwks
  for (let i = 0; i < 6; i++) refused(t, await api.get(token(world, {}, { kid: `random-${i}` })), 'IAC', api.realm, { jwks: 1 }, `kid ${i}`)
  t.equal(a.requests.jwks - before, 6, 'six kids, six fetches (the built-in engine: one per jwksCooldown)')
})

t.test('G7 a new key works after one fetch; a removed key differs: get-jwks keeps it for its ttl', async t => {
  const idp = await createTestIssuer({ audience: API })
  t.teardown(() => idp.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await registerFastifyJwt(app, buildGetJwks({ issuersWhitelist: [idp.issuer] }))
  await app.register(axioms, { verifier: 'fastify-jwt', issuer: idp.issuer, audience: API, env: {} })
  app.get('/p', { config: { axioms: {} } }, async () => ({ ok: true }))
  const call = async (tok: string): Promise<number> => (await app.inject({ url: '/p', headers: { authorization: `Bearer ${tok}` } })).statusCode
  const old = idp.sign()
  t.equal(await call(old), 200)
  idp.rotate({ keepOld: true })
  const before = idp.requests.jwks
  t.equal(await call(idp.sign()), 200, 'the new key')
  t.equal(idp.requests.jwks - before, 1, 'after one fetch')
  idp.rotate()
  t.equal(await call(old), 200, 'the removed key still verifies (per-kid cache, 60 s by default; the built-in engine: 401 after the next refresh)')
})

t.test('G8 outages: a cached key keeps working; nothing cached is 503 for every kind of failure', async t => {
  // 2 s, not less: on a loaded CI runner a verification with a cached key must not meet the deadline.
  const api = await createApi(t, world, { options: { jwksTimeout: '2s' } })
  const cached = token(world)
  accepted(t, await api.get(cached))
  for (const mode of ['down', 'status', 'html', 'notfound', 'redirect', 'hang'] as const) {
    a.setMode(mode)
    accepted(t, await api.get(token(world)), `${mode}: k-rs still cached`)
    refused(t, await api.get(token(world, {}, {}, world.k.es)), 'TU', api.realm, { jwks: null }, `${mode}: k-es never fetched`)
    a.setMode('ok')
  }
})

t.test('G9 a 10 MB JWKS is read whole (no size cap) and answered 503; a trickled one meets jwksTimeout', async t => {
  const api = await createApi(t, world, { options: { jwksTimeout: '2s' } })
  a.setMode('big')
  t.teardown(() => a.setMode('ok'))
  refused(t, await api.get(token(world, {}, {}, world.k.ps)), 'TU', api.realm, { jwks: 1 }, 'big')
  a.setMode('trickle')
  refused(t, await api.get(token(world, {}, {}, world.k.rs512)), 'TU', api.realm, { jwks: 1 }, 'trickle')
})

t.test('G11 differs: two keys under one kid, get-jwks takes the first that fits, so order decides', async t => {
  const other = generateTestKey('RS256', 'k-dup')
  const mine = { ...rs.jwk, kid: 'k-dup' }
  const tok = signJws(headerFor(rs, { kid: 'k-dup' }), claimsV(world), rs)
  a.setJwks({ keys: [other.jwk, mine] })
  t.teardown(() => a.setJwks(undefined))
  const first = await createApi(t, world)
  refused(t, await first.get(tok), 'SIG', first.realm, { jwks: 1 }, 'the other key first')
  a.setJwks({ keys: [mine, other.jwk] })
  const second = await createApi(t, world)
  accepted(t, await second.get(tok), 'ours first (the built-in engine refuses such a set whatever the order)')
})

t.test('G12 unsafe configuration fails register() as in the default mode', async t => {
  for (const algorithms of [['HS256'], ['none']]) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(axioms, { verifier: 'fastify-jwt', issuer: a.issuer, audience: API, algorithms: algorithms as never, env: {} }) }, { name: 'ConfigError' })
  }
})

t.test('I4 interleaved requests of two users: each handler sees its own claims', async t => {
  const api = await createApi(t, world, { routes: (app, spy) => { app.get('/me', { config: { axioms: {} } }, async r => { spy(r); return { sub: (r.authJwt as { sub: string }).sub } }) } })
  const tokens = { 'user-1': token(world, { sub: 'user-1' }), 'user-2': token(world, { sub: 'user-2' }, {}, world.k.es) }
  const outs = await Promise.all(Array.from({ length: 200 }, (_, i) => {
    const sub = i % 2 === 0 ? 'user-1' : 'user-2'
    return api.get(tokens[sub], '/me').then(o => ({ sub, got: (o.body as { sub: string }).sub }))
  }))
  t.ok(outs.every(o => o.sub === o.got), '200 requests, none sees the other user')
})

const DOCUMENTED = new Set(Object.values(ROWS).map(r => `${r.status} ${r.error} ${r.description}`))
const SEED = Number(process.env.AXIOMS_FUZZ_SEED ?? 20260521)

t.test('I1-I3, I8 1,500 mutated requests: documented answers only, never a 5xx, handler iff 200, no library text', async t => {
  t.comment(`fuzz seed ${SEED} (replay with AXIOMS_FUZZ_SEED=${SEED})`)
  const api = await createApi(t, world, { options: { jwksTimeout: '30s' } })
  const pool = [token(world), token(world, {}, {}, world.k.es), token(world, { scope: 'items:write' }, {}, world.k.ps), token(world, {}, {}, world.k.ed)]
  const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const char = fc.oneof(fc.constantFrom(...B64URL.split('')), fc.constantFrom('.', '=', '+', ' ', 'é', '\u0000'))
  const bytes = fc.record({ base: fc.nat({ max: pool.length - 1 }), at: fc.nat(), c: char, op: fc.constantFrom('replace', 'insert', 'delete') })
    .map(({ base, at, c, op }) => {
      const s = pool[base] as string
      const i = at % s.length
      const tok = op === 'replace' ? s.slice(0, i) + c + s.slice(i + 1) : op === 'insert' ? s.slice(0, i) + c + s.slice(i) : s.slice(0, i) + s.slice(i + 1)
      return { tok, original: s, resigned: false }
    })
  const jsonish = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('RS256', 'HS256', 'none', 'k-rs', 'k-es', 'JWT', '__proto__', null, 1e308, [], {}, a.issuer, API))
  const claims = fc.array(fc.tuple(fc.constantFrom('iss', 'aud', 'exp', 'nbf', 'iat', 'scope', 'cnf', 'x'), jsonish), { minLength: 1, maxLength: 3 })
    .map(changes => {
      const c: Record<string, unknown> = claimsV(world)
      for (const [k, v] of changes) c[k] = v
      return { tok: signJws(headerFor(world.k.es), c, world.k.es), original: '', resigned: true }
    })
  const header = fc.array(fc.tuple(fc.constantFrom('alg', 'kid', 'typ', 'crit', 'jku', 'x'), jsonish), { minLength: 1, maxLength: 2 })
    .map(changes => {
      const h: Record<string, unknown> = headerFor(world.k.es)
      for (const [k, v] of changes) h[k] = v
      const [, p, s] = segments(pool[1] as string)
      return { tok: `${b64u(JSON.stringify(h))}.${p}.${s}`, original: pool[1] as string, resigned: false }
    })
  const answers = new Map<string, number>()
  const property = fc.asyncProperty(fc.oneof(bytes, claims, header), async ({ tok, original, resigned }) => {
    const out = await api.get(tok)
    const key = `${out.status} ${(out.body as { error_description?: string } | undefined)?.error_description ?? ''}`
    answers.set(key, (answers.get(key) ?? 0) + 1)
    if (out.status >= 500) throw new Error(`5xx: ${out.text}`)
    if (out.status === 200) {
      if (out.handled !== 1) throw new Error('200 without the handler')
      if (!resigned && tok !== original) throw new Error('a token changed without re-signing was accepted')
      return
    }
    if (out.handled !== 0) throw new Error(`handler ran on ${out.status}`)
    const body = out.body as { error?: string, error_description?: string }
    if (!DOCUMENTED.has(`${out.status} ${body.error} ${body.error_description}`)) throw new Error(`undocumented answer ${out.text}`)
    if (/jwt|token is invalid|jwk|fetch/i.test(out.text.replace(/invalid_token|access token|Malformed token|token (type|signature|issuer|audience)|expiration claim|Token has expired|Missing key ID in token header/g, ''))) {
      throw new Error(`library text in ${out.text}`)
    }
    if (typeof out.headers['www-authenticate'] !== 'string') throw new Error('a refusal without a challenge')
  })
  await fc.assert(property, { seed: SEED, numRuns: 1500 })
  t.comment(`answers ${JSON.stringify(Object.fromEntries([...answers].sort((x, y) => y[1] - x[1])))}`)
  t.ok(answers.has('200 ') && answers.has('401 Malformed token') && answers.has('401 Invalid token signature'), 'cases reach the plugin\'s checks and @fastify/jwt\'s')
})

t.test('G13 issuer templates hold in the mode: tenants pinned before get-jwks is asked', async t => {
  const template = `${a.url}/tenants/{tenant}`
  const tenant = (v: string): string => `${a.url}/tenants/${v}`
  // The app's secret finds the template's keys at one place (get-jwks builds its URL from `domain`).
  const getJwks = buildGetJwks({ issuersWhitelist: [a.issuer] })
  const secret = async (_request: unknown, tok: unknown): Promise<string> => {
    const { header: { kid, alg } } = tok as { header: { kid: string, alg: string } }
    return getJwks.getPublicKey({ kid, alg, domain: a.issuer })
  }
  for (const [form, tenants] of [['allow-list', ['t1', 't2']], ['function', (v: { tenant?: string }) => v.tenant === 't1' || v.tenant === 't2']] as const) {
    // No jwksUri: in this mode get-jwks keeps the keys.
    const api = await createApi(t, world, { options: { issuer: template, tenants }, jwt: { secret } })
    accepted(t, await api.get(token(world, { iss: tenant('t1') })), `${form}: t1`)
    accepted(t, await api.get(token(world, { iss: tenant('t2') })), `${form}: t2`)
    for (const iss of [tenant('t3'), `${tenant('t1')}/`, tenant('T1'), tenant('t1/x'), template]) {
      refused(t, await api.get(token(world, { iss })), 'ISS', api.realm, { jwks: 0 }, `${form}: ${iss}`)
    }
  }
})
