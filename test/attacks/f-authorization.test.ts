// SECURITY.md §8 F: authorization. Exact strings in Sets; claims are a frozen null-prototype copy.
import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import axioms from '../../index.js'
import { accepted, claimsV, createApi, createWorld, headerFor, optionsFor, refused, signText, token } from './harness.js'

const world = await createWorld()
t.teardown(() => world.close())
const rs = world.k.rs
const hdr = JSON.stringify(headerFor(rs))
/** V's claims as JSON text with extra raw members appended (for __proto__ and friends). */
const rawClaims = (extra: string, over: Record<string, unknown> = {}): string => JSON.stringify(claimsV(over)).slice(0, -1) + ',' + extra + '}'

t.test('F1 POST with only items:read: 403 with scope="items:write"', async t => {
  const api = await createApi(t, world)
  refused(t, await api.get(token(world), '/items', 'POST'), 'INS', api.realm, { scope: 'items:write' })
})

t.test('F2 no scope nor scp: 403', async t => {
  const api = await createApi(t, world)
  refused(t, await api.get(token(world, { scope: undefined }), '/items', 'POST'), 'INS', api.realm, { scope: 'items:write' })
})

t.test('F3 scope of the wrong type contributes nothing: 403, never 500', async t => {
  const api = await createApi(t, world)
  for (const scope of [1, { 'items:write': true }, true, [1, true, null, { v: 'items:write' }], ['items:write '.trim() + '\u0000']]) {
    refused(t, await api.get(token(world, { scope }), '/items', 'POST'), 'INS', api.realm, { scope: 'items:write' }, JSON.stringify(scope))
  }
  // A present-but-wrong-type scope wins over scp: it is present.
  refused(t, await api.get(token(world, { scope: 1, scp: 'items:write' }), '/items', 'POST'), 'INS', api.realm, { scope: 'items:write' }, 'scope 1 + scp')
})

t.test('F4 scope null counts as absent: scp is used', async t => {
  const api = await createApi(t, world)
  accepted(t, await api.get(token(world, { scope: null, scp: 'items:write' }), '/items', 'POST'))
  accepted(t, await api.get(token(world, { scope: undefined, scp: ['items:write'] }), '/items', 'POST'), 'scp array')
})

t.test('F5 scope arrays: elements are exact, no comma split', async t => {
  const api = await createApi(t, world)
  accepted(t, await api.get(token(world, { scope: ['items:write'] }), '/items', 'POST'))
  refused(t, await api.get(token(world, { scope: ['items:read,items:write'] }), '/items', 'POST'), 'INS', api.realm, { scope: 'items:write' })
  refused(t, await api.get(token(world, { scope: ['items:read items:write'] }), '/items', 'POST'), 'INS', api.realm, { scope: 'items:write' }, 'array elements are not split on spaces')
})

t.test('F6 near-miss scope strings: 403', async t => {
  const api = await createApi(t, world)
  for (const scope of ['items:writer', 'xitems:writex', 'items:write-own', 'Items:Write', 'ITEMS:WRITE', 'items:*', '*', 'items', 'items:write\u200b']) {
    refused(t, await api.get(token(world, { scope }), '/items', 'POST'), 'INS', api.realm, { scope: 'items:write' }, scope)
  }
})

t.test('F7 separators other than space: 403', async t => {
  const api = await createApi(t, world)
  for (const sep of ['\t', ',', '\u00a0', '\n', ';', '+', '\u3000']) {
    refused(t, await api.get(token(world, { scope: `items:read${sep}items:write` }), '/items', 'POST'), 'INS', api.realm, { scope: 'items:write' }, JSON.stringify(sep))
  }
  accepted(t, await api.get(token(world, { scope: '   items:read    items:write  ' }), '/items', 'POST'), 'runs of spaces are fine')
})

t.test('F8 look-alike letters: 403 (no normalisation, N11)', async t => {
  const api = await createApi(t, world)
  for (const scope of ['\u0456tems:write', 'ｉｔｅｍｓ:ｗｒｉｔｅ', 'items:wr\u0456te', 'items\uff1awrite', 'items:write\u0301']) {
    refused(t, await api.get(token(world, { scope }), '/items', 'POST'), 'INS', api.realm, { scope: 'items:write' }, scope)
  }
})

t.test('F9 requirements named after Object.prototype members: 403 without them (N9)', async t => {
  const names = ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']
  const api = await createApi(t, world, {
    routes: (app, spy) => {
      for (const n of names) {
        app.get(`/s/${n}`, { config: { axioms: { scopes: [n] } } }, async r => { spy(r); return {} })
        app.get(`/r/${n}`, { config: { axioms: { roles: [n] } } }, async r => { spy(r); return {} })
        app.get(`/p/${n}`, { config: { axioms: { permissions: { all: [n] } } } }, async r => { spy(r); return {} })
      }
    }
  })
  for (const n of names) {
    refused(t, await api.get(token(world), `/s/${n}`), 'INS', api.realm, { scope: n }, `scope ${n}`)
    refused(t, await api.get(token(world, { roles: [] }), `/r/${n}`), 'INS', api.realm, {}, `role ${n}`)
    refused(t, await api.get(token(world, { permissions: {} }), `/p/${n}`), 'INS', api.realm, {}, `permission ${n}`)
  }
  // They are ordinary strings when granted.
  accepted(t, await api.get(token(world, { scope: 'constructor __proto__' }), '/s/__proto__'), 'granted __proto__ scope')
})

t.test('F10 roles: exact strings only', async t => {
  const api = await createApi(t, world)
  accepted(t, await api.get(token(world, { roles: 'admin' }), '/admin'), 'string "admin"')
  accepted(t, await api.get(token(world, { roles: ['user', 'admin'] }), '/admin'), 'array')
  for (const roles of ['not-admin', 'administrator', ['Admin'], ['ADMIN'], ['admin,user'], 'Admin', ['adm', 'in']]) {
    refused(t, await api.get(token(world, { roles }), '/admin'), 'INS', api.realm, {}, JSON.stringify(roles))
  }
})

t.test('F11 SCIM-style role objects contribute nothing: 403', async t => {
  const api = await createApi(t, world)
  for (const roles of [[{ value: 'admin' }], [{ display: 'admin', value: 'admin', primary: true }], { admin: true }, [['admin']]]) {
    refused(t, await api.get(token(world, { roles }), '/admin'), 'INS', api.realm, {}, JSON.stringify(roles))
  }
})

t.test('F12 nested path through a __proto__ member: 403', async t => {
  const api = await createApi(t, world, { options: { rolesClaims: [['realm_access', 'roles']] } })
  const tok = signText(hdr, rawClaims('"realm_access":{"__proto__":{"roles":["admin"]}}'), rs)
  refused(t, await api.get(tok, '/admin'), 'INS', api.realm)
  const ctor = signText(hdr, rawClaims('"realm_access":{"constructor":{"prototype":{"roles":["admin"]}}}'), rs)
  refused(t, await api.get(ctor, '/admin'), 'INS', api.realm, {}, 'constructor.prototype')
  accepted(t, await api.get(token(world, { realm_access: { roles: ['admin'] } }), '/admin'), 'the real path works')
  t.equal(({} as Record<string, unknown>).roles, undefined, 'Object.prototype untouched')
})

t.test('F13 top-level __proto__ / constructor.prototype granting admin: 403, no pollution (N3)', async t => {
  const api = await createApi(t, world, {
    routes: (app, spy) => {
      app.get('/me', { config: { axioms: { optional: true } } }, async r => { spy(r); return { ok: true } })
    }
  })
  for (const extra of [
    '"__proto__":{"roles":["admin"],"scope":"items:write"}',
    '"constructor":{"prototype":{"roles":["admin"],"scope":"items:write"}}',
    '"__proto__":{"__proto__":{"roles":["admin"]}}'
  ]) {
    const tok = signText(hdr, rawClaims(extra, { scope: undefined }), rs)
    refused(t, await api.get(tok, '/admin'), 'INS', api.realm, {}, `admin: ${extra.slice(0, 30)}`)
    refused(t, await api.get(tok, '/items', 'POST'), 'INS', api.realm, { scope: 'items:write' }, `POST: ${extra.slice(0, 30)}`)
    accepted(t, await api.get(tok, '/me'))
    const seen = api.seen.at(-1) as Record<string, unknown>
    t.equal(Object.getPrototypeOf(seen), null, 'claims have no prototype')
    t.equal(seen.roles, undefined, 'no inherited roles')
    t.ok(Object.isFrozen(seen))
  }
  t.equal(({} as Record<string, unknown>).roles, undefined, 'Object.prototype untouched')
  t.equal(({} as Record<string, unknown>).scope, undefined)
})

t.test('F14 roles and scope as large as the cap allows: decided, time measured', async t => {
  const api = await createApi(t, world)
  const many = Array.from({ length: 430 }, (_, i) => `r${i}`)
  const tok = token(world, { roles: many, scope: many.join(' ') })
  t.ok(tok.length <= 8192, `token of ${tok.length} bytes fits the cap`)
  const t0 = performance.now()
  refused(t, await api.get(tok, '/admin'), 'INS', api.realm)
  t.comment(`F14 decided in ${(performance.now() - t0).toFixed(2)} ms (inject round trip)`)
  const spaces = token(world, { scope: ' '.repeat(5000) + 'items:read' })
  accepted(t, await api.get(spaces), 'long runs of spaces')
})

t.test('F15 ownership: mismatch 403, match 200 with ownedObject, missing 404, numeric owner', async t => {
  const api = await createApi(t, world)
  refused(t, await api.get(token(world), '/docs/1'), 'OWN', api.realm, {}, 'owner user-2')
  const mine = await api.get(token(world), '/docs/2')
  accepted(t, mine, 'owner user-1')
  t.same(mine.body, { ok: true, doc: { user: 'user-1', title: 'yours' } })
  refused(t, await api.get(token(world), '/docs/404'), 'NF', api.realm, {}, 'no such id')
  accepted(t, await api.get(token(world, { sub: '123' }), '/docs/3'), 'owner 123 vs sub "123"')
  refused(t, await api.get(token(world, { sub: undefined }), '/docs/2'), 'OWN', api.realm, {}, 'no sub')
  refused(t, await api.get(token(world, { sub: ['user-1'] }), '/docs/2'), 'OWN', api.realm, {}, 'sub array')
  refused(t, await api.call('/docs/2'), 'MH', api.realm, { bare: true }, 'no token')
})

t.test('F16 all / any requirements', async t => {
  const api = await createApi(t, world, {
    routes: (app, spy) => {
      app.get('/all', { config: { axioms: { scopes: { all: ['read:data', 'openid'] } } } }, async r => { spy(r); return {} })
      app.get('/any', { config: { axioms: { scopes: { any: ['read:data', 'openid'] } } } }, async r => { spy(r); return {} })
    }
  })
  refused(t, await api.get(token(world, { scope: 'openid' }), '/all'), 'INS', api.realm, { scope: 'read:data openid' }, 'all with one')
  accepted(t, await api.get(token(world, { scope: 'openid read:data' }), '/all'), 'all with both')
  accepted(t, await api.get(token(world, { scope: 'openid' }), '/any'), 'any with one')
  refused(t, await api.get(token(world, { scope: 'profile' }), '/any'), 'INS', api.realm, { scope: 'read:data openid' }, 'any with none')
})

t.test('F17 scopes and roles in one declaration are ANDed', async t => {
  const api = await createApi(t, world, {
    routes: (app, spy) => {
      app.get('/both', { config: { axioms: { scopes: ['items:read'], roles: ['editor'] } } }, async r => { spy(r); return {} })
    }
  })
  refused(t, await api.get(token(world), '/both'), 'INS', api.realm, {}, 'scope only')
  refused(t, await api.get(token(world, { scope: undefined, roles: ['editor'] }), '/both'), 'INS', api.realm, { scope: 'items:read' }, 'role only')
  accepted(t, await api.get(token(world, { roles: ['editor'] }), '/both'))
})

t.test('F18 a config.axioms route added before the plugin fails closed', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  let calls = 0
  app.get('/early', { config: { axioms: { scopes: ['items:read'] } } }, async () => { calls++; return { leaked: true } })
  await app.register(axioms, optionsFor(world))
  for (const headers of [{}, { authorization: `Bearer ${token(world)}` }, { authorization: 'Bearer x.y.z' }]) {
    const res = await app.inject({ url: '/early', headers })
    t.equal(res.statusCode, 500)
    t.same(res.json(), { error: 'server_error', error_description: 'Route protection is misconfigured' })
  }
  t.equal(calls, 0, 'never served')
})

t.test('F19 empty or malformed requirements fail at startup', async t => {
  for (const decl of [{ scopes: [] }, { scopes: { all: [] } }, { scopes: { any: [] } }, { roles: 'admin' }, { scopes: [''] }, { scopes: ['a b'] },
    { scopes: { all: ['a'], any: ['b'] } }, { scope: ['a'] }, { optional: true, scopes: ['a'] }, { permissions: [1] }, 'admin']) {
    const app: FastifyInstance = Fastify()
    t.teardown(() => app.close())
    await app.register(axioms, optionsFor(world))
    let error: unknown
    try {
      app.get('/x', { config: { axioms: decl as never } }, async () => ({}))
      await app.ready()
    } catch (err) {
      error = err
    }
    t.match(error, { name: 'ConfigError', message: /config\.axioms/ }, JSON.stringify(decl))
  }
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, optionsFor(world))
  t.throws(() => app.hasRequiredScopes([]), { name: 'ConfigError' }, 'hook with an empty list')
  t.throws(() => app.hasRequiredRoles({ all: [] }), { name: 'ConfigError' })
})

t.test('F20 optional: anonymous 200 with authJwt null, invalid token 401, valid 200', async t => {
  const api = await createApi(t, world, {
    routes: (app, spy) => {
      app.get('/maybe', { config: { axioms: { optional: true } } }, async r => { spy(r); return { who: r.authJwt === null ? null : (r.authJwt as { sub: string }).sub } })
    }
  })
  const anon = await api.call('/maybe')
  accepted(t, anon, 'no token')
  t.same(anon.body, { who: null })
  refused(t, await api.get(token(world, { exp: 1 }), '/maybe'), 'EXP', api.realm, {}, 'expired token is still refused')
  refused(t, await api.get('garbage', '/maybe'), 'MT', api.realm, {}, 'garbage')
  refused(t, await api.call({ url: '/maybe', headers: { authorization: 'Basic dXNlcjpwYXNz' } }), 'IB', api.realm, { bare: true }, 'another scheme')
  const ok = await api.get(token(world), '/maybe')
  accepted(t, ok, 'valid')
  t.same(ok.body, { who: 'user-1' })
})

t.test('F21 auto-HEAD inherits the rule; a method without a declaration is public by design', async t => {
  const api = await createApi(t, world, {
    routes: (app, spy) => {
      app.put('/items', async r => { spy(r); return { public: true } })
    }
  })
  const head = await api.call({ method: 'HEAD', url: '/admin', headers: { authorization: `Bearer ${token(world)}` } })
  t.equal(head.status, 403, 'HEAD /admin without the role')
  t.equal(head.handled, 0)
  const headOk = await api.call({ method: 'HEAD', url: '/admin', headers: { authorization: `Bearer ${token(world, { roles: ['admin'] })}` } })
  t.equal(headOk.status, 200)
  // Protection is per route declaration: every protected method must declare its own.
  const put = await api.call({ method: 'PUT', url: '/items' })
  t.equal(put.status, 200, 'PUT /items declares nothing: public')
  const protectedRoutes = api.app.printRoutes({ commonPrefix: false })
  t.ok(typeof protectedRoutes === 'string')
})
