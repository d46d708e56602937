// SECURITY.md §8 A (credentials), B (serialization) and C (header, algorithm, key selection) with
// verifier 'fastify-jwt' in front of the real @fastify/jwt + get-jwks. The plugin parses, decodes
// and checks the header before @fastify/jwt is called, so these rows answer as with the built-in
// engine, with no JWKS request, except where @fastify/jwt or get-jwks decide (A5, C6 EdDSA, C8).
import { createHmac, createSign } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { generateTestKey, signJws } from '../../testing.js'
import { accepted, b64u, compact, hs256, listen, logSink, refused, segments, signText, socketGet } from '../attacks/harness.js'
import { claimsV, createApi, createWorld, headerFor, token } from './fixture.js'

const world = await createWorld()
t.teardown(() => world.close())
const rs = world.k.rs
const V = (): string => token(world)

t.test('A1-A3 no header, another scheme, Bearer without a token', async t => {
  const api = await createApi(t, world)
  refused(t, await api.call('/items'), 'MH', api.realm, { bare: true, dpopOff: true }, 'A1')
  refused(t, await api.call({ url: '/items', headers: { authorization: 'Basic dXNlcjpwYXNz' } }), 'IB', api.realm, { bare: true, dpopOff: true }, 'A2')
  for (const value of ['Bearer', 'Bearer ', 'bearer']) {
    refused(t, await api.call({ url: '/items', headers: { authorization: value } }), 'IB', api.realm, {}, `A3 ${JSON.stringify(value)}`)
  }
})

t.test('A4 the scheme is case-insensitive, for @fastify/jwt too', async t => {
  const api = await createApi(t, world)
  for (const scheme of ['bearer', 'BEARER', 'BeArEr']) accepted(t, await api.call({ url: '/items', headers: { authorization: `${scheme} ${V()}` } }), scheme)
})

t.test('A5 differs: @fastify/jwt refuses several spaces after the scheme, answered 400 invalid_request', async t => {
  const api = await createApi(t, world)
  refused(t, await api.call({ url: '/items', headers: { authorization: `Bearer  ${V()}` } }), 'IH', api.realm, {}, 'two spaces (the built-in engine: 200)')
})

t.test('A6-A7 TAB is another scheme; several tokens are 400', async t => {
  const api = await createApi(t, world)
  refused(t, await api.call({ url: '/items', headers: { authorization: `Bearer\t${V()}` } }), 'IB', api.realm, { bare: true, dpopOff: true }, 'A6')
  const v = V()
  for (const value of [`Bearer ${v} ${v}`, `Bearer ${v}, Bearer ${v}`]) refused(t, await api.call({ url: '/items', headers: { authorization: value } }), 'IH', api.realm, {}, 'A7')
})

t.test('A8 two Authorization lines over a socket: 400; A12 a 9 KiB token and a 100 KB header', async t => {
  const api = await createApi(t, world)
  const port = await listen(api.app)
  const two = await socketGet(port, '/items', [`Authorization: Bearer ${V()}`, `Authorization: Bearer ${V()}`])
  t.equal(two.status, 400)
  t.same(JSON.parse(two.body), { error: 'invalid_request', error_description: 'Invalid Authorization Header' })
  const [h, p, s] = V().split('.')
  const huge = `${h}.${p}${'A'.repeat(9 * 1024)}.${s}`
  refused(t, await api.get(huge), 'MT', api.realm, {}, '9 KiB inject')
  const sock = await socketGet(port, '/items', [`Authorization: Bearer ${huge}`])
  t.equal(sock.status, 401)
  t.same(JSON.parse(sock.body), { error: 'invalid_token', error_description: 'Malformed token' })
  t.equal((await socketGet(port, '/items', [`Authorization: Bearer ${'a'.repeat(100 * 1024)}`])).status, 431)
  t.equal(api.calls, 0)
})

t.test('A9-A11 the query, cookies and DPoP are not bearer credentials', async t => {
  const api = await createApi(t, world)
  const v = V()
  accepted(t, await api.call({ url: `/items?access_token=${v}`, headers: { authorization: `Bearer ${v}` } }), 'A9')
  refused(t, await api.call(`/items?access_token=${v}`), 'MH', api.realm, { bare: true, dpopOff: true }, 'A10 query')
  refused(t, await api.call({ url: '/items', headers: { cookie: `token=${v}`, 'proxy-authorization': `Bearer ${v}` } }), 'MH', api.realm, { bare: true, dpopOff: true }, 'A10 cookie')
  refused(t, await api.call({ url: '/items', headers: { authorization: `DPoP ${v}`, dpop: 'x.y.z' } }), 'IB', api.realm, { bare: true, dpopOff: true }, 'A11 / H2')
})

t.test('A13-A15 odd characters; HEAD without a token; OPTIONS is safe', async t => {
  const api = await createApi(t, world, {
    routes: (app, spy) => { app.options('/items', { config: { axioms: { scopes: ['items:read'] } } }, async request => { spy(request); return 'preflight' }) }
  })
  refused(t, await api.get('tök.en.x'), 'MT', api.realm, {}, 'A13 non-ASCII')
  const [h, p, s] = V().split('.')
  refused(t, await api.get(`${h}.${p}+.${s}`), 'MT', api.realm, {}, 'A13 +')
  refused(t, await api.get(`${h}.${p}.${s}=`), 'MT', api.realm, {}, 'A13 =')
  const head = await api.call({ method: 'HEAD', url: '/items' })
  t.equal(head.status, 401, 'A14')
  t.equal(head.headers['www-authenticate'], `Bearer realm="${api.realm}"`)
  t.equal(head.handled, 0)
  t.equal((await api.call({ method: 'HEAD', url: '/items', headers: { authorization: `Bearer ${V()}` } })).status, 200)
  const pre = await api.call({ method: 'OPTIONS', url: '/items' })
  t.equal(pre.status, 200, 'A15')
})

t.test('B1-B8 strict compact JWS: refused before @fastify/jwt, no fetch', async t => {
  const api = await createApi(t, world)
  const [h, p, s] = segments(V())
  for (const tok of ['.', '..', '...', 'h.p', `${h}.${p}.${s}.`, `${h}.${p}.${s}.x`]) refused(t, await api.get(tok), 'MT', api.realm, {}, `B1 ${tok.slice(0, 12)}`)
  const jwe = `${b64u(JSON.stringify({ alg: 'PBES2-HS512+A256KW', enc: 'A256GCM', p2c: 2147483647, zip: 'DEF', kid: 'k-rs' }))}.${b64u('k')}.${b64u('iv')}.${b64u('c')}.${b64u('t')}`
  refused(t, await api.get(jwe), 'MT', api.realm, {}, 'B2 JWE')
  refused(t, await api.get(JSON.stringify({ protected: h, payload: p, signature: s })), 'MT', api.realm, {}, 'B3 JSON serialization')
  const std = (seg: string): string => Buffer.from(seg, 'base64url').toString('base64')
  refused(t, await api.get(`${std(h)}.${p}.${s}`), 'MT', api.realm, {}, 'B4 standard base64 with padding')
  // B5: the last character changed in its unused low bits only (decodes to the same bytes).
  const sig = s.length % 4 === 2 ? s.slice(0, -1) + String.fromCharCode(s.charCodeAt(s.length - 1) + 1) : s
  if (sig !== s) refused(t, await api.get(`${h}.${p}.${sig}`), 'MT', api.realm, {}, 'B5')
  for (const header of ['not json', '[]', '"x"', '1', 'null']) refused(t, await api.get(`${b64u(header)}.${p}.${s}`), 'MT', api.realm, {}, `B6 ${header}`)
  for (const payload of [JSON.stringify([{ sub: 'admin', scope: 'items:write' }]), '"x"', '1', 'true', 'null']) {
    refused(t, await api.get(signText(JSON.stringify(headerFor(rs)), payload, rs), '/items', 'POST'), 'MT', api.realm, {}, `B7 signed ${payload.slice(0, 10)}`)
  }
  const bad = Buffer.concat([Buffer.from(JSON.stringify(claimsV(world)).slice(0, -1) + ',"x":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')])
  const input = `${b64u(JSON.stringify(headerFor(rs)))}.${b64u(bad)}`
  refused(t, await api.get(`${input}.${b64u(createSign('sha256').update(input).sign(rs.privateKey))}`), 'MT', api.realm, {}, 'B8 invalid UTF-8, signed')
})

t.test('B9 duplicate members: the last wins, for the plugin, @fastify/jwt and the route alike', async t => {
  const api = await createApi(t, world)
  const body = JSON.stringify(claimsV(world)).slice(1, -1)
  refused(t, await api.get(signText('{"alg":"RS256","kid":"k-rs","alg":"none"}', `{${body}}`, rs)), 'ALG', api.realm, {}, 'alg RS256 then none')
  accepted(t, await api.get(signText('{"alg":"RS256","kid":"k-es","kid":"k-rs","typ":"at+jwt"}', `{${body}}`, rs)), 'kid k-es then k-rs')
  const readLast = signText(JSON.stringify(headerFor(rs)), `{"scope":"items:write",${body}}`, rs)
  accepted(t, await api.get(readLast), 'GET with write then read')
  refused(t, await api.get(readLast, '/items', 'POST'), 'INS', api.realm, { scope: 'items:write' }, 'POST: write overridden')
  t.equal((api.seen.at(-1) as Record<string, unknown>).scope, 'items:read')
})

t.test('B10-B11 deep nesting is refused before @fastify/jwt; JSON whitespace is fine', async t => {
  const api = await createApi(t, world)
  const nested = '['.repeat(2500) + ']'.repeat(2500)
  const deep = `{"iss":"${world.a.issuer}","aud":"https://api.test","exp":${Math.floor(Date.now() / 1000) + 300},"x":${nested}}`
  refused(t, await api.get(signText(JSON.stringify(headerFor(rs)), deep, rs)), 'MT', api.realm, {}, 'B10 claims 2,500 deep')
  accepted(t, await api.get(signText(JSON.stringify(headerFor(rs), null, 2), JSON.stringify(claimsV(world), null, '\t'), rs)), 'B11')
})

t.test('C1-C3 alg none, missing, wrong case or type: refused before any key lookup', async t => {
  const api = await createApi(t, world)
  for (const alg of ['none', 'None', 'NONE']) {
    refused(t, await api.get(`${b64u(JSON.stringify({ alg, kid: 'k-rs', typ: 'at+jwt' }))}.${b64u(JSON.stringify(claimsV(world)))}.`), 'MT', api.realm, {}, `C1 ${alg}`)
    refused(t, await api.get(compact(JSON.stringify({ alg, kid: 'k-rs' }), JSON.stringify(claimsV(world)), 'sig')), 'ALG', api.realm, {}, `C2 ${alg}`)
  }
  for (const alg of [undefined, '', null, ['RS256'], {}, 'rs256', 'RS256 ', 'ES256K']) {
    const header = { kid: 'k-rs', typ: 'at+jwt', ...(alg === undefined ? {} : { alg }) }
    refused(t, await api.get(signText(JSON.stringify(header), JSON.stringify(claimsV(world)), rs)), 'ALG', api.realm, {}, `C3 ${JSON.stringify(alg)}`)
  }
})

t.test('C4-C5, C13 HMAC with the public key, an empty or guessed key: refused, get-jwks never asked', async t => {
  const api = await createApi(t, world)
  const pub = rs.publicKey
  const keys: Record<string, string | Buffer> = {
    'SPKI PEM': pub.export({ type: 'spki', format: 'pem' }) as string,
    'PKCS#1 PEM': pub.export({ type: 'pkcs1', format: 'pem' }) as string,
    'SPKI DER': pub.export({ type: 'spki', format: 'der' }),
    'JWK JSON': JSON.stringify(rs.jwk),
    empty: '',
    secret: 'secret'
  }
  for (const [name, key] of Object.entries(keys)) {
    refused(t, await api.get(hs256({ alg: 'HS256', kid: 'k-rs', typ: 'at+jwt' }, claimsV(world, { scope: 'items:write' }), key), '/items', 'POST'), 'ALG', api.realm, {}, name)
  }
  const h = b64u(JSON.stringify({ alg: 'HS512', kid: '../../../../dev/null' }))
  const pl = b64u(JSON.stringify(claimsV(world)))
  refused(t, await api.get(`${h}.${pl}.${b64u(createHmac('sha512', '').update(`${h}.${pl}`).digest())}`), 'ALG', api.realm, {}, 'C13 path traversal kid, empty key')
})

t.test('C6 other algorithms: PS256 and RS512 pass; EdDSA differs (jwk-to-pem has no OKP): 401 and an error log', async t => {
  const sink = logSink()
  const api = await createApi(t, world, { fastify: { logger: { level: 'error', stream: sink.stream } } })
  accepted(t, await api.get(token(world, {}, {}, world.k.ps)), 'PS256')
  accepted(t, await api.get(token(world, {}, {}, world.k.rs512)), 'RS512')
  accepted(t, await api.get(token(world, {}, {}, world.k.es)), 'ES256')
  refused(t, await api.get(token(world, {}, {}, world.k.ed)), 'IAC', api.realm, { jwks: 1 }, 'EdDSA (the built-in engine: 200)')
  t.match(sink.lines.map(l => JSON.parse(l)), [{ level: 50, code: 'Error' }], 'jwk-to-pem\'s plain Error is unmapped: logged for the operator')
  const strict = await createApi(t, world, { profile: 'S' })
  refused(t, await strict.get(token(world, {}, {}, world.k.ps)), 'ALG', strict.realm, {}, 'S: PS256 outside the allow-list, no fetch')
  accepted(t, await strict.get(token(world, {}, {}, world.k.es)), 'S: ES256')
})

t.test('C7 the wrong key type for alg: get-jwks finds no JWK of that alg', async t => {
  const api = await createApi(t, world)
  refused(t, await api.get(token(world, {}, { kid: 'k-rs' }, world.k.es)), 'IAC', api.realm, { jwks: 1 }, 'ES256 with kid k-rs')
  refused(t, await api.get(token(world, {}, { kid: 'k-es' }, rs)), 'IAC', api.realm, { jwks: 1 }, 'RS256 with kid k-es')
  refused(t, await api.get(token(world, {}, { kid: 'k-rs' }, { ...rs, alg: 'PS256' })), 'IAC', api.realm, { jwks: 1 }, 'PS256 against k-rs (JWK alg RS256)')
})

t.test('C8 differs in wording: ES256 against a P-384 JWK without alg is fast-jwt\'s algorithm refusal', async t => {
  const p384 = generateTestKey('ES384', 'k-384')
  world.a.setJwks({ keys: [rs.jwk, { ...p384.jwk, alg: undefined }] })
  t.teardown(() => world.a.setJwks(undefined))
  const api = await createApi(t, world)
  const forged = signJws(headerFor(world.k.es, { kid: 'k-384' }), claimsV(world), world.k.es)
  refused(t, await api.get(forged), 'ALG', api.realm, { jwks: 1 }, '401 "Invalid or unsupported algorithm" (the built-in engine: "Invalid access token")')
})

t.test('C10-C12, C14-C15 kid: missing or not a string is refused before any lookup; hostile strings find nothing', async t => {
  const api = await createApi(t, world)
  for (const kid of [undefined, 1, null, [], {}, true, '']) {
    refused(t, await api.get(token(world, {}, { kid })), 'KID', api.realm, {}, `kid ${JSON.stringify(kid) ?? 'missing'}`)
  }
  for (const kid of ['__proto__', 'constructor', 'toString', "' OR 1=1 --", '$' + '{jndi:ldap://x/a}', '$(id)', 'k-rs\r\nX: y', 'k-rs\u0000']) {
    refused(t, await api.get(token(world, {}, { kid })), 'IAC', api.realm, { jwks: null }, `kid ${JSON.stringify(kid)}`)
  }
})

t.test('C16-C18 jku, x5u, embedded jwk and x5c are never followed: Invalid token signature, no outbound request', async t => {
  let hits = 0
  const attacker = createServer((_req, res) => { hits++; res.end('{}') })
  await new Promise<void>(resolve => attacker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise(resolve => attacker.close(resolve)))
  const url = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`
  const evil = generateTestKey('RS256', 'k-rs')
  const api = await createApi(t, world)
  accepted(t, await api.get(V()), 'warm: k-rs fetched once')
  for (const extra of [{ jku: `${url}/jwks.json` }, { x5u: `${url}/cert.pem` }, { jwk: evil.jwk }, { x5c: ['MIIB'] }]) {
    refused(t, await api.get(signJws(headerFor(evil, extra), claimsV(world, { scope: 'items:write' }), evil), '/items', 'POST'), 'SIG', api.realm, {}, Object.keys(extra)[0])
  }
  t.equal(hits, 0, 'the attacker\'s host was never asked')
})

t.test('C19-C20, C24 crit, b64, zip and nested JWTs: refused before @fastify/jwt', async t => {
  const api = await createApi(t, world)
  for (const extra of [{ crit: ['urn:x'], 'urn:x': 1 }, { crit: [] }, { crit: 'x' }, { crit: ['alg'] }, { b64: false, crit: ['b64'] }, { zip: 'DEF' }, { cty: 'JWT' }, { cty: 'jwt' }]) {
    refused(t, await api.get(token(world, {}, extra)), 'IAC', api.realm, {}, JSON.stringify(extra))
  }
})

t.test('C21-C23 typ: exact, by profile', async t => {
  const d = await createApi(t, world)
  const s = await createApi(t, world, { profile: 'S' })
  for (const typ of [undefined, 'JWT', 'jwt', 'application/jwt']) {
    accepted(t, await d.get(token(world, {}, { typ })), `D ${String(typ)}`)
    refused(t, await s.get(token(world, {}, { typ })), 'TYP', s.realm, {}, `S ${String(typ)}`)
  }
  for (const typ of ['at+jwt', 'application/at+jwt']) {
    accepted(t, await d.get(token(world, {}, { typ })), `D ${typ}`)
    accepted(t, await s.get(token(world, {}, { typ })), `S ${typ}`)
  }
  for (const typ of ['AT+JWT', 'dpop+jwt', 'logout+jwt', 'at+jwt; charset=x']) refused(t, await d.get(token(world, {}, { typ })), 'TYP', d.realm, {}, typ)
})
