// Claim resolution (SPEC §4) through real routes and the pure helpers: name order (first present,
// non-null claim wins even if empty), strings split on runs of spaces, arrays of strings, nested
// paths, other types contributing nothing (403, never 500), exact matching, and frozen claims.
import t, { type Test } from 'tap'
import { type AxiomsOptions, getTokenPermissions, getTokenRoles, getTokenScopes } from '../index.js'
import { claimValues, compileRequirement, freezeClaims, MAX_CLAIM_DEPTH, satisfies } from '../lib/claims.js'
import { appWithIssuer, type Fixture as Ctx } from './fixture.js'

async function setup (t: Test, options: AxiomsOptions = {}): Promise<Ctx> {
  return appWithIssuer(t, options)
}

async function code (ctx: Ctx, url: string, claims: Record<string, unknown>): Promise<number> {
  const res = await ctx.app.inject({ url, headers: { authorization: `Bearer ${ctx.idp.sign(claims)}` } })
  return res.statusCode
}

t.test('pure helpers', async t => {
  t.same(getTokenScopes({ scope: 'openid  profile   email ' }), ['openid', 'profile', 'email'], 'runs of spaces')
  t.same(getTokenScopes({ scp: ['a', 1, null, 'b', { c: 1 }, 'a'] }), ['a', 'b'], 'scp array, strings only, deduplicated')
  t.same(getTokenScopes({ scope: '', scp: ['a'] }), [], 'first present claim wins even if empty')
  t.same(getTokenScopes({ scope: [], scp: ['a'] }), [])
  t.same(getTokenScopes({ scope: null, scp: 'a b' }), ['a', 'b'], 'null counts as absent')
  t.same(getTokenScopes({ scope: undefined, scp: ['a'] }), ['a'])
  t.same(getTokenScopes({ scope: 7, scp: ['a'] }), [], 'another type contributes nothing and still wins')
  t.same(getTokenScopes({ scope: true }), [])
  t.same(getTokenScopes({ scope: { a: 'b' } }), [])
  t.same(getTokenScopes({}), [])
  t.same(getTokenScopes(null), [])
  t.same(getTokenScopes('scope'), [])
  t.same(getTokenRoles({ roles: ['admin'], groups: ['x'] }), ['admin'])
  t.same(getTokenRoles({ groups: ['x'] }, ['groups']), ['x'])
  t.same(getTokenPermissions({ permissions: 'read:a write:a' }), ['read:a', 'write:a'])
  t.same(getTokenPermissions({ perms: ['p'] }, ['perms', 'permissions']), ['p'])
  const keycloak = { realm_access: { roles: ['realm-admin'] }, resource_access: { 'my.client': { roles: ['client-admin'] } } }
  t.same(getTokenRoles(keycloak, [['realm_access', 'roles']]), ['realm-admin'])
  t.same(getTokenRoles(keycloak, [['resource_access', 'my.client', 'roles']]), ['client-admin'], 'a dotted key is one key of a path')
  t.same(getTokenRoles(keycloak, [['resource_access', 'other', 'roles'], ['realm_access', 'roles']]), ['realm-admin'], 'falls through to the next path')
  t.same(getTokenRoles({ 'resource_access.my.client.roles': ['x'] }, [['resource_access', 'my.client', 'roles']]), [], 'no dotted-name lookup')
  t.same(getTokenRoles({ a: [{ b: ['x'] }] }, [['a', '0', 'b']]), [], 'paths do not go through arrays')
  t.same(getTokenRoles({ a: 'b' }, [['a', 'length']]), [], 'nor through strings')
  t.same(getTokenRoles({ a: null }, [['a', 'b']]), [])
  t.same(getTokenRoles(null, [['a']]), [])
  // Prototype names are ordinary strings, never looked up through the prototype.
  t.same(getTokenScopes({}, ['constructor']), [])
  t.same(getTokenScopes({}, [['constructor', 'name']]), [])
  t.same(getTokenScopes({}, ['__proto__', 'toString', 'hasOwnProperty']), [])
  t.same(getTokenScopes({ scope: 'constructor __proto__ toString' }), ['constructor', '__proto__', 'toString'])
  const own = JSON.parse('{"__proto__": ["admin"]}') as Record<string, unknown>
  t.same(getTokenRoles(own, ['__proto__']), ['admin'], 'an own __proto__ key from JSON is a claim like any other')
  t.same(claimValues({ roles: ['a'] }, []), new Set())
})

t.test('requirements compile to Sets and match exactly', async t => {
  const any = compileRequirement(['a', 'b', 'a'], 'req')
  t.equal(any.mode, 'any')
  t.same(any.list, ['a', 'b'])
  t.ok(Object.isFrozen(any) && Object.isFrozen(any.list))
  t.equal(compileRequirement({ any: ['a'] }, 'req').mode, 'any')
  const all = compileRequirement({ all: ['a', 'b'] }, 'req')
  t.equal(all.mode, 'all')
  t.ok(satisfies(new Set(['b']), any))
  t.notOk(satisfies(new Set(['c']), any))
  t.ok(satisfies(new Set(['a', 'b', 'c']), all))
  t.notOk(satisfies(new Set(['a']), all))
  for (const near of ['A', 'a ', 'ab', 'a*', '*', 'a:read', 'a\u0301', '\uff41']) {
    t.notOk(satisfies(new Set([near]), compileRequirement(['a'], 'req')), JSON.stringify(near))
  }
  for (const bad of [[], { any: [] }, { all: [] }, 'a', null, 7, { any: ['a'], all: ['b'] }, {}, { some: ['a'] }, { all: 'a' }, [''], ['a b'], [1]]) {
    t.throws(() => compileRequirement(bad, 'req'), TypeError, JSON.stringify(bad))
  }
})

t.test('claim names, order and types through routes', async t => {
  const ctx = await setup(t, {
    scopeClaims: ['scope', 'scp', ['realm_access', 'scopes']],
    rolesClaims: [['resource_access', 'my.client', 'roles'], ['realm_access', 'roles']],
    permissionsClaims: ['permissions', '__proto__']
  })
  ctx.app.get('/s', { config: { axioms: { scopes: ['read'] } } }, async () => 'ok')
  ctx.app.get('/r', { config: { axioms: { roles: ['admin'] } } }, async () => 'ok')
  ctx.app.get('/p', { preHandler: ctx.app.hasRequiredPermissions(['constructor']) }, async () => 'ok')
  ctx.app.get('/proto', { preHandler: ctx.app.hasRequiredPermissions(['admin']) }, async () => 'ok')
  t.equal(await code(ctx, '/s', { scope: 'write   read' }), 200)
  t.equal(await code(ctx, '/s', { scp: ['read'] }), 200)
  t.equal(await code(ctx, '/s', { scp: 'read' }), 200)
  t.equal(await code(ctx, '/s', { realm_access: { scopes: ['read'] } }), 200)
  t.equal(await code(ctx, '/s', { scope: '', scp: ['read'] }), 403, 'an empty scope wins over scp')
  t.equal(await code(ctx, '/s', { scope: null, scp: ['read'] }), 200, 'null is skipped')
  t.equal(await code(ctx, '/s', { scope: 'READ' }), 403, 'case-sensitive')
  t.equal(await code(ctx, '/s', { scope: 'read:all' }), 403, 'no prefix match')
  for (const weird of [7, true, { read: true }, [['read']], [7]]) {
    t.equal(await code(ctx, '/s', { scope: weird }), 403, `scope ${JSON.stringify(weird)}: 403, never 500`)
  }
  t.equal(await code(ctx, '/r', { resource_access: { 'my.client': { roles: ['admin'] } } }), 200)
  t.equal(await code(ctx, '/r', { realm_access: { roles: ['admin'] } }), 200)
  t.equal(await code(ctx, '/r', { resource_access: { 'my.client': { roles: [] } }, realm_access: { roles: ['admin'] } }), 403, 'first present path wins')
  t.equal(await code(ctx, '/r', { resource_access: 'admin' }), 403, 'a path through a string gives nothing')
  t.equal(await code(ctx, '/r', { roles: ['admin'] }), 403, 'plain roles is not configured here')
  t.equal(await code(ctx, '/p', {}), 403, 'constructor is an ordinary string')
  t.equal(await code(ctx, '/p', { permissions: 'constructor' }), 200)
  // A JSON `__proto__` key is an own claim after verification.
  const proto = ctx.idp.signRaw({ alg: 'RS256', kid: ctx.idp.keys[0]?.kid, typ: 'at+jwt' },
    `{"iss":${JSON.stringify(ctx.idp.issuer)},"aud":"your-api-audience","exp":${Math.floor(Date.now() / 1000) + 60},"__proto__":["admin"]}`)
  const res = await ctx.app.inject({ url: '/proto', headers: { authorization: `Bearer ${proto}` } })
  t.equal(res.statusCode, 200)
})

t.test('request.authJwt is a frozen, null-prototype deep copy', async t => {
  const ctx = await setup(t)
  ctx.app.get('/claims', { preHandler: ctx.app.hasValidAccessToken() }, async request => {
    const c = request.authJwt as Record<string, unknown>
    const nested = c.realm_access as { roles: string[] }
    let threw = 0
    for (const mutate of [
      () => { c.sub = 'root' },
      () => { delete c.sub },
      () => { nested.roles.push('admin') },
      () => { (nested as Record<string, unknown>).extra = 1 },
      () => { Object.setPrototypeOf(c, {}) }
    ]) {
      try { mutate() } catch (err) { if (err instanceof TypeError) threw++ }
    }
    return {
      frozen: Object.isFrozen(c),
      proto: Object.getPrototypeOf(c) === null,
      nestedFrozen: Object.isFrozen(nested) && Object.isFrozen(nested.roles) && Object.getPrototypeOf(nested) === null,
      arrayIsArray: Array.isArray(nested.roles),
      threw,
      sub: c.sub,
      ownProto: Object.hasOwn(c, '__proto__') ? Object.getOwnPropertyDescriptor(c, '__proto__')?.value : 'absent'
    }
  })
  const token = ctx.idp.signRaw({ alg: 'RS256', kid: ctx.idp.keys[0]?.kid },
    `{"iss":${JSON.stringify(ctx.idp.issuer)},"aud":"your-api-audience","exp":${Math.floor(Date.now() / 1000) + 60},"sub":"u1","realm_access":{"roles":["viewer"]},"__proto__":{"polluted":true}}`)
  const res = await ctx.app.inject({ url: '/claims', headers: { authorization: `Bearer ${token}` } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { frozen: true, proto: true, nestedFrozen: true, arrayIsArray: true, threw: 5, sub: 'u1', ownProto: { polluted: true } })
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution')

  const copy = freezeClaims({ a: [1, { b: 2 }], c: null, d: 'x' })
  t.ok(Object.isFrozen(copy?.a[1]))
  t.equal(copy?.c, null)
  t.equal(freezeClaims('x'), 'x')
  t.equal(freezeClaims(null), null)
})

t.test('claims nested deeper than MAX_CLAIM_DEPTH are refused, never a stack overflow', async t => {
  const nest = (depth: number, leaf: unknown): unknown => depth === 0 ? leaf : nest(depth - 1, [leaf])
  t.ok(freezeClaims(nest(MAX_CLAIM_DEPTH, 'x')), 'MAX_CLAIM_DEPTH nested arrays: accepted')
  t.equal(freezeClaims(nest(MAX_CLAIM_DEPTH + 1, 'x')), undefined, 'one array more: refused')
  t.equal(freezeClaims({ a: nest(MAX_CLAIM_DEPTH, {}) }), undefined, 'inside an object')
  t.equal(freezeClaims(nest(5000, 1)), undefined, 'far too deep: refused without recursing')

  // Through a route: a correctly signed token whose payload nests 2,700 arrays deep (under 8 KiB).
  const ctx = await setup(t)
  let calls = 0
  ctx.app.get('/deep', { config: { axioms: {} } }, async () => { calls++; return 'ok' })
  const now = Math.floor(Date.now() / 1000)
  const head = JSON.stringify({ iss: ctx.idp.issuer, aud: 'your-api-audience', exp: now + 60, sub: 'u1' }).slice(0, -1)
  for (const [depth, status] of [[8, 200], [2700, 401]] as const) {
    const token = ctx.idp.signRaw({ alg: 'RS256', kid: ctx.idp.keys[0]?.kid }, `${head},"x":${'['.repeat(depth)}${']'.repeat(depth)}}`)
    t.ok(token.length <= 8192)
    const res = await ctx.app.inject({ url: '/deep', headers: { authorization: `Bearer ${token}` } })
    t.equal(res.statusCode, status, `depth ${depth}`)
    if (status === 401) t.same(res.json(), { error: 'invalid_token', error_description: 'Malformed token' })
  }
  t.equal(calls, 1)
})

t.test('scopes must be RFC 6749 scope tokens (they are echoed in the challenge); roles need not', async t => {
  for (const bad of ['日本', 'café', 'a"b', 'c\\d', 'tab\tx']) {
    t.throws(() => compileRequirement([bad], 'scopes', true), /scope tokens/, JSON.stringify(bad))
  }
  t.same(compileRequirement(['read:data', '!#[]~'], 'scopes', true).list, ['read:data', '!#[]~'])
  const ctx = await setup(t)
  t.throws(() => ctx.app.get('/s', { config: { axioms: { scopes: ['日本'] } } }, async () => 'x'), /config\.axioms of GET \/s\.scopes.*scope tokens/)
  t.throws(() => ctx.app.hasRequiredScopes(['café']), /scope tokens/)
  ctx.app.get('/r', { config: { axioms: { roles: ['rôle', '日本'] } } }, async () => 'ok')
  t.equal(await code(ctx, '/r', { roles: ['日本'] }), 200, 'a non-ASCII role works: roles never reach a header')
  const res = await ctx.app.inject({ url: '/r', headers: { authorization: `Bearer ${ctx.idp.sign({ roles: ['other'] })}` } })
  t.equal(res.statusCode, 403)
  t.equal(res.headers['www-authenticate'], `Bearer realm="${ctx.idp.issuer}", error="insufficient_scope", error_description="Insufficient role, scope or permission"`)
})
