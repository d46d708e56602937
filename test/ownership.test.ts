// checkObjectOwnership: 200 with request.ownedObject, 403 on a mismatch, 404 without a challenge,
// Map objects, numbers against string subjects, custom fields, sync and async loaders.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import axioms from '../index.js'
import { ConfigError } from '../lib/options/index.js'
import { createTestIssuer, type TestIssuer } from '../testing.js'
import { offered } from './fixture.js'

const NOT_OWNER = { error: 'insufficient_scope', error_description: 'You do not have permission to access this resource' }

interface Ctx { app: FastifyInstance, idp: TestIssuer, calls: { n: number }, loads: { n: number } }

const store: Record<string, unknown> = {
  a1: { id: 'a1', user: 'alice' },
  n42: { id: 'n42', user: 42 },
  big: { id: 'big', user: 12345678901234567890n },
  m1: new Map<string, unknown>([['user', 'alice'], ['id', 'm1']]),
  owner: { id: 'o1', owner: 'alice', user: 'bob' },
  obj: { id: 'obj', user: { toString: () => 'alice' } },
  nulluser: { id: 'nu', user: null },
  // ORM models often expose fields as getters on the prototype.
  model: new (class Model { id = 'model'; get user (): string { return 'alice' } })()
}

async function setup (t: Test): Promise<Ctx> {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, { audience: 'your-api-audience', issuer: idp.issuer, env: {} })
  const calls = { n: 0 }
  const loads = { n: 0 }
  const handler = async (request: { ownedObject: unknown }): Promise<unknown> => {
    calls.n++
    const o = request.ownedObject
    if (o === null) return { owned: null }
    return { owned: o instanceof Map ? o.get('id') : (o as { id: unknown }).id }
  }
  const id = (req: { params: unknown }): string => (req.params as { id: string }).id
  app.get('/async/:id', { preHandler: [app.hasValidAccessToken(), app.checkObjectOwnership({ getObject: async req => { loads.n++; return store[id(req)] } })] }, handler)
  app.get('/sync/:id', { preHandler: app.checkObjectOwnership({ getObject: req => { loads.n++; return store[id(req)] ?? null } }) }, handler)
  app.get('/owner/:id', { preHandler: app.checkObjectOwnership({ getObject: req => store[id(req)], ownerField: 'owner' }) }, handler)
  app.get('/email/:id', { preHandler: app.checkObjectOwnership({ getObject: () => ({ user: 'alice@example.com' }), claimField: 'email' }) }, handler)
  app.route({
    method: ['GET', 'PUT'],
    url: '/safe/:id',
    preHandler: app.checkObjectOwnership({ getObject: req => { loads.n++; return store[id(req)] }, safeMethods: ['GET'] }),
    handler
  })
  app.get('/stack/:id', { preHandler: [app.hasRequiredScopes(['edit']), app.checkObjectOwnership({ getObject: req => store[id(req)] })] }, handler)
  return { app, idp, calls, loads }
}

function as (ctx: Ctx, claims: Record<string, unknown>): Record<string, string> {
  return { authorization: `Bearer ${ctx.idp.sign(claims)}` }
}

t.test('owner gets the object on request.ownedObject', async t => {
  const ctx = await setup(t)
  for (const url of ['/async/a1', '/sync/a1']) {
    const res = await ctx.app.inject({ url, headers: as(ctx, { sub: 'alice' }) })
    t.equal(res.statusCode, 200, url)
    t.same(res.json(), { owned: 'a1' })
  }
  const map = await ctx.app.inject({ url: '/async/m1', headers: as(ctx, { sub: 'alice' }) })
  t.equal(map.statusCode, 200, 'Map objects')
  t.same(map.json(), { owned: 'm1' })
  const model = await ctx.app.inject({ url: '/sync/model', headers: as(ctx, { sub: 'alice' }) })
  t.equal(model.statusCode, 200, 'class instance with a getter')
  t.same(model.json(), { owned: 'model' })
  const num = await ctx.app.inject({ url: '/sync/n42', headers: as(ctx, { sub: '42' }) })
  t.equal(num.statusCode, 200, 'numeric owner vs string sub')
  const numClaim = await ctx.app.inject({ url: '/sync/a1', headers: as(ctx, { sub: 'alice' }) })
  t.equal(numClaim.statusCode, 200)
  const big = await ctx.app.inject({ url: '/sync/big', headers: as(ctx, { sub: '12345678901234567890' }) })
  t.equal(big.statusCode, 200, 'bigint owner')
  const numSub = await ctx.app.inject({ url: '/sync/n42', headers: as(ctx, { sub: 42 }) })
  t.equal(numSub.statusCode, 200, 'numeric sub')
  const field = await ctx.app.inject({ url: '/owner/owner', headers: as(ctx, { sub: 'alice' }) })
  t.equal(field.statusCode, 200, 'ownerField')
  const claim = await ctx.app.inject({ url: '/email/x', headers: as(ctx, { sub: 'bob', email: 'alice@example.com' }) })
  t.equal(claim.statusCode, 200, 'claimField')
  t.equal(ctx.calls.n, 10)
})

t.test('a mismatch is 403, a missing object 404 without a challenge', async t => {
  const ctx = await setup(t)
  const realm = ctx.idp.issuer
  const forbidden = [
    ['/async/a1', { sub: 'bob' }],
    ['/sync/a1', { sub: 'Alice' }],
    ['/sync/a1', {}],
    ['/sync/a1', { sub: null }],
    ['/sync/a1', { sub: ['alice'] }],
    ['/sync/n42', { sub: '42.0' }],
    ['/sync/obj', { sub: 'alice' }],
    ['/sync/nulluser', { sub: 'null' }],
    ['/owner/owner', { sub: 'bob' }],
    ['/email/x', { sub: 'alice@example.com' }],
    ['/async/m1', { sub: 'm1' }]
  ] as const
  for (const [url, claims] of forbidden) {
    const res = await ctx.app.inject({ url, headers: as(ctx, claims) })
    t.equal(res.statusCode, 403, `${url} ${JSON.stringify(claims)}`)
    t.same(res.json(), NOT_OWNER)
    t.equal(res.headers['www-authenticate'], `Bearer realm="${realm}", error="insufficient_scope", error_description="You do not have permission to access this resource"`)
  }
  for (const url of ['/async/none', '/sync/none']) {
    const res = await ctx.app.inject({ url, headers: as(ctx, { sub: 'alice' }) })
    t.equal(res.statusCode, 404)
    t.same(res.json(), { error: 'not_found', error_description: 'Object not found' })
    t.notOk('www-authenticate' in res.headers)
  }
  t.equal(ctx.calls.n, 0)
})

t.test('the token is checked before the object is loaded', async t => {
  const ctx = await setup(t)
  for (const url of ['/async/a1', '/sync/a1', '/sync/none']) {
    const res = await ctx.app.inject({ url })
    t.equal(res.statusCode, 401)
    t.equal(res.headers['www-authenticate'], offered(ctx.idp.issuer))
    const bad = await ctx.app.inject({ url, headers: { authorization: 'Bearer a.b.c' } })
    t.equal(bad.statusCode, 401)
  }
  t.equal(ctx.loads.n, 0, 'getObject never ran for an unauthenticated request')
  const stacked = await ctx.app.inject({ url: '/stack/a1', headers: as(ctx, { sub: 'alice' }) })
  t.equal(stacked.statusCode, 403, 'stacked with a scope requirement: both hold')
  t.same(stacked.json(), { error: 'insufficient_scope', error_description: 'Insufficient role, scope or permission' })
  const both = await ctx.app.inject({ url: '/stack/a1', headers: as(ctx, { sub: 'alice', scope: 'edit' }) })
  t.equal(both.statusCode, 200)
  // Safe methods skip the check (and the load) entirely.
  const safe = await ctx.app.inject({ url: '/safe/a1' })
  t.equal(safe.statusCode, 200)
  t.same(safe.json(), { owned: null })
  const put = await ctx.app.inject({ method: 'PUT', url: '/safe/a1' })
  t.equal(put.statusCode, 401)
  t.equal(ctx.loads.n, 0)
})

t.test('bad ownership options are refused when the hook is made', async t => {
  const ctx = await setup(t)
  const cases: Array<[unknown, RegExp]> = [
    [undefined, /"checkObjectOwnership" needs \{ getObject\(request\) \}/],
    [null, /getObject/],
    [{}, /getObject/],
    [{ getObject: 'x' }, /getObject/],
    [{ getObject: () => null, ownerField: '' }, /ownerField and claimField must be non-empty strings/],
    [{ getObject: () => null, claimField: 7 }, /ownerField and claimField/],
    [{ getObject: () => null, safeMethods: 'GET' }, /"checkObjectOwnership\.safeMethods"/]
  ]
  for (const [opts, pattern] of cases) {
    t.throws(() => ctx.app.checkObjectOwnership(opts as never), pattern)
    t.throws(() => ctx.app.checkObjectOwnership(opts as never), ConfigError)
  }
})
