// `htu` against the request over real sockets (RFC 9449 §4.3 (9)): the URL the client called, taken
// from the scheme and host Fastify decides (trustProxy) and the raw request target, compared after
// RFC 3986 normalisation. Requests are written byte by byte, so Host, X-Forwarded-* and the target
// reach the server exactly as given.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import axioms from '../../index.js'
import { createDpopProof, createTestIssuer, generateDpopKey, signDpopBoundToken } from '../../testing.js'
import { listen, type RawResponse, rawHttp } from '../attacks/harness.js'
import { dpopChallenge } from './http.js'

const idp = await createTestIssuer()
t.teardown(() => idp.close())
const key = generateDpopKey('ES256')

interface Server { port: number, readonly calls: number }

async function server (t: Test, trustProxy: boolean): Promise<Server> {
  const app: FastifyInstance = Fastify({ trustProxy })
  t.teardown(() => app.close())
  await app.register(axioms, idp.pluginOptions())
  let calls = 0
  const ok = async (): Promise<{ ok: true }> => { calls++; return { ok: true } }
  app.get('/', { config: { axioms: {} } }, ok)
  app.get('/items', { config: { axioms: {} } }, ok)
  app.get('/p/*', { config: { axioms: {} } }, ok)
  const port = await listen(app)
  return { port, get calls () { return calls } }
}

interface Request {
  host: string
  target: string
  /** The proof's htu (any JSON value). */
  htu: unknown
  headers?: string[]
}

/** A GET written byte by byte with `Authorization: DPoP` and a fresh proof naming `htu`. */
async function send (s: Server, r: Request): Promise<RawResponse & { handled: number }> {
  const token = signDpopBoundToken(idp, key)
  const proof = createDpopProof(key, { htu: 'x', accessToken: token, claims: { htu: r.htu } })
  const before = s.calls
  const res = await rawHttp(s.port, [
    `GET ${r.target} HTTP/1.1`, `Host: ${r.host}`, 'Connection: close', `Authorization: DPoP ${token}`, `DPoP: ${proof}`,
    ...(r.headers ?? []), '', ''
  ].join('\r\n'))
  return { ...res, handled: s.calls - before }
}

function ok (t: Test, res: RawResponse & { handled: number }, label: string): void {
  t.equal(res.status, 200, `${label}: 200`)
  t.equal(res.handled, 1, `${label}: handler ran`)
}

const URL_MISMATCH = 'DPoP proof URL mismatch'

function mismatch (t: Test, res: RawResponse & { handled: number }, label: string): void {
  t.equal(res.status, 401, `${label}: 401`)
  t.same(JSON.parse(res.body), { error: 'invalid_dpop_proof', error_description: URL_MISMATCH }, `${label}: body`)
  t.equal(res.headers['www-authenticate'], dpopChallenge('invalid_dpop_proof', URL_MISMATCH), `${label}: challenge`)
  t.equal(res.handled, 0, `${label}: handler did not run`)
}

function badRequest (t: Test, res: RawResponse & { handled: number }, label: string): void {
  t.equal(res.status, 400, `${label}: 400`)
  t.same(JSON.parse(res.body), { error: 'invalid_request', error_description: 'Invalid request URL' }, `${label}: body`)
  t.equal(res.headers['www-authenticate'], undefined, `${label}: no challenge`)
  t.equal(res.handled, 0, `${label}: handler did not run`)
}

t.test('behind a proxy (trustProxy: true) the proof names the public URL', async t => {
  const s = await server(t, true)
  const local = `127.0.0.1:${s.port}`
  const forwarded = ['X-Forwarded-Proto: https', 'X-Forwarded-Host: api.example.com']
  ok(t, await send(s, { host: local, target: '/items', htu: 'https://api.example.com/items', headers: forwarded }), 'the public URL')
  ok(t, await send(s, { host: local, target: '/items?page=2', htu: 'https://API.example.com:443/items', headers: forwarded }), 'the public URL, another spelling, a query')
  ok(t, await send(s, { host: local, target: '/items', htu: 'https://api.example.com:8443/items', headers: ['X-Forwarded-Proto: https', 'X-Forwarded-Host: api.example.com:8443'] }), 'a public port')
  mismatch(t, await send(s, { host: local, target: '/items', htu: `http://${local}/items`, headers: forwarded }), 'the proxy-to-app URL')
  mismatch(t, await send(s, { host: local, target: '/items', htu: 'http://api.example.com/items', headers: forwarded }), 'http for an https public URL')
  // Without forwarded headers the request's own Host and scheme count.
  ok(t, await send(s, { host: local, target: '/items', htu: `http://${local}/items` }), 'no forwarded headers')
  // A forwarded host carrying a path cannot form a URL: refused, never "laundered" into a match.
  badRequest(t, await send(s, { host: local, target: '/items', htu: 'https://api.example.com/items', headers: ['X-Forwarded-Proto: https', 'X-Forwarded-Host: api.example.com/items?'] }), 'a path in X-Forwarded-Host')
  badRequest(t, await send(s, { host: local, target: '/items', htu: 'gopher://api.example.com/items', headers: ['X-Forwarded-Proto: gopher', 'X-Forwarded-Host: api.example.com'] }), 'a forwarded scheme that is not http(s)')
})

t.test('without trustProxy the forwarded headers are not believed', async t => {
  const s = await server(t, false)
  const local = `127.0.0.1:${s.port}`
  const forwarded = ['X-Forwarded-Proto: https', 'X-Forwarded-Host: api.example.com']
  mismatch(t, await send(s, { host: local, target: '/items', htu: 'https://api.example.com/items', headers: forwarded }), 'the URL the forwarded headers name')
  ok(t, await send(s, { host: local, target: '/items', htu: `http://${local}/items`, headers: forwarded }), 'the URL of the connection')
  ok(t, await send(s, { host: 'api.example.com', target: '/items', htu: 'http://api.example.com/items', headers: forwarded }), 'the Host header')
  // The Host header is still the client's: a proof for another host does not fit it.
  mismatch(t, await send(s, { host: 'api.example.com', target: '/items', htu: 'http://other.example.com/items' }), 'a proof for another host')
  badRequest(t, await send(s, { host: 'api.example.com/items?', target: '/items', htu: 'http://api.example.com/items' }), 'a path in Host')
  badRequest(t, await send(s, { host: 'user@api.example.com', target: '/items', htu: 'http://api.example.com/items' }), 'userinfo in Host')
})

t.test('RFC 3986 normalisation: spellings of the same URL pass', async t => {
  const s = await server(t, false)
  const cases: Array<[string, string, string, string]> = [
    ['scheme and host case', 'api.example.com', '/items', 'HTTP://API.Example.COM/items'],
    ['the request\'s Host in another case', 'API.EXAMPLE.com', '/items', 'http://api.example.com/items'],
    ['the default port in the proof', 'api.example.com', '/items', 'http://api.example.com:80/items'],
    ['the default port in the Host header', 'api.example.com:80', '/items', 'http://api.example.com/items'],
    ['the default port with leading zeros', 'api.example.com', '/items', 'http://api.example.com:0080/items'],
    ['an empty port', 'api.example.com', '/items', 'http://api.example.com:/items'],
    ['a non-default port on both sides', 'api.example.com:8080', '/items', 'http://api.example.com:8080/items'],
    ['percent-encoding case', 'api.example.com', '/p/caf%c3%a9', 'http://api.example.com/p/caf%C3%A9'],
    ['percent-encoding case, the other way', 'api.example.com', '/p/caf%C3%A9', 'http://api.example.com/p/caf%c3%a9'],
    ['Unicode in the proof, escapes in the target', 'api.example.com', '/p/caf%C3%A9', 'http://api.example.com/p/café'],
    ['an escaped unreserved character', 'api.example.com', '/p/%7Euser', 'http://api.example.com/p/~user'],
    ['an unreserved character escaped in the proof', 'api.example.com', '/p/~user', 'http://api.example.com/p/%7euser'],
    ['query and fragment in the proof', 'api.example.com', '/items', 'http://api.example.com/items?a=1#frag'],
    ['a query in the target only', 'api.example.com', '/items?page=2&q=x', 'http://api.example.com/items'],
    ['different queries on both sides', 'api.example.com', '/items?page=2', 'http://api.example.com/items?page=3'],
    ['an empty path in the proof is /', 'api.example.com', '/', 'http://api.example.com'],
    ['dot segments in the proof', 'api.example.com', '/p/b', 'http://api.example.com/p/a/../b'],
    ['sub-delims kept as they are', 'api.example.com', "/p/a;b=c,d!$&'()*+", "http://api.example.com/p/a;b=c,d!$&'()*+"]
  ]
  for (const [label, host, target, htu] of cases) ok(t, await send(s, { host, target, htu }), label)
})

t.test('RFC 3986 normalisation: different URLs do not pass', async t => {
  const s = await server(t, false)
  const cases: Array<[string, string, string, unknown]> = [
    ['path case', 'api.example.com', '/items', 'http://api.example.com/Items'],
    ['a trailing slash', 'api.example.com', '/items', 'http://api.example.com/items/'],
    ['another port', 'api.example.com', '/items', 'http://api.example.com:8080/items'],
    ['a port the Host header does not name', 'api.example.com:8080', '/items', 'http://api.example.com/items'],
    ['https for http', 'api.example.com', '/items', 'https://api.example.com/items'],
    ['another host', 'api.example.com', '/items', 'http://api.example.com.evil.test/items'],
    ['userinfo', 'api.example.com', '/items', 'http://user@api.example.com/items'],
    ['an escaped slash', 'api.example.com', '/p/a/b', 'http://api.example.com/p/a%2Fb'],
    ['a slash for an escaped one', 'api.example.com', '/p/a%2Fb', 'http://api.example.com/p/a/b'],
    ['dot segments in the target', 'api.example.com', '/p/a/../b', 'http://api.example.com/p/b'],
    ['dot segments on both sides', 'api.example.com', '/p/a/../b', 'http://api.example.com/p/a/../b'],
    ['an escaped reserved character decoded', 'api.example.com', '/p/a%3Bb', 'http://api.example.com/p/a;b'],
    ['a relative htu', 'api.example.com', '/items', '/items'],
    ['no scheme', 'api.example.com', '/items', '//api.example.com/items'],
    ['another scheme', 'api.example.com', '/items', 'ftp://api.example.com/items'],
    ['a broken escape', 'api.example.com', '/items', 'http://api.example.com/items%2'],
    ['a control character', 'api.example.com', '/items', 'http://api.example.com/it\u0000ems'],
    ['a lone surrogate', 'api.example.com', '/items', 'http://api.example.com/items\ud800'],
    ['a port over 65535', 'api.example.com', '/items', 'http://api.example.com:65616/items'],
    ['a number', 'api.example.com', '/items', 42],
    ['an object', 'api.example.com', '/items', { href: 'http://api.example.com/items' }],
    ['an empty string', 'api.example.com', '/items', '']
  ]
  for (const [label, host, target, htu] of cases) mismatch(t, await send(s, { host, target, htu }), label)
})

t.test('HTTP/1.0 without a Host header: no URL to compare, 400', async t => {
  const s = await server(t, false)
  const token = signDpopBoundToken(idp, key)
  const proof = createDpopProof(key, { htu: `http://127.0.0.1:${s.port}/items`, accessToken: token })
  const res = await rawHttp(s.port, `GET /items HTTP/1.0\r\nAuthorization: DPoP ${token}\r\nDPoP: ${proof}\r\n\r\n`)
  badRequest(t, { ...res, handled: s.calls }, 'HTTP/1.0, no Host')
})
