// SECURITY.md §8 I: robustness and leakage (the fuzzing is fuzz.test.ts, log hygiene hygiene.test.ts).
import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import axioms from '../../index.js'
import { ROWS } from '../../lib/errors.js'
import {
  b64u, createApi, createWorld, listen, logSink, optionsFor, segments, socketGet, token
} from './harness.js'

const world = await createWorld()
t.teardown(() => world.close())

const DOCUMENTED = new Set(Object.values(ROWS).map(r => `${r.status} ${r.error} ${r.description}`))

/** A deterministic sample of hostile inputs across every group. */
function hostile (): string[] {
  const v = token(world)
  const [h, p, s] = segments(v)
  return [
    '', 'x', 'a.b', 'a.b.c', '...', v.slice(0, -1), `${h}.${p}.${s.slice(1)}`, `${h}.${p}`, `${p}.${h}.${s}`,
    `${b64u('{"alg":"none"}')}.${p}.`, `${b64u('{"alg":"RS256","kid":"k-rs","crit":["x"]}')}.${p}.${s}`,
    `${b64u('[]')}.${p}.${s}`, `${b64u('{')}.${p}.${s}`, `${h}.${b64u('null')}.${s}`, `${h}.${b64u('\u0000')}.${s}`,
    token(world, { exp: 'x' }), token(world, { aud: [] }), token(world, { iss: 1 }), token(world, {}, { kid: {} }),
    token(world, { cnf: {} }), token(world, {}, { typ: 'dpop+jwt' }), token(world, {}, { zip: 'DEF' }),
    '\u0000.\u0000.\u0000', 'é.é.é', '%00.%00.%00', 'a'.repeat(8192), `${h}.${p}.${s}`.replace(/./g, c => c === '.' ? '.' : c)
  ]
}

t.test('I1 hostile sample: only documented 4xx answers, never 5xx, never the handler', async t => {
  const api = await createApi(t, world)
  for (const tok of hostile()) {
    for (const [method, url] of [['GET', '/items'], ['POST', '/items'], ['GET', '/admin'], ['GET', '/docs/2']] as const) {
      const out = await api.call({ method, url, headers: { authorization: `Bearer ${tok}` } })
      if (out.status === 200) continue // the unmodified control token
      const body = out.body as { error: string, error_description: string }
      t.ok(DOCUMENTED.has(`${out.status} ${body.error} ${body.error_description}`), `${method} ${url} ${JSON.stringify(tok.slice(0, 16))}: ${out.status} ${body.error_description}`)
      t.ok(out.status < 500)
      t.equal(out.handled, 0)
    }
  }
})

t.test('I2 error bodies and headers carry no token, key, stack or library text', async t => {
  const api = await createApi(t, world)
  const secrets = [world.k.rs.jwk.n as string, world.k.es.jwk.x as string]
  for (const tok of hostile()) {
    const out = await api.get(tok)
    const wire = out.text + JSON.stringify(out.headers)
    const parts = tok.split('.').filter(x => x.length >= 8)
    for (const part of parts) t.notOk(wire.includes(part), 'no token segment echoed')
    for (const secret of secrets) t.notOk(wire.includes(secret), 'no key material')
    t.notMatch(wire, /\n\s+at |Error:|SyntaxError|Unexpected token|JSON|ERR_|node:|\.ts:|\.js:/, 'no stack or library text')
  }
})

t.test('I3 error_description is one of SPEC\'s fixed strings', async t => {
  const api = await createApi(t, world)
  const descriptions = new Set(Object.values(ROWS).map(r => r.description))
  for (const tok of hostile()) {
    const out = await api.get(tok, '/items', 'POST')
    t.ok(descriptions.has((out.body as { error_description: string }).error_description))
  }
})

t.test('I4 1,000 interleaved requests for two users: each handler sees its own claims (N19)', async t => {
  const mismatches: string[] = []
  const api = await createApi(t, world, {
    routes: (app, spy) => {
      app.get('/whoami', { config: { axioms: { scopes: ['items:read'] } } }, async (request, reply) => {
        spy(request)
        await new Promise(resolve => setImmediate(resolve))
        const claims = request.authJwt as { sub: string }
        if (request.headers['x-user'] !== claims.sub) mismatches.push(`${String(request.headers['x-user'])} saw ${claims.sub}`)
        return reply.send({ sub: claims.sub })
      })
    }
  })
  const tokens = { alice: token(world, { sub: 'alice' }), bob: token(world, { sub: 'bob' }) }
  const outs = await Promise.all(Array.from({ length: 1000 }, (_, i) => {
    const who = i % 3 === 0 ? 'bob' : 'alice'
    return api.call({ url: '/whoami', headers: { authorization: `Bearer ${tokens[who]}`, 'x-user': who } }).then(o => ({ o, who }))
  }))
  t.equal(outs.filter(({ o, who }) => o.status !== 200 || (o.body as { sub: string }).sub !== who).length, 0)
  t.same(mismatches, [])
  t.equal(api.calls, 1000)
})

t.test('I5 rejections in onRequest, preValidation, preHandler; reply and throw: handler never runs, no double send', async t => {
  for (const errorResponse of ['reply', 'throw'] as const) {
    const { stream, lines } = logSink()
    const app = Fastify({ logger: { level: 'trace', stream } })
    t.teardown(() => app.close())
    await app.register(axioms, optionsFor(world, 'D', { errorResponse }))
    let handled = 0
    let sideEffects = 0
    app.addHook('preHandler', async () => { sideEffects++ })
    for (const phase of ['onRequest', 'preValidation', 'preHandler'] as const) {
      app.post(`/${phase}`, { [phase]: [app.hasValidAccessToken(), app.hasRequiredScopes(['items:write'])] }, async () => { handled++; return {} })
    }
    app.post('/config', { config: { axioms: { scopes: ['items:write'] } } }, async () => { handled++; return {} })
    await app.ready()
    for (const url of ['/onRequest', '/preValidation', '/preHandler', '/config']) {
      for (const headers of [{}, { authorization: 'Bearer x.y.z' }, { authorization: `Bearer ${token(world)}` }, { authorization: `Bearer ${token(world, { exp: 1 })}` }]) {
        const res = await app.inject({ method: 'POST', url, headers, payload: { a: 1 } })
        t.ok([401, 403].includes(res.statusCode), `${errorResponse} ${url}: ${res.statusCode}`)
        t.ok(res.headers['www-authenticate'], 'challenge present')
      }
    }
    t.equal(handled, 0, `${errorResponse}: no handler`)
    t.ok(sideEffects <= 4 * 2, 'app preHandler only reached by preHandler-phase checks')
    t.notOk(lines.some(l => /already sent|FSTWRN|Reply was already/i.test(l)), `${errorResponse}: no "reply already sent" warning`)
    t.notOk(lines.some(l => /"level":50/.test(l)), `${errorResponse}: no error-level log`)
  }
})

t.test('I7 garbage is refused before any crypto or fetch (time measured)', async t => {
  const api = await createApi(t, world)
  const before = world.a.requests.jwks
  const garbage = ['x', 'a.b.c', `${b64u('{"alg":"HS256"}')}.e30.c2ln`, `${b64u('{"alg":"RS256"}')}.e30.c2ln`, '!'.repeat(8000)]
  const t0 = performance.now()
  let n = 0
  for (let i = 0; i < 400; i++) {
    for (const g of garbage) {
      await api.app.axioms.verify(g).catch(() => {})
      n++
    }
  }
  t.comment(`I7 ${n} garbage tokens verified in ${(performance.now() - t0).toFixed(1)} ms`)
  t.equal(world.a.requests.jwks - before, 0, 'no fetch')
})

t.test('I8 every 401 carries WWW-Authenticate with double-quoted values (real socket)', async t => {
  const api = await createApi(t, world)
  const port = await listen(api.app)
  // A Bearer challenge, then (no usable credentials, DPoP accepted) the DPoP one.
  const quoted = /^Bearer realm="[^"\\]*"(, (error|error_description|scope)="[\x20\x21\x23-\x5b\x5d-\x7e]*")*(, DPoP algs="[A-Za-z0-9 ]+")?$/
  for (const line of [[], ['Authorization: Basic x'], ['Authorization: Bearer'], ['Authorization: Bearer a.b.c'], [`Authorization: Bearer ${token(world, { exp: 1 })}`]]) {
    const res = await socketGet(port, '/items', line)
    t.equal(res.status, 401)
    const names = res.rawHeaders.filter((_, i) => i % 2 === 0).map(n => n.toLowerCase())
    t.equal(names.filter(n => n === 'www-authenticate').length, 1, 'exactly one challenge, exact name')
    t.notOk(names.includes('www-authentication'))
    t.match(res.headers['www-authenticate'], quoted)
  }
})

t.test('I9 authJwt: frozen, null-prototype, nested frozen; null when no token was checked', async t => {
  let captured: unknown
  let publicSeen: unknown = 'unset'
  const api = await createApi(t, world, {
    routes: (app, spy) => {
      app.get('/claims', { config: { axioms: { scopes: ['items:read'] } } }, async r => { spy(r); captured = r.authJwt; return {} })
      app.get('/public', async r => { publicSeen = r.authJwt; return {} })
    }
  })
  await api.get(token(world, { roles: ['a', 'b'], realm_access: { roles: ['x'] } }), '/claims')
  const c = captured as Record<string, unknown> & { roles: string[], realm_access: { roles: string[] } }
  t.equal(Object.getPrototypeOf(c), null)
  t.ok(Object.isFrozen(c))
  t.ok(Object.isFrozen(c.roles))
  t.ok(Object.isFrozen(c.realm_access))
  t.ok(Object.isFrozen(c.realm_access.roles))
  t.throws(() => { 'use strict'; (c.roles as string[]).push('admin') })
  await api.call({ url: '/public', headers: { authorization: `Bearer ${token(world)}` } })
  t.equal(publicSeen, null, 'public route: token not checked, authJwt null')
})

t.test('I10 tokenMiddleware: null / false / claims, flags, never a rejection', async t => {
  const seen: unknown[] = []
  const app: FastifyInstance = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, optionsFor(world, 'D', { tokenMiddleware: true }))
  app.get('/open', async r => { seen.push([r.authJwt === null ? null : r.authJwt === false ? false : 'claims', r.missingAuthHeader, r.invalidBearerToken]); return {} })
  for (const headers of [{}, { authorization: 'Bearer a.b.c' }, { authorization: 'Basic x' }, { authorization: `Bearer ${token(world)}` }]) {
    const res = await app.inject({ url: '/open', headers })
    t.equal(res.statusCode, 200)
  }
  t.same(seen, [[null, true, false], [false, false, false], [false, false, true], ['claims', false, false]])
})
