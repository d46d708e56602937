// SECURITY.md §8 A: getting the credential. Only `Authorization: Bearer <token>` counts.
import t from 'tap'
import { accepted, createApi, createWorld, listen, refused, socketGet, token } from './harness.js'
import { DPOP_OFFER, offered } from '../fixture.js'

const world = await createWorld()
t.teardown(() => world.close())
const V = (): string => token(world)

t.test('A1 no Authorization: 401, challenge without error', async t => {
  const api = await createApi(t, world)
  refused(t, await api.call('/items'), 'MH', api.realm, { bare: true })
})

t.test('A2 another scheme (Basic): 401 bare', async t => {
  const api = await createApi(t, world)
  refused(t, await api.call({ url: '/items', headers: { authorization: 'Basic dXNlcjpwYXNz' } }), 'IB', api.realm, { bare: true })
})

t.test('A3 Bearer without a token, or with trailing spaces: 401 invalid_token', async t => {
  const api = await createApi(t, world)
  for (const value of ['Bearer', 'Bearer ', 'Bearer     ', 'bearer']) {
    refused(t, await api.call({ url: '/items', headers: { authorization: value } }), 'IB', api.realm, {}, JSON.stringify(value))
  }
  // Over a socket Node trims the trailing spaces (N14): the same answer.
  const port = await listen(api.app)
  for (const line of ['Authorization: Bearer', 'Authorization: Bearer    ']) {
    const res = await socketGet(port, '/items', [line])
    t.equal(res.status, 401, line)
    t.equal(res.headers['www-authenticate'], `Bearer realm="${api.realm}", error="invalid_token", error_description="Invalid Authorization Bearer"`)
  }
  t.equal(api.calls, 0)
})

t.test('A4 scheme is case-insensitive: 200', async t => {
  const api = await createApi(t, world)
  for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
    accepted(t, await api.call({ url: '/items', headers: { authorization: `${scheme} ${V()}` } }), scheme)
  }
})

t.test('A5 several spaces between scheme and token: 200', async t => {
  const api = await createApi(t, world)
  accepted(t, await api.call({ url: '/items', headers: { authorization: `Bearer  ${V()}` } }), 'two spaces')
  accepted(t, await api.call({ url: '/items', headers: { authorization: `Bearer      ${V()}` } }), 'six spaces')
})

t.test('A6 only spaces separate scheme and token: TAB is another scheme', async t => {
  const api = await createApi(t, world)
  refused(t, await api.call({ url: '/items', headers: { authorization: `Bearer\t${V()}` } }), 'IB', api.realm, { bare: true })
  const port = await listen(api.app)
  const res = await socketGet(port, '/items', [`Authorization: Bearer\t${V()}`])
  t.equal(res.status, 401)
  t.equal(res.headers['www-authenticate'], offered(api.realm))
  t.equal(api.calls, 0)
})

t.test('A7 more than one token in the header: 400 invalid_request', async t => {
  const api = await createApi(t, world)
  const v = V()
  for (const value of [`Bearer ${v} ${v}`, `Bearer ${v}, Bearer ${v}`, `Bearer ${v},Bearer ${v}`.replace(',', ', ')]) {
    refused(t, await api.call({ url: '/items', headers: { authorization: value } }), 'IH', api.realm)
  }
})

t.test('A8 two Authorization lines over a real socket: 400 invalid_request (N12)', async t => {
  const api = await createApi(t, world)
  const port = await listen(api.app)
  const v = V()
  for (const lines of [
    [`Authorization: Bearer ${v}`, `Authorization: Bearer ${v}`],
    [`Authorization: Bearer ${v}`, 'authorization: Basic dXNlcjpwYXNz'],
    ['Authorization: Basic dXNlcjpwYXNz', `AUTHORIZATION: Bearer ${v}`]
  ]) {
    const res = await socketGet(port, '/items', lines)
    t.equal(res.status, 400, lines.join(' | ').slice(0, 60))
    t.same(JSON.parse(res.body), { error: 'invalid_request', error_description: 'Invalid Authorization Header' })
    t.equal(res.headers['www-authenticate'], `Bearer realm="${api.realm}", error="invalid_request", error_description="Invalid Authorization Header"`)
  }
  t.equal(api.calls, 0)
})

t.test('A9 query token next to a header token: the query is ignored', async t => {
  const api = await createApi(t, world)
  accepted(t, await api.call({ url: `/items?access_token=${V()}`, headers: { authorization: `Bearer ${V()}` } }))
  // A garbage header token is not rescued by a valid query token.
  refused(t, await api.call({ url: `/items?access_token=${V()}`, headers: { authorization: 'Bearer x.y.z' } }), 'MT', api.realm)
})

t.test('A10 credentials anywhere but Authorization: 401 Missing Authorization Header', async t => {
  const api = await createApi(t, world)
  const v = V()
  refused(t, await api.call(`/items?access_token=${v}`), 'MH', api.realm, { bare: true }, 'query')
  refused(t, await api.call({
    method: 'POST',
    url: '/items',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: `access_token=${v}`
  }), 'MH', api.realm, { bare: true }, 'form')
  refused(t, await api.call({ url: '/items', headers: { cookie: `access_token=${v}; token=${v}` } }), 'MH', api.realm, { bare: true }, 'cookie')
  refused(t, await api.call({ url: '/items', headers: { 'proxy-authorization': `Bearer ${v}` } }), 'MH', api.realm, { bare: true }, 'proxy')
  refused(t, await api.call({ url: '/items', headers: { 'x-access-token': v, 'x-authorization': `Bearer ${v}` } }), 'MH', api.realm, { bare: true }, 'x-*')
})

t.test('A11 DPoP scheme with a plain bearer token: not DPoP-bound; with dpop: false, an unsupported scheme', async t => {
  const api = await createApi(t, world)
  const out = await api.call({ url: '/items', headers: { authorization: `DPoP ${V()}` } })
  t.equal(out.status, 401)
  t.same(out.body, { error: 'invalid_token', error_description: 'Access token is not DPoP-bound' })
  t.equal(out.headers['www-authenticate'], `DPoP error="invalid_token", error_description="Access token is not DPoP-bound", ${DPOP_OFFER.slice(5)}`)
  t.equal(out.handled, 0)
  const off = await createApi(t, world, { options: { dpop: false } })
  refused(t, await off.call({ url: '/items', headers: { authorization: `DPoP ${V()}` } }), 'IB', off.realm, { bare: true, dpopOff: true })
})

t.test('A12 oversized tokens: refused before decoding; 100 KB header gets 431 from Node', async t => {
  const api = await createApi(t, world)
  const v = V()
  const [h, p, s] = v.split('.')
  const huge = `${h}.${p}${'A'.repeat(9 * 1024)}.${s}`
  refused(t, await api.get(huge), 'MT', api.realm, {}, '9 KiB inject')
  const atCap = 'a'.repeat(8193)
  refused(t, await api.get(atCap), 'MT', api.realm, {}, '8193 bytes')
  const port = await listen(api.app)
  const res = await socketGet(port, '/items', [`Authorization: Bearer ${huge}`])
  t.equal(res.status, 401, '9 KiB socket')
  t.same(JSON.parse(res.body), { error: 'invalid_token', error_description: 'Malformed token' })
  const big = await socketGet(port, '/items', [`Authorization: Bearer ${'a'.repeat(100 * 1024)}`])
  t.equal(big.status, 431, '100 KB header: Node answers 431')
  t.equal(api.calls, 0)
})

t.test('A13 characters outside [A-Za-z0-9_-]: Malformed token', async t => {
  const api = await createApi(t, world)
  const v = V()
  const [h, p, s] = v.split('.') as [string, string, string]
  const cases = {
    'non-ASCII': 'tök.en.x',
    plus: `${h}.${p}+.${s}`,
    slash: `${h}/.${p}.${s}`,
    tilde: `${h}.${p}.${s}~`,
    'trailing =': `${v}=`,
    'padding in header': `${h}==.${p}.${s}`
  }
  for (const [name, tok] of Object.entries(cases)) refused(t, await api.get(tok), 'MT', api.realm, {}, name)
})

t.test('A14 HEAD of a protected GET without a token: 401 (N18)', async t => {
  const api = await createApi(t, world)
  const out = await api.call({ method: 'HEAD', url: '/items' })
  t.equal(out.status, 401)
  t.equal(out.headers['www-authenticate'], offered(api.realm))
  t.equal(out.handled, 0)
  const ok = await api.call({ method: 'HEAD', url: '/items', headers: { authorization: `Bearer ${V()}` } })
  t.equal(ok.status, 200)
})

t.test('A15 OPTIONS is a safe method by default; safeMethods: [] protects it', async t => {
  const route = (app: import('fastify').FastifyInstance, spy: (r: { authJwt: unknown }) => void): void => {
    app.options('/items', { config: { axioms: { scopes: ['items:read'] } } }, async request => { spy(request); return 'preflight' })
  }
  const open = await createApi(t, world, { routes: route })
  const pre = await open.call({ method: 'OPTIONS', url: '/items' })
  t.equal(pre.status, 200, 'preflight passes without a token')
  t.equal(pre.handled, 1)
  const strict = await createApi(t, world, { routes: route, options: { safeMethods: [] } })
  refused(t, await strict.call({ method: 'OPTIONS', url: '/items' }), 'MH', strict.realm, { bare: true })
})
