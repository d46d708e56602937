// verifier 'fastify-jwt': the option and its twin, what it refuses or ignores at startup, the
// onReady check for @fastify/jwt, the decorators, and how the app's own @fastify/jwt and get-jwks
// settings meet the plugin's (extractToken, onlyCookie, trusted, issuersWhitelist, formatUser).
import diagnostics from 'node:diagnostics_channel'
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import fjwt from '@fastify/jwt'
import buildGetJwks from 'get-jwks'
import axioms, { type AxiomsOptions, ConfigError, VERIFY_CHANNEL, type VerifyMessage } from '../../index.js'
import { resolveSettings } from '../../lib/options/index.js'
import { createTestIssuer } from '../../testing.js'
import { accepted, logSink, refused } from '../attacks/harness.js'
import { API, createApi, createWorld, registerFastifyJwt, token } from './fixture.js'

const world = await createWorld()
t.teardown(() => world.close())

const BASE = { audience: 'api', issuer: 'https://issuer.example' }

function logged (lines: string[], level: number): Array<Record<string, unknown>> {
  return lines.map(l => JSON.parse(l) as Record<string, unknown>).filter(l => l.level === level)
}

t.test('verifier and AXIOMS_VERIFIER: builtin by default; fastify-jwt batches nothing', async t => {
  const builtin = resolveSettings({ ...BASE, env: {} })
  t.equal(builtin.verifier, 'builtin')
  t.equal(builtin.verifyBatch, 16)
  t.same(builtin.ignoredOptions, [])
  const mode = resolveSettings({ ...BASE, verifier: 'fastify-jwt', env: {} })
  t.equal(mode.verifier, 'fastify-jwt')
  t.equal(mode.verifierEnv, undefined)
  t.equal(mode.verifyBatch, 0, 'signatures are checked by @fastify/jwt: nothing to batch')
  t.equal(mode.tokenCache, 0)
  const fromEnv = resolveSettings({ ...BASE, env: { AXIOMS_VERIFIER: ' fastify-jwt ' } })
  t.equal(fromEnv.verifier, 'fastify-jwt')
  t.equal(fromEnv.verifierEnv, 'AXIOMS_VERIFIER')
  t.equal(resolveSettings({ ...BASE, verifier: 'builtin', env: { AXIOMS_VERIFIER: 'fastify-jwt' } }).verifier, 'builtin', 'the option wins')
  t.equal(resolveSettings({ ...BASE, env: { AXIOMS_VERIFIER: '' } }).verifier, 'builtin', 'blank is unset')
  t.throws(() => resolveSettings({ ...BASE, env: { AXIOMS_VERIFIER: 'fast-jwt' } }), /"verifier" \(env AXIOMS_VERIFIER\) must be "builtin" or "fastify-jwt"/)
  t.throws(() => resolveSettings({ ...BASE, verifier: 'jose' as never, env: {} }), /"verifier" must be "builtin" or "fastify-jwt"/)
  t.throws(() => resolveSettings({ ...BASE, verfier: 'fastify-jwt', env: {} } as AxiomsOptions), /"verfier" is not an option of axioms-fastify: did you mean "verifier"\?/)
})

t.test('the mode still requires issuer and audience, and refuses tokenCache', async t => {
  t.throws(() => resolveSettings({ verifier: 'fastify-jwt', issuer: 'https://i.example', env: {} }), /"audience" \(env AXIOMS_AUDIENCE\) is required/)
  t.throws(() => resolveSettings({ verifier: 'fastify-jwt', audience: 'api', env: {} }), /"issuer" \(env AXIOMS_ISS_URL\) or "domain"/)
  t.throws(() => resolveSettings({ ...BASE, verifier: 'fastify-jwt', tokenCache: 100, env: {} }), ConfigError)
  t.throws(() => resolveSettings({ ...BASE, verifier: 'fastify-jwt', tokenCache: 100, env: {} }), /"tokenCache" does not apply with verifier "fastify-jwt"/)
  t.throws(() => resolveSettings({ ...BASE, verifier: 'fastify-jwt', env: { AXIOMS_TOKEN_CACHE: '10' } }), /"tokenCache" \(env AXIOMS_TOKEN_CACHE\) does not apply/)
  t.equal(resolveSettings({ ...BASE, verifier: 'fastify-jwt', tokenCache: 0, env: {} }).tokenCache, 0, 'tokenCache 0 is fine')
  t.equal(resolveSettings({ ...BASE, tokenCache: 100, env: {} }).tokenCache, 100, 'builtin keeps it')
})

t.test('key-set options do not apply: named in an info line at startup, not fatal', async t => {
  const s = resolveSettings({
    audience: 'api',
    verifier: 'fastify-jwt',
    issuers: [{ issuer: 'https://a.example', jwksUri: 'https://a.example/keys' }, { issuer: 'https://b.example' }],
    jwksCooldown: 5,
    verifyBatch: 4,
    env: { AXIOMS_JWKS_PREFETCH: 'false', AXIOMS_JWKS_MAX_BYTES: ' ', AXIOMS_JWKS_TIMEOUT: '2' }
  })
  t.same(s.ignoredOptions, ['jwksPrefetch', 'jwksCooldown', 'verifyBatch', 'issuers[].jwksUri'], 'blank variables and jwksTimeout (it bounds jwtVerify) are not listed')
  t.ok(Object.isFrozen(s.ignoredOptions))
  t.equal(s.jwks.timeout, 2000)
  t.same(resolveSettings({ ...BASE, verifier: 'fastify-jwt', jwksUri: 'https://issuer.example/keys', env: { AXIOMS_JWKS_REFRESH_INTERVAL: '60', AXIOMS_JWKS_CACHE_TTL: '120' } }).ignoredOptions,
    ['jwksUri', 'jwksRefreshInterval', 'jwksCacheTtl'])
  t.same(resolveSettings({ ...BASE, jwksCooldown: 5, env: {} }).ignoredOptions, [], 'builtin ignores nothing')

  const sink = logSink()
  const app = Fastify({ logger: { level: 'info', stream: sink.stream } })
  t.teardown(() => app.close())
  await registerFastifyJwt(app, buildGetJwks())
  await app.register(axioms, { verifier: 'fastify-jwt', issuer: world.a.issuer, audience: API, jwksCooldown: 5, env: {} })
  await app.ready()
  const info = logged(sink.lines, 30).filter(l => l.ignored !== undefined)
  t.same(info.map(l => l.ignored), [['jwksCooldown']])
  t.match(info[0]?.msg, /do not apply with verifier "fastify-jwt"/)
})

t.test('without @fastify/jwt, ready() fails and says what to do', async t => {
  for (const [options, pattern] of [
    [{ verifier: 'fastify-jwt', env: {} }, /option "verifier" is "fastify-jwt", but request.jwtVerify of @fastify\/jwt is missing: register @fastify\/jwt/],
    [{ env: { AXIOMS_VERIFIER: 'fastify-jwt' } }, /option "verifier" \(env AXIOMS_VERIFIER\) is "fastify-jwt", but/]
  ] as const) {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(axioms, { ...BASE, ...options })
    const err = await app.ready().then(() => undefined, (e: unknown) => e)
    t.type(err, ConfigError)
    t.match((err as Error).message, pattern)
  }
  // A namespaced @fastify/jwt has no request.jwtVerify (and no fastify.jwt.lookupToken).
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fjwt, { secret: 'unused-here', namespace: 'security' })
  await app.register(axioms, { ...BASE, verifier: 'fastify-jwt', env: {} })
  await t.rejects(async () => { await app.ready() }, { code: 'AXIOMS_INVALID_OPTION' })
  // @fastify/jwt in a sibling scope is not this plugin's.
  const sib = Fastify()
  t.teardown(() => sib.close())
  await sib.register(async child => { await registerFastifyJwt(child, buildGetJwks()) })
  await sib.register(axioms, { ...BASE, verifier: 'fastify-jwt', env: {} })
  await t.rejects(async () => { await sib.ready() }, ConfigError)
})

t.test('@fastify/jwt registered after the plugin: found at onReady', async t => {
  const api = await createApi(t, world, { jwtAfter: true })
  accepted(t, await api.get(token(world)))
})

t.test('nothing fetched at startup; stats count the mode; verify and refresh refuse clearly', async t => {
  const before = world.a.requests.jwks + world.a.requests.discovery
  const api = await createApi(t, world)
  t.equal(world.a.requests.jwks + world.a.requests.discovery, before, 'no prefetch: get-jwks fetches on demand')
  accepted(t, await api.get(token(world)))
  refused(t, await api.get(token(world, { exp: 1 })), 'EXP', api.realm)
  refused(t, await api.get(token(world, {}, { kid: 'k-unknown' })), 'IAC', api.realm, { jwks: 1 })
  t.same(api.app.axioms.stats(), { verified: 1, cacheHits: 0, refused: 2, internalErrors: 0, refusedBy: { expired: 1, unknown_kid: 1 }, tokenCacheSize: 0, issuers: [] })
  const tok = token(world)
  const err = await api.app.axioms.verify(tok).then(() => undefined, (e: unknown) => e)
  t.type(err, ConfigError)
  t.match((err as Error).message, /"verifier" is "fastify-jwt", where app.axioms.verify\(\) is not available/)
  t.notMatch((err as Error).message, tok)
  await t.rejects(api.app.axioms.refresh(), /app.axioms.refresh\(\) is not available: get-jwks keeps the keys/)
  t.equal(api.app.axioms.stats().verified, 1, 'the refusals to verify are not verifications')
})

t.test('claims are the verified token\'s own, frozen and null-prototype; request.user stays @fastify/jwt\'s', async t => {
  const api = await createApi(t, world, {
    jwt: { formatUser: payload => ({ who: (payload as { sub: string }).sub }) },
    routes: (app, spy) => {
      app.get('/whoami', { config: { axioms: {} } }, async request => {
        spy(request)
        const claims = request.authJwt as Record<string, unknown>
        return { user: (request as unknown as { user: unknown }).user, sub: app.axioms.claims(request).sub, frozen: Object.isFrozen(claims), proto: Object.getPrototypeOf(claims) === null, roles: Object.isFrozen(claims.roles) }
      })
    }
  })
  const out = await api.get(token(world, { roles: ['a', 'b'] }), '/whoami')
  accepted(t, out)
  t.same(out.body, { user: { who: 'user-1' }, sub: 'user-1', frozen: true, proto: true, roles: true })
})

t.test('hook factories, optional routes, errorResponse throw and tokenMiddleware work as with the built-in engine', async t => {
  const api = await createApi(t, world, {
    routes: (app, spy) => {
      app.get('/hooks', { preHandler: [app.hasValidAccessToken(), app.hasRequiredScopes(['items:read']), app.hasRequiredRoles(['admin'])] }, async request => { spy(request); return { ok: true } })
      app.get('/maybe', { config: { axioms: { optional: true } } }, async request => { spy(request); return { claims: request.authJwt } })
    }
  })
  accepted(t, await api.get(token(world, { roles: ['admin'] }), '/hooks'), 'all three hooks, one verification')
  refused(t, await api.get(token(world), '/hooks'), 'INS', api.realm)
  refused(t, await api.get(token(world, { aud: 'other' }), '/hooks'), 'AUD', api.realm)
  const anon = await api.call('/maybe')
  accepted(t, anon, 'optional without a token')
  t.same(anon.body, { claims: null })
  refused(t, await api.get(token(world, {}, { kid: 'nope' }), '/maybe'), 'IAC', api.realm, { jwks: 1 }, 'optional still refuses an invalid token')

  const thrown = await createApi(t, world, {
    options: { errorResponse: 'throw' },
    routes: app => app.setErrorHandler(async (err: { statusCode: number, reason: string, headers: Record<string, string> }, _request, reply) =>
      await reply.code(err.statusCode).headers(err.headers).send({ mine: err.reason }))
  })
  const out = await thrown.get(token(world, { exp: 1 }))
  t.equal(out.status, 401)
  t.same(out.body, { mine: 'expired' })
  t.match(out.headers['www-authenticate'], /error_description="Token has expired"/)

  const mw = await createApi(t, world, {
    options: { tokenMiddleware: true },
    routes: (app, spy) => {
      app.get('/open', async request => { spy(request); return { claims: request.authJwt === null ? null : request.authJwt === false ? false : 'claims', invalid: request.invalidBearerToken } })
    }
  })
  t.same((await mw.call('/open')).body, { claims: null, invalid: false })
  t.same((await mw.get(token(world), '/open')).body, { claims: 'claims', invalid: false })
  t.same((await mw.get(token(world, { exp: 1 }), '/open')).body, { claims: false, invalid: false })
  t.same((await mw.call({ url: '/open', headers: { authorization: `Bearer  ${token(world)}` } })).body, { claims: false, invalid: true }, '@fastify/jwt\'s stricter header rule')
})

async function withLogs (t: Test, o: Parameters<typeof createApi>[2] = {}): Promise<{ api: Awaited<ReturnType<typeof createApi>>, lines: string[] }> {
  const sink = logSink()
  const api = await createApi(t, world, { ...o, fastify: { logger: { level: 'debug', stream: sink.stream } } })
  return { api, lines: sink.lines }
}

t.test('an @fastify/jwt that reads its token elsewhere is the app\'s mistake: 401 and an error log', async t => {
  const other = token(world, { scope: 'items:write' })
  const { api, lines } = await withLogs(t, { jwt: { verify: { extractToken: (request: { headers: Record<string, unknown> }) => request.headers['x-token'] as string } } })
  const out = await api.call({ url: '/items', headers: { authorization: `Bearer ${token(world)}`, 'x-token': other } })
  refused(t, out, 'IAC', api.realm)
  t.equal(logged(lines, 50).length, 1, 'one error line')
  t.match(logged(lines, 50)[0]?.msg, /reads another token than the Authorization header's/)
  const same = token(world)
  accepted(t, await api.call({ url: '/items', headers: { authorization: `Bearer ${same}`, 'x-token': same } }), 'the same token in both places')

  const cookieOnly = await withLogs(t, { jwt: { verify: { onlyCookie: true } } })
  refused(t, await cookieOnly.api.get(token(world)), 'IAC', cookieOnly.api.realm)
  t.match(logged(cookieOnly.lines, 50), [{ code: 'FST_JWT_NO_AUTHORIZATION_IN_HEADER' }])
  t.same(cookieOnly.api.app.axioms.stats().refusedBy, { upstream_error: 1 })
})

t.test('the app\'s trusted(): false is 401 Invalid access token; a rejection is an unmapped error, 401 too', async t => {
  const denied = new Set<string>()
  const { api, lines } = await withLogs(t, { jwt: { trusted: async (_request, payload) => !denied.has((payload as unknown as { jti: string }).jti) } })
  const tok = token(world, { jti: 'revoked-1' })
  accepted(t, await api.get(tok))
  denied.add('revoked-1')
  refused(t, await api.get(tok), 'IAC', api.realm)
  t.same(api.app.axioms.stats().refusedBy, { untrusted: 1 })
  t.equal(logged(lines, 50).length, 0, 'a revoked token is no error')

  const broken = await withLogs(t, { jwt: { trusted: async () => { throw new RangeError('denylist down') } } })
  refused(t, await broken.api.get(token(world)), 'IAC', broken.api.realm, { jwks: 1 })
  t.match(logged(broken.lines, 50), [{ code: 'RangeError', msg: /does not map \(answered 401\)/ }])
  t.notMatch(broken.lines.join('\n'), /denylist down/, 'no upstream message in the logs')
})

t.test('get-jwks\' issuersWhitelist without a configured issuer: 401 Invalid token issuer, and an error log', async t => {
  const { api, lines } = await withLogs(t, { getJwks: { issuersWhitelist: [world.b.issuer] } })
  refused(t, await api.get(token(world)), 'ISS', api.realm)
  t.match(logged(lines, 50), [{ code: 'DOMAIN_NOT_ALLOWED', issuer: world.a.issuer }])
})

t.test('request.jwtVerify() is bounded by jwksTimeout (get-jwks ignores its own): 503, a warn log', async t => {
  const idp = await createTestIssuer({ audience: API })
  t.teardown(() => idp.close())
  const sink = logSink()
  const app = Fastify({ logger: { level: 'debug', stream: sink.stream } })
  t.teardown(() => app.close())
  await registerFastifyJwt(app, buildGetJwks({ issuersWhitelist: [idp.issuer], timeout: 100 } as Parameters<typeof buildGetJwks>[0]))
  await app.register(axioms, { verifier: 'fastify-jwt', issuer: idp.issuer, audience: API, jwksTimeout: '300ms', env: {} })
  let handled = 0
  app.get('/p', { config: { axioms: {} } }, async () => { handled++; return { ok: true } })
  idp.setMode('hang')
  const started = Date.now()
  const res = await app.inject({ url: '/p', headers: { authorization: `Bearer ${idp.sign()}` } })
  const took = Date.now() - started
  t.equal(res.statusCode, 503)
  t.same(res.json(), { error: 'temporarily_unavailable', error_description: 'Unable to verify the access token right now' })
  t.equal(res.headers['retry-after'], '30')
  t.equal(res.headers['www-authenticate'], undefined)
  t.ok(took >= 290 && took < 5000, `answered after the deadline (${took} ms)`)
  t.equal(handled, 0)
  t.match(logged(sink.lines, 40), [{ cause: 'timeout', issuer: idp.issuer }])
})

t.test('an issuer that is gone (connection refused): 503, the cause code at warn', async t => {
  const idp = await createTestIssuer({ audience: API })
  const tok = idp.sign()
  await idp.close()
  const sink = logSink()
  const app = Fastify({ logger: { level: 'debug', stream: sink.stream } })
  t.teardown(() => app.close())
  await registerFastifyJwt(app, buildGetJwks({ issuersWhitelist: [idp.issuer] }))
  await app.register(axioms, { verifier: 'fastify-jwt', issuer: idp.issuer, audience: API, env: {} })
  app.get('/p', { config: { axioms: {} } }, async () => ({ ok: true }))
  const res = await app.inject({ url: '/p', headers: { authorization: `Bearer ${tok}` } })
  t.equal(res.statusCode, 503)
  t.match(logged(sink.lines, 40), [{ cause: /^E[A-Z]+$/ }])
})

t.test('axioms-fastify:verify messages in the mode: ok and refused, never the token', async t => {
  const seen: VerifyMessage[] = []
  const fn = (m: unknown): void => { seen.push(m as VerifyMessage) }
  diagnostics.subscribe(VERIFY_CHANNEL, fn)
  t.teardown(() => diagnostics.unsubscribe(VERIFY_CHANNEL, fn))
  const api = await createApi(t, world)
  await api.get(token(world, { jti: 'j-ok' }))
  await api.get(token(world, { jti: 'j-exp', exp: 1 }))
  await api.get(token(world, { iss: 'https://elsewhere.example' }, { kid: 'k-x' }))
  await api.get(token(world, { jti: undefined }))
  await api.get('not.a.token')
  t.same(seen, [
    { ok: true, issuer: world.a.issuer, kid: 'k-rs', jti: 'j-ok' },
    { ok: false, reason: 'expired', issuer: world.a.issuer, kid: 'k-rs', jti: 'j-exp' },
    { ok: false, reason: 'bad_issuer', kid: 'k-x', jti: seen[2]?.jti },
    { ok: true, issuer: world.a.issuer, kid: 'k-rs' },
    { ok: false, reason: 'malformed' }
  ])
})
