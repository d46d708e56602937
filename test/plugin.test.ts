// The plugin on real routes: stacking (AND), any-of / all-of, kinds ANDed, safe methods, HEAD,
// optional, fail-closed routes declared before registration, route declaration refusals at
// startup, hook positions, and app.axioms.verify.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance, type RouteShorthandOptions } from 'fastify'
import axioms, { AxiomsError, type AxiomsOptions } from '../index.js'
import { ConfigError } from '../lib/options/index.js'
import { appWithIssuer } from './fixture.js'
import { createTestIssuer, type TestIssuer } from '../testing.js'
import { offered } from './fixture.js'

interface Ctx { app: FastifyInstance, idp: TestIssuer, calls: { n: number }, auth: (claims?: Record<string, unknown>) => Record<string, string> }

async function setup (t: Test, options: AxiomsOptions = {}): Promise<Ctx> {
  const { app, idp } = await appWithIssuer(t, options)
  return { app, idp, calls: { n: 0 }, auth: (claims = {}) => ({ authorization: `Bearer ${idp.sign(claims)}` }) }
}

function route (ctx: Ctx, url: string, opts: RouteShorthandOptions, methods: string[] = ['GET']): void {
  ctx.app.route({
    method: methods as ['GET'],
    url,
    ...opts,
    handler: async request => {
      ctx.calls.n++
      return { authJwt: request.authJwt }
    }
  })
}

async function status (ctx: Ctx, url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<number> {
  const res = await ctx.app.inject({ method: method as 'GET', url, headers })
  return res.statusCode
}

t.test('stacked hooks are ANDed', async t => {
  const ctx = await setup(t)
  route(ctx, '/stack', { preHandler: [ctx.app.hasValidAccessToken(), ctx.app.hasRequiredScopes(['read']), ctx.app.hasRequiredRoles(['admin']), ctx.app.hasRequiredPermissions(['p'])] })
  route(ctx, '/both', { preHandler: ctx.app.hasRequiredRoles(['admin']), config: { axioms: { scopes: ['read'] } } })
  route(ctx, '/alone', { preHandler: ctx.app.hasRequiredScopes(['read']) })
  t.equal(await status(ctx, '/stack', ctx.auth({ scope: 'read', roles: ['admin'], permissions: ['p'] })), 200)
  t.equal(await status(ctx, '/stack', ctx.auth({ scope: 'read', roles: ['admin'] })), 403)
  t.equal(await status(ctx, '/stack', ctx.auth({ scope: 'read', permissions: ['p'] })), 403)
  t.equal(await status(ctx, '/stack', ctx.auth({ roles: ['admin'], permissions: ['p'] })), 403)
  t.equal(await status(ctx, '/stack'), 401)
  t.equal(ctx.calls.n, 1)
  // Hooks and a declaration together: both must hold.
  t.equal(await status(ctx, '/both', ctx.auth({ scope: 'read', roles: ['admin'] })), 200)
  t.equal(await status(ctx, '/both', ctx.auth({ scope: 'read' })), 403)
  t.equal(await status(ctx, '/both', ctx.auth({ roles: ['admin'] })), 403)
  // A requirement hook alone verifies the token first: never a hole.
  t.equal(await status(ctx, '/alone'), 401)
  t.equal(await status(ctx, '/alone', { authorization: 'Bearer x.y.z' }), 401)
  t.equal(await status(ctx, '/alone', ctx.auth({ scope: 'read' })), 200)
  t.equal(ctx.calls.n, 3)
})

t.test('any-of and all-of requirements; kinds ANDed in one declaration', async t => {
  const ctx = await setup(t)
  route(ctx, '/any-list', { config: { axioms: { scopes: ['a', 'b'] } } })
  route(ctx, '/any', { config: { axioms: { scopes: { any: ['a', 'b'] } } } })
  route(ctx, '/all', { config: { axioms: { scopes: { all: ['a', 'b'] } } } })
  route(ctx, '/hook-all', { preHandler: ctx.app.hasRequiredRoles({ all: ['r1', 'r2'] }) })
  route(ctx, '/hook-any', { preHandler: ctx.app.hasRequiredPermissions({ any: ['p1', 'p2'] }) })
  route(ctx, '/kinds', { config: { axioms: { scopes: { all: ['read:data', 'openid'] }, roles: ['editor'], permissions: { any: ['x', 'y'] } } } })
  for (const url of ['/any-list', '/any']) {
    t.equal(await status(ctx, url, ctx.auth({ scope: 'a' })), 200)
    t.equal(await status(ctx, url, ctx.auth({ scope: 'b' })), 200)
    t.equal(await status(ctx, url, ctx.auth({ scope: 'c' })), 403)
  }
  t.equal(await status(ctx, '/all', ctx.auth({ scope: 'a b' })), 200)
  t.equal(await status(ctx, '/all', ctx.auth({ scope: 'a' })), 403)
  const res = await ctx.app.inject({ url: '/all', headers: ctx.auth({ scope: 'b' }) })
  t.match(res.headers['www-authenticate'], /, scope="a b"$/)
  t.equal(await status(ctx, '/hook-all', ctx.auth({ roles: ['r2', 'r1'] })), 200)
  t.equal(await status(ctx, '/hook-all', ctx.auth({ roles: ['r1'] })), 403)
  t.equal(await status(ctx, '/hook-any', ctx.auth({ permissions: ['p2'] })), 200)
  t.equal(await status(ctx, '/hook-any', ctx.auth({ permissions: [] })), 403)
  const full = { scope: 'openid read:data', roles: ['editor'], permissions: ['y'] }
  t.equal(await status(ctx, '/kinds', ctx.auth(full)), 200)
  t.equal(await status(ctx, '/kinds', ctx.auth({ ...full, scope: 'openid' })), 403)
  t.equal(await status(ctx, '/kinds', ctx.auth({ ...full, roles: ['viewer'] })), 403)
  t.equal(await status(ctx, '/kinds', ctx.auth({ ...full, permissions: ['z'] })), 403)
  const kinds = await ctx.app.inject({ url: '/kinds', headers: ctx.auth({ ...full, roles: [] }) })
  t.notMatch(kinds.headers['www-authenticate'], /scope=/, 'a role failure names no scope')
  t.equal(ctx.calls.n, 8)
})

t.test('safe methods', async t => {
  const ctx = await setup(t)
  route(ctx, '/cfg', { config: { axioms: { scopes: ['a'] } } }, ['GET', 'OPTIONS', 'DELETE'])
  route(ctx, '/hook', { preHandler: [ctx.app.hasValidAccessToken(), ctx.app.hasRequiredScopes(['a'])] }, ['GET', 'OPTIONS'])
  route(ctx, '/hook-get', { preHandler: [ctx.app.hasValidAccessToken({ safeMethods: ['get'] }), ctx.app.hasRequiredScopes(['a'], { safeMethods: ['GET'] })] }, ['GET', 'POST'])
  route(ctx, '/decl-get', { config: { axioms: { scopes: ['a'], safeMethods: ['GET'] } } }, ['GET', 'OPTIONS'])
  route(ctx, '/decl-none', { config: { axioms: { scopes: ['a'], safeMethods: [] } } }, ['GET', 'OPTIONS'])
  route(ctx, '/hook-none', { preHandler: ctx.app.hasValidAccessToken({ safeMethods: [] }) }, ['OPTIONS'])
  t.equal(await status(ctx, '/cfg', {}, 'OPTIONS'), 200, 'OPTIONS is safe by default (route config)')
  t.equal(await status(ctx, '/hook', {}, 'OPTIONS'), 200, 'OPTIONS is safe by default (hooks)')
  t.equal(await status(ctx, '/cfg', {}, 'DELETE'), 401)
  t.equal(await status(ctx, '/hook-get'), 200, 'per-hook safeMethods')
  t.equal(await status(ctx, '/hook-get', {}, 'POST'), 401)
  t.equal(await status(ctx, '/decl-get'), 200, 'per-declaration safeMethods')
  t.equal(await status(ctx, '/decl-get', {}, 'OPTIONS'), 401, 'the declaration list replaces the global one')
  t.equal(await status(ctx, '/decl-none', {}, 'OPTIONS'), 401, 'safeMethods: [] makes OPTIONS need a token')
  t.equal(await status(ctx, '/hook-none', {}, 'OPTIONS'), 401)
  t.equal(await status(ctx, '/decl-none', ctx.auth({ scope: 'a' }), 'OPTIONS'), 200)

  const none = await setup(t, { safeMethods: [] })
  route(none, '/x', { config: { axioms: {} } }, ['OPTIONS'])
  t.equal(await status(none, '/x', {}, 'OPTIONS'), 401, 'global safeMethods: []')
  t.equal(await status(none, '/x', none.auth(), 'OPTIONS'), 200)
  const get = await setup(t, { safeMethods: ['GET', 'OPTIONS'] })
  route(get, '/x', { preHandler: get.app.hasRequiredScopes(['a']) }, ['GET', 'POST'])
  t.equal(await status(get, '/x'), 200, 'global safeMethods')
  t.equal(await status(get, '/x', {}, 'POST'), 401)
})

t.test('HEAD of a protected GET', async t => {
  const ctx = await setup(t)
  route(ctx, '/cfg', { config: { axioms: { scopes: ['a'] } } })
  route(ctx, '/hook', { preHandler: [ctx.app.hasValidAccessToken(), ctx.app.hasRequiredScopes(['a'])] })
  for (const url of ['/cfg', '/hook']) {
    const res = await ctx.app.inject({ method: 'HEAD', url })
    t.equal(res.statusCode, 401, url)
    t.equal(res.headers['www-authenticate'], offered(ctx.idp.issuer))
    t.equal(res.body, '')
    const forbidden = await ctx.app.inject({ method: 'HEAD', url, headers: ctx.auth({ scope: 'b' }) })
    t.equal(forbidden.statusCode, 403)
    const ok = await ctx.app.inject({ method: 'HEAD', url, headers: ctx.auth({ scope: 'a' }) })
    t.equal(ok.statusCode, 200)
  }
  t.equal(ctx.calls.n, 2)
})

t.test('optional', async t => {
  const ctx = await setup(t)
  route(ctx, '/hook', { preHandler: ctx.app.hasValidAccessToken({ optional: true }) })
  route(ctx, '/cfg', { config: { axioms: { optional: true } } })
  route(ctx, '/then-scope', { preHandler: [ctx.app.hasValidAccessToken({ optional: true }), ctx.app.hasRequiredScopes(['a'])] })
  for (const url of ['/hook', '/cfg']) {
    const anon = await ctx.app.inject({ url })
    t.equal(anon.statusCode, 200, `${url} anonymous`)
    t.same(anon.json(), { authJwt: null })
    const bad = await ctx.app.inject({ url, headers: { authorization: 'Bearer not-a-token' } })
    t.equal(bad.statusCode, 401, `${url} invalid token`)
    t.same(bad.json(), { error: 'invalid_token', error_description: 'Malformed token' })
    const scheme = await ctx.app.inject({ url, headers: { authorization: 'Basic abc' } })
    t.equal(scheme.statusCode, 401, `${url} other scheme is refused`)
    const ok = await ctx.app.inject({ url, headers: ctx.auth({ sub: 'u1' }) })
    t.equal(ok.statusCode, 200)
    t.equal(ok.json().authJwt.sub, 'u1')
  }
  t.equal(await status(ctx, '/then-scope'), 401, 'a requirement after an optional hook still needs a token')
  t.equal(await status(ctx, '/then-scope', ctx.auth({ scope: 'a' })), 200)
  t.equal(ctx.calls.n, 5)
  t.equal((await setup(t, { safeMethods: [] })).app.hasValidAccessToken({ optional: false }).name, 'hasValidAccessToken')
})

t.test('routes declared before registration fail closed', async t => {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  let calls = 0
  app.get('/early', { config: { axioms: { scopes: ['a'] } } }, async () => { calls++; return 'open' })
  app.get('/early-empty', { config: { axioms: {} } }, async () => { calls++; return 'open' })
  app.get('/early-garbage', { config: { axioms: 'scopes' as never } }, async () => { calls++; return 'open' })
  app.get('/early-plain', async () => { calls++; return 'public' })
  await app.register(axioms, { audience: 'your-api-audience', issuer: idp.issuer, env: {} })
  app.get('/late', { config: { axioms: { scopes: ['a'] } } }, async () => { calls++; return 'protected' })
  const token = `Bearer ${idp.sign({ scope: 'a' })}`
  for (const url of ['/early', '/early-empty', '/early-garbage']) {
    for (const headers of [{}, { authorization: token }]) {
      const res = await app.inject({ url, headers })
      t.equal(res.statusCode, 500, url)
      t.same(res.json(), { error: 'server_error', error_description: 'Route protection is misconfigured' })
    }
  }
  t.equal(calls, 0)
  t.equal((await app.inject({ url: '/early-plain' })).statusCode, 200, 'routes without a declaration are untouched')
  t.equal((await app.inject({ url: '/late', headers: { authorization: token } })).statusCode, 200)
  t.equal((await app.inject({ url: '/missing' })).statusCode, 404)
  t.equal(calls, 2)
})

t.test('routes in encapsulated contexts are protected too', async t => {
  const ctx = await setup(t)
  await ctx.app.register(async child => {
    child.get('/child', { config: { axioms: { roles: ['r'] } } }, async () => { ctx.calls.n++; return 'ok' })
    child.get('/child-hook', { preHandler: child.hasRequiredRoles(['r']) }, async () => { ctx.calls.n++; return 'ok' })
  }, { prefix: '/api' })
  t.equal(await status(ctx, '/api/child'), 401)
  t.equal(await status(ctx, '/api/child-hook'), 401)
  t.equal(await status(ctx, '/api/child', ctx.auth({ roles: ['r'] })), 200)
  t.equal(await status(ctx, '/api/child-hook', ctx.auth({ roles: ['r'] })), 200)
  t.equal(ctx.calls.n, 2)
})

t.test('hooks work in onRequest, preValidation and preHandler; declarations are shared safely', async t => {
  const ctx = await setup(t)
  route(ctx, '/on-request', { onRequest: [ctx.app.hasValidAccessToken(), ctx.app.hasRequiredScopes(['a'])] }, ['POST'])
  route(ctx, '/pre-validation', { preValidation: ctx.app.hasRequiredScopes(['a']) }, ['POST'])
  const shared = { roles: ['r'] }
  route(ctx, '/shared-1', { config: { axioms: shared } })
  route(ctx, '/shared-2', { config: { axioms: shared } })
  route(ctx, '/decl-hook', { onRequest: ctx.app.hasRequiredRoles(), config: { axioms: { roles: ['r'] } } })
  for (const url of ['/on-request', '/pre-validation']) {
    const res = await ctx.app.inject({ method: 'POST', url, payload: { big: 'x'.repeat(1000) } })
    t.equal(res.statusCode, 401, url)
    t.equal(await status(ctx, url, ctx.auth({ scope: 'a' }), 'POST'), 200)
  }
  for (const url of ['/shared-1', '/shared-2', '/decl-hook']) {
    t.equal(await status(ctx, url), 401, url)
    t.equal(await status(ctx, url, ctx.auth({ roles: ['x'] })), 403)
    t.equal(await status(ctx, url, ctx.auth({ roles: ['r'] })), 200)
  }
  t.equal(ctx.calls.n, 5)
})

t.test('a declaration-reading hook added with addHook fails closed (500) on routes without the declaration', async t => {
  const ctx = await setup(t)
  await ctx.app.register(async child => {
    child.addHook('preHandler', child.hasRequiredScopes())
    child.get('/plain', async () => { ctx.calls.n++; return 'ok' })
    child.get('/declared', { config: { axioms: { scopes: ['a'], safeMethods: ['GET'] } } }, async () => { ctx.calls.n++; return 'ok' })
    child.get('/declared-roles', { config: { axioms: { roles: ['r'] } } }, async () => { ctx.calls.n++; return 'ok' })
  })
  const plain = await ctx.app.inject({ url: '/plain', headers: ctx.auth({ scope: 'a' }) })
  t.equal(plain.statusCode, 500)
  t.same(plain.json(), { error: 'server_error', error_description: 'Route protection is misconfigured' })
  t.equal((await ctx.app.inject({ url: '/plain' })).statusCode, 500, 'with or without a token: the route cannot be enforced')
  t.equal(await status(ctx, '/declared'), 200, 'the declaration safe methods apply')
  t.equal(await status(ctx, '/declared-roles', ctx.auth({ roles: ['r'] })), 500, 'no scopes declared: refused')
  t.equal(ctx.calls.n, 1)
  const own = await setup(t)
  await own.app.register(async child => {
    child.addHook('preHandler', child.hasRequiredScopes(undefined, { safeMethods: ['GET'] }))
    child.get('/declared', { config: { axioms: { scopes: ['a'], safeMethods: [] } } }, async () => 'ok')
  })
  const res = await own.app.inject({ url: '/declared', headers: own.auth({ scope: 'b' }) })
  t.equal(res.statusCode, 403, 'the route rule still applies in onRequest')
})

t.test('route declarations are checked at startup', async t => {
  const ctx = await setup(t)
  const bad: Array<[unknown, RegExp]> = [
    ['scopes', /config\.axioms of GET \/bad.* must be an object/],
    [['a'], /must be an object/],
    [{ scope: ['a'] }, /has an unknown key "scope"/],
    [{ scopes: [] }, /"config\.axioms of GET \/bad\.scopes" must list at least one value/],
    [{ roles: { any: [] } }, /\.roles" must list at least one value/],
    [{ permissions: { all: [] } }, /\.permissions" must list at least one value/],
    [{ scopes: { any: ['a'], all: ['b'] } }, /\.scopes" must be a string\[\], \{ any: string\[\] \} or \{ all: string\[\] \}/],
    [{ scopes: { some: ['a'] } }, /\.scopes"/],
    [{ scopes: 'a' }, /\.scopes"/],
    [{ scopes: { any: 'a' } }, /\.scopes"/],
    [{ scopes: ['a b'] }, /\.scopes" values must be non-empty strings without spaces/],
    [{ scopes: [''] }, /\.scopes"/],
    [{ roles: [1] }, /\.roles"/],
    [{ optional: true, scopes: ['a'] }, /\.optional" cannot be combined with scopes, roles or permissions/],
    [{ optional: 'yes' }, /\.optional" must be true or false/],
    [{ safeMethods: 'GET' }, /\.safeMethods" must be a list of HTTP method names/]
  ]
  for (const [decl, pattern] of bad) {
    t.throws(() => ctx.app.get('/bad', { config: { axioms: decl as never } }, async () => 'x'), pattern, JSON.stringify(decl))
  }
  t.throws(() => ctx.app.get('/bad', { preHandler: ctx.app.hasRequiredScopes() }, async () => 'x'),
    /"GET \/bad" uses a hasRequired\* hook without a requirement, so it needs config\.axioms\.scopes/)
  t.throws(() => ctx.app.get('/bad', { preHandler: [ctx.app.hasValidAccessToken(), ctx.app.hasRequiredRoles()], config: { axioms: { scopes: ['a'] } } }, async () => 'x'),
    /has no "roles", but a hasRequired\* hook without a requirement reads it/)
  // Hook factories refuse bad requirements when called.
  const factories: Array<[() => unknown, RegExp]> = [
    [() => ctx.app.hasRequiredScopes([]), /"hasRequiredScopes\(\)\.scopes" must list at least one value/],
    [() => ctx.app.hasRequiredRoles({ all: [] }), /hasRequiredRoles\(\)\.roles/],
    [() => ctx.app.hasRequiredPermissions(['a', 7] as never), /hasRequiredPermissions\(\)\.permissions/],
    [() => ctx.app.hasValidAccessToken({ optional: 1 } as never), /"hasValidAccessToken options\.optional" must be true or false/],
    [() => ctx.app.hasValidAccessToken({ safeMethods: 'GET' } as never), /hasValidAccessToken options\.safeMethods/],
    [() => ctx.app.hasValidAccessToken('x' as never), /"hasValidAccessToken options" must be an object/],
    [() => ctx.app.hasRequiredScopes(undefined, { bogus: 1 } as never), /"hasRequiredScopes options" has an unknown key "bogus"/],
    [() => ctx.app.hasRequiredScopes(['a'], { optional: true } as never), /cannot be combined/]
  ]
  for (const [make, pattern] of factories) t.throws(make, pattern)
})

t.test('startup refusals inside a plugin reject ready()', async t => {
  const cases: Array<[(app: FastifyInstance) => void, RegExp]> = [
    [app => app.get('/x', { config: { axioms: { scopes: [] } } }, async () => 'x'), /config\.axioms of GET \/x\.scopes/],
    [app => app.get('/x', { config: { axioms: 'scopes' as never } }, async () => 'x'), /"config\.axioms of GET \/x" must be an object/],
    [app => app.get('/x', { config: { axioms: { roles: ['r'], extra: true } as never } }, async () => 'x'), /unknown key "extra"/],
    [app => app.get('/x', { config: { axioms: { optional: true, roles: ['r'] } } }, async () => 'x'), /optional/],
    [app => app.get('/x', { preHandler: app.hasRequiredPermissions() }, async () => 'x'), /needs config\.axioms\.permissions/],
    [app => app.get('/x', { preHandler: app.hasRequiredScopes([]) }, async () => 'x'), /hasRequiredScopes\(\)\.scopes/]
  ]
  for (const [declare, pattern] of cases) {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(axioms, { audience: 'a', issuer: 'https://issuer.example', jwksPrefetch: false, env: {} })
    app.register(async child => declare(child))
    const err = await app.ready().then(() => undefined, (e: unknown) => e)
    t.type(err, ConfigError)
    t.match((err as Error).message, pattern)
  }
})

t.test('app.axioms.verify', async t => {
  const ctx = await setup(t)
  const claims = await ctx.app.axioms.verify(ctx.idp.sign({ sub: 'worker', scope: 'queue' }))
  t.equal(claims.sub, 'worker')
  t.ok(Object.isFrozen(claims))
  const reasons: Array<[unknown, string, number]> = [
    ['', 'malformed', 401],
    [7, 'malformed', 401],
    ['x'.repeat(8193), 'token_too_large', 401],
    ['a.b', 'malformed', 401],
    [ctx.idp.sign({ exp: 1 }), 'expired', 401],
    [ctx.idp.sign({ iss: 'https://evil.example' }), 'bad_issuer', 401]
  ]
  for (const [token, reason, code] of reasons) {
    const err = await ctx.app.axioms.verify(token as string).then(() => undefined, (e: unknown) => e)
    t.type(err, AxiomsError)
    t.equal((err as AxiomsError).reason, reason)
    t.equal((err as AxiomsError).statusCode, code)
  }
  await ctx.app.axioms.refresh()
  const stats = ctx.app.axioms.stats()
  t.equal(stats.refused, reasons.length, 'every refusal counted, the oversized one too')
  t.equal(stats.refusedBy.token_too_large, 1)
  t.equal(stats.tokenCacheSize, 0)
  t.equal(stats.issuers.length, 1)
})

t.test('decorators are present and the plugin is named', async t => {
  const ctx = await setup(t)
  for (const name of ['hasValidAccessToken', 'hasRequiredScopes', 'hasRequiredRoles', 'hasRequiredPermissions', 'checkObjectOwnership', 'axioms'] as const) {
    t.ok(ctx.app.hasDecorator(name), name)
  }
  for (const name of ['authJwt', 'missingAuthHeader', 'invalidBearerToken', 'ownedObject']) t.ok(ctx.app.hasRequestDecorator(name), name)
  t.equal(ctx.app.hasRequiredScopes(['a']).name, 'hasRequiredScopes')
  t.equal(ctx.app.hasRequiredRoles().name, 'hasRequiredRoles')
  t.equal((axioms as unknown as Record<symbol, unknown>)[Symbol.for('fastify.display-name')], 'axioms-fastify')
  const twice = Fastify()
  t.teardown(() => twice.close())
  await twice.register(axioms, { audience: 'a', issuer: 'https://issuer.example', jwksPrefetch: false, env: {} })
  const err = await twice.register(axioms, { audience: 'a', issuer: 'https://issuer.example', jwksPrefetch: false, env: {} }).then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof Error, 'registering twice on one instance is refused (decorators exist)')
})

t.test('a hanging issuer at startup is not fatal: onReady waits at most half of pluginTimeout', async t => {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  idp.setMode('hang')
  const app = Fastify({ pluginTimeout: 2000 })
  t.teardown(() => app.close())
  // Each fetch may take 3 s, longer than Fastify allows an onReady hook.
  await app.register(axioms, { audience: 'your-api-audience', issuer: idp.issuer, jwksTimeout: '3000ms', env: {} })
  let calls = 0
  app.get('/x', { config: { axioms: {} } }, async () => { calls++; return 'ok' })
  await app.ready()
  t.pass('ready() resolved')
  const res = await app.inject({ url: '/x', headers: { authorization: `Bearer ${idp.sign()}` } })
  t.equal(res.statusCode, 503, 'the request shares the prefetch, which times out')
  t.equal(res.headers['retry-after'], '5')
  t.equal(calls, 0)
})

t.test('without a pluginTimeout, onReady waits for the prefetch', async t => {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const app = Fastify({ pluginTimeout: 0 })
  t.teardown(() => app.close())
  await app.register(axioms, { audience: 'your-api-audience', issuer: idp.issuer, env: {} })
  await app.ready()
  t.equal(idp.requests.discovery, 1)
  t.equal(idp.requests.jwks, 1, 'the key set is there before the first request')
})
