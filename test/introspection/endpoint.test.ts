// Introspection against a local endpoint that answers as the test says: what an answer must be to
// let a request in (active, iss, aud, exp, nbf, cnf), how long it is reused, and every way the
// endpoint can fail (hang, 5xx, HTML, 10 MB, no `active`): 503 with Retry-After, within the
// deadline, no retry storm, a warning that names the stage and the URL. Discovery (OIDC, then
// RFC 8414) of the endpoint, `tokens: 'all'`, DPoP-bound answers.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import axioms, { type AxiomsOptions, INTROSPECTION_CHANNEL, type IntrospectionMessage, VERIFY_CHANNEL } from '../../index.js'
import { createDpopProof, createTestIssuer, generateDpopKey, type TestIssuer } from '../../testing.js'
import diagnostics from 'node:diagnostics_channel'
import { startProxy } from '../proxy/server.js'

const API = 'orders-api'
type Reply = (req: IncomingMessage, res: ServerResponse, body: URLSearchParams) => void
interface Endpoint { url: string, requests: URLSearchParams[], headers: IncomingMessage['headers'][], answer: (r: Reply) => void }

async function endpoint (t: Test): Promise<Endpoint> {
  let reply: Reply = (_req, res) => { res.writeHead(500).end() }
  const requests: URLSearchParams[] = []
  const headers: IncomingMessage['headers'][] = []
  const server = createServer((req, res) => {
    let raw = ''
    req.on('data', c => { raw += String(c) })
    req.on('end', () => {
      const body = new URLSearchParams(raw)
      requests.push(body)
      headers.push(req.headers)
      reply(req, res, body)
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`, requests, headers, answer: r => { reply = r } }
}

const json = (body: unknown, status = 200): Reply => (_req, res) => { res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body)) }
const now = (): number => Math.floor(Date.now() / 1000)

interface Rig { app: FastifyInstance, idp: TestIssuer, ep: Endpoint, calls: () => number, logs: Array<Record<string, unknown>> }

async function rig (t: Test, introspection: Record<string, unknown> = {}, options: AxiomsOptions = {}): Promise<Rig> {
  const idp = await createTestIssuer({ audience: API })
  t.teardown(() => idp.close())
  const ep = await endpoint(t)
  const logs: Array<Record<string, unknown>> = []
  const app = Fastify({ logger: { level: 'warn', stream: { write: (l: string) => { logs.push(JSON.parse(l)) } } } })
  t.teardown(() => app.close())
  await app.register(axioms, idp.pluginOptions({ introspection: { endpoint: ep.url, clientId: 'orders-api', clientSecret: 's3cret:with/odd chars', ...introspection }, ...options }))
  let calls = 0
  app.get('/orders', { config: { axioms: { scopes: ['orders:read'] } } }, async () => { calls++; return { ok: true } })
  return { app, idp, ep, calls: () => calls, logs }
}

const active = (idp: TestIssuer, over: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ active: true, iss: idp.issuer, aud: API, client_id: 'svc', scope: 'orders:read', exp: now() + 300, iat: now(), ...over })

const call = async (app: FastifyInstance, token = 'opaque-token-1', headers: Record<string, string> = {}) =>
  await app.inject({ url: '/orders', headers: { authorization: `Bearer ${token}`, ...headers } })

t.test('an active answer lets the request in; the request is a form POST with Basic credentials', async t => {
  const s = await rig(t)
  s.ep.answer(json(active(s.idp)))
  t.equal((await call(s.app)).statusCode, 200)
  t.equal(s.ep.requests[0]?.get('token'), 'opaque-token-1')
  t.equal(s.ep.requests[0]?.get('token_type_hint'), 'access_token')
  t.equal(s.ep.headers[0]?.['content-type'], 'application/x-www-form-urlencoded')
  // RFC 6749 §2.3.1: id and secret form-encoded, then Basic.
  t.equal(s.ep.headers[0]?.authorization, 'Basic ' + Buffer.from('orders-api:s3cret%3Awith%2Fodd+chars').toString('base64'))
  t.equal(s.calls(), 1)
})

t.test('what an answer must say: every other answer is 401 invalid_token, handler not run', async t => {
  // jwksCooldown 0: the one non-answer below does not hold back the next requests.
  const s = await rig(t, { cacheTtl: 0 }, { jwksCooldown: 0 })
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['inactive', { active: false }, 'Invalid access token'],
    ['active as a string', { ...active(s.idp), active: 'true' }, ''],
    ['another issuer', active(s.idp, { iss: 'https://evil.example' }), 'Invalid token issuer'],
    ['iss not a string', active(s.idp, { iss: 7 }), 'Invalid token issuer'],
    ['another audience', active(s.idp, { aud: 'billing-api' }), 'Invalid token audience'],
    ['no audience', (() => { const a = active(s.idp); delete a.aud; return a })(), 'Invalid token audience'],
    ['expired', active(s.idp, { exp: now() - 1 }), 'Token has expired'],
    ['exp a string', active(s.idp, { exp: String(now() + 60) }), 'Invalid access token'],
    ['not yet valid', active(s.idp, { nbf: now() + 600 }), 'Invalid access token'],
    ['issued in the future', active(s.idp, { iat: now() + 600 }), 'Invalid access token'],
    ['DPoP-bound, sent as Bearer', active(s.idp, { cnf: { jkt: generateDpopKey().jkt } }), 'DPoP-bound access token requires the DPoP scheme'],
    ['an unknown binding', active(s.idp, { cnf: { jwk: {} } }), 'Invalid access token'],
    ['lacking the scope', active(s.idp, { scope: 'orders:write' }), 'Insufficient role, scope or permission'],
    ['nested past the claim depth', active(s.idp, { ext: JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40)) }), 'Invalid access token'],
    // Endpoints answer for refresh and ID tokens too: Hydra's token_use, Keycloak's typ, RFC 7662 token_type.
    ['a Hydra refresh token', active(s.idp, { token_use: 'refresh_token' }), 'Invalid token type'],
    ['a Keycloak refresh token', active(s.idp, { typ: 'Refresh' }), 'Invalid token type'],
    ['a Keycloak ID token', active(s.idp, { typ: 'ID' }), 'Invalid token type'],
    ['token_type refresh_token', active(s.idp, { token_type: 'refresh_token' }), 'Invalid token type'],
    ['token_type the RFC 8693 URI of a refresh token', active(s.idp, { token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }), 'Invalid token type'],
    ['token_type not a string', active(s.idp, { token_type: ['Bearer'] }), 'Invalid token type']
  ]
  for (const [label, answer, description] of cases) {
    s.ep.answer(json(answer))
    const res = await call(s.app, `token-${label.replace(/\W/g, '-')}`)
    if (description === '') {
      t.equal(res.statusCode, 503, `${label}: not an answer at all`)
      continue
    }
    const forbidden = description.startsWith('Insufficient')
    t.equal(res.statusCode, forbidden ? 403 : 401, label)
    t.same(res.json(), { error: forbidden ? 'insufficient_scope' : 'invalid_token', error_description: description }, label)
    t.match(res.headers['www-authenticate'], forbidden ? /scope="orders:read"/ : new RegExp(`error_description="${description}"`), label)
  }
  t.equal(s.calls(), 0)
  // Without iss the answer speaks for the configured issuer, and the claims say so.
  s.ep.answer(json({ active: true, aud: [API], scope: 'orders:read', exp: now() + 60 }))
  t.equal((await call(s.app, 'no-iss')).statusCode, 200)
  t.equal((await s.app.axioms.verify('no-iss-verify')).iss, s.idp.issuer, 'iss filled in from the configured issuer')
  // exp is required, as for a JWT, though RFC 7662 §2.2 makes it optional.
  s.ep.answer(json({ active: true, iss: s.idp.issuer, aud: [API], scope: 'orders:read' }))
  const noExp = await call(s.app, 'no-exp')
  t.equal(noExp.statusCode, 401)
  t.same(noExp.json(), { error: 'invalid_token', error_description: 'Token missing expiration claim' })
  // What providers say of an access token, in any case.
  for (const kind of [{ token_type: 'Bearer' }, { token_type: 'bearer' }, { token_type: 'DPoP' }, { token_use: 'access_token' }, { typ: 'Bearer' }, { token_type: 'urn:ietf:params:oauth:token-type:access_token' }, { token_type: 'Bearer', token_use: 'access_token', typ: 'Bearer' }]) {
    s.ep.answer(json(active(s.idp, kind)))
    t.equal((await call(s.app, `kind-${JSON.stringify(kind)}`)).statusCode, 200, JSON.stringify(kind))
  }
})

t.test('an answer about one request (400, 413, 414, 422) holds back no other token; one warning per retry delay', async t => {
  const s = await rig(t, { cacheTtl: 0 }, { jwksCooldown: '3s' })
  for (const status of [400, 413, 414, 422]) {
    s.ep.answer((_q, res, body) => {
      if (body.get('token') === 'chosen-by-the-client') json({ error: 'invalid_request' }, status)(_q, res, body)
      else json(active(s.idp))(_q, res, body)
    })
    const bad = await call(s.app, 'chosen-by-the-client')
    t.equal(bad.statusCode, 503, `${status}: that request cannot be verified`)
    t.equal(bad.headers['retry-after'], '1', `${status}: Retry-After`)
    t.equal((await call(s.app, `good-after-${status}`)).statusCode, 200, `${status}: the next token is still introspected`)
  }
  t.equal(s.app.axioms.stats().introspection?.failures, 4)
  t.equal(s.logs.filter(l => l.stage === 'introspection').length, 1, 'one warning; the others at debug')
  // A failure of the endpoint itself still holds everyone back for the retry delay.
  s.ep.answer(json({ error: 'server_error' }, 500))
  t.equal((await call(s.app, 'first')).statusCode, 503)
  s.ep.answer(json(active(s.idp)))
  const asked = s.ep.requests.length
  t.equal((await call(s.app, 'second')).statusCode, 503, 'within the retry delay')
  t.equal(s.ep.requests.length, asked, 'not asked')
  t.equal(s.calls(), 4)
})

t.test('answers are reused for no longer than cacheTtl and the token\'s exp; inactive ones too', async t => {
  const s = await rig(t, { cacheTtl: '1h' })
  s.ep.answer(json(active(s.idp, { exp: now() + 2 })))
  t.equal((await call(s.app, 'short')).statusCode, 200)
  t.equal((await call(s.app, 'short')).statusCode, 200)
  t.equal(s.ep.requests.length, 1, 'the second request reused the answer')
  await new Promise(resolve => setTimeout(resolve, 2100))
  s.ep.answer(json({ active: false }))
  t.equal((await call(s.app, 'short')).statusCode, 401, 'past its exp the answer is not reused: asked again')
  t.equal(s.ep.requests.length, 2)
  t.equal((await call(s.app, 'short')).statusCode, 401)
  t.equal(s.ep.requests.length, 2, 'an inactive answer is reused too (within cacheTtl)')
})

t.test('endpoint failures: 503 with Retry-After, a warning naming the stage and URL, no retry storm', async t => {
  const cases: Array<[string, Reply, string]> = [
    ['500', json({ error: 'server_error' }, 500), 'status_500'],
    ['html', (_q, res) => { res.writeHead(200, { 'content-type': 'text/html' }).end('<html>oops</html>') }, 'invalid_json'],
    ['no active', json({ scope: 'orders:read' }), 'not_an_introspection'],
    ['array', json([true]), 'not_an_introspection'],
    ['10 MB', (_q, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"active":true,"x":"' + 'x'.repeat(2 * 1024 * 1024) + '"}') }, 'too_large'],
    ['hang', () => {}, 'timeout']
  ]
  for (const [label, reply, cause] of cases) {
    const s = await rig(t, { cacheTtl: 0 }, { jwksTimeout: '300ms', jwksCooldown: '3s' })
    s.ep.answer(reply)
    const started = Date.now()
    const res = await call(s.app)
    t.ok(Date.now() - started < 5000, `${label}: bounded`)
    t.equal(res.statusCode, 503, label)
    t.same(res.json(), { error: 'temporarily_unavailable', error_description: 'Unable to verify the access token right now' }, label)
    t.match(res.headers['retry-after'], /^[1-9]\d*$/, label)
    t.notOk(res.headers['www-authenticate'], `${label}: no challenge`)
    const warn = s.logs.find(l => l.stage === 'introspection')
    t.equal(warn?.cause, cause, label)
    t.equal(warn?.url, s.ep.url, label)
    t.match(warn?.msg, new RegExp(`^axioms: token introspection for ${s.idp.issuer} failed: POST ${s.ep.url} `), label)
    const again = await call(s.app, 'another-token')
    t.equal(again.statusCode, 503, `${label}: within the retry delay`)
    t.equal(s.ep.requests.length, 1, `${label}: the endpoint is not asked again at once`)
    t.equal(s.app.axioms.stats().introspection?.lastError, cause)
    t.equal(s.calls(), 0)
  }
})

t.test('the endpoint from discovery: OIDC first, then RFC 8414; none: 503', async t => {
  const ep = await endpoint(t)
  const idp = await createTestIssuer({ audience: API })
  t.teardown(() => idp.close())
  idp.setDiscovery({ issuer: idp.issuer, jwks_uri: idp.jwksUri, introspection_endpoint: ep.url })
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, idp.pluginOptions({ introspection: { clientId: 'c', clientSecret: 's' } }))
  app.get('/orders', { config: { axioms: {} } }, async () => 'ok')
  ep.answer(json(active(idp)))
  t.equal((await call(app)).statusCode, 200)
  t.equal(app.axioms.stats().introspection?.endpoint, ep.url)

  // No OIDC document: RFC 8414's, at /.well-known/oauth-authorization-server (the test kit serves
  // only OIDC's, so a small server plays the issuer).
  const asked: string[] = []
  const meta = createServer((req, res) => {
    asked.push(String(req.url))
    const issuer = req.url === '/.well-known/oauth-authorization-server' ? base : req.url === '/.well-known/oauth-authorization-server/realms/a' ? `${base}/realms/a` : undefined
    if (issuer !== undefined) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer, introspection_endpoint: ep.url }))
    } else {
      res.writeHead(404).end()
    }
  })
  await new Promise<void>(resolve => meta.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise(resolve => meta.close(resolve)))
  const base = `http://127.0.0.1:${(meta.address() as AddressInfo).port}`
  const oauth = Fastify()
  t.teardown(() => oauth.close())
  await oauth.register(axioms, { issuer: base, audience: API, env: {}, jwksPrefetch: false, introspection: { clientId: 'c', clientSecret: 's' } })
  oauth.get('/orders', { config: { axioms: {} } }, async () => 'ok')
  ep.answer(json(active(idp, { iss: base })))
  t.equal((await call(oauth)).statusCode, 200)
  // An issuer with a path: RFC 8414 §3.1 puts the well-known segment before it.
  const realm = Fastify()
  t.teardown(() => realm.close())
  await realm.register(axioms, { issuer: `${base}/realms/a`, audience: API, env: {}, jwksPrefetch: false, introspection: { clientId: 'c', clientSecret: 's' } })
  realm.get('/orders', { config: { axioms: {} } }, async () => 'ok')
  ep.answer(json(active(idp, { iss: `${base}/realms/a` })))
  t.equal((await call(realm)).statusCode, 200)
  t.same(asked.slice(-2), ['/realms/a/.well-known/openid-configuration', '/.well-known/oauth-authorization-server/realms/a'])

  idp.setDiscovery({ issuer: idp.issuer, jwks_uri: idp.jwksUri })
  const none = Fastify({ logger: false })
  t.teardown(() => none.close())
  await none.register(axioms, idp.pluginOptions({ introspection: { clientId: 'c', clientSecret: 's' } }))
  none.get('/orders', { config: { axioms: {} } }, async () => 'ok')
  t.equal((await call(none)).statusCode, 503)
  t.equal(none.axioms.stats().introspection?.lastError, 'discovery_no_introspection_endpoint')
})

t.test('JWTs still take the JWT path; tokens: "all" introspects them too', async t => {
  const s = await rig(t)
  s.ep.answer(json(active(s.idp)))
  const jwt = s.idp.sign({ scope: 'orders:read' })
  t.equal((await call(s.app, jwt)).statusCode, 200)
  t.equal(s.ep.requests.length, 0)
  const all = await rig(t, { tokens: 'all' })
  all.ep.answer(json({ active: false }))
  t.equal((await call(all.app, all.idp.sign({ scope: 'orders:read' }))).statusCode, 401, 'the authorization server decides, even for a JWT')
  t.equal(all.ep.requests.length, 1)
})

t.test('a DPoP-bound introspected token over DPoP, with its proof', async t => {
  const s = await rig(t)
  const key = generateDpopKey()
  s.ep.answer(json(active(s.idp, { cnf: { jkt: key.jkt } })))
  const token = 'opaque-bound'
  const res = await call(s.app, token, { authorization: `DPoP ${token}`, dpop: createDpopProof(key, { htu: 'http://localhost/orders', accessToken: token }) })
  t.equal(res.statusCode, 200)
  const bad = await call(s.app, token, { authorization: `DPoP ${token}`, dpop: createDpopProof(generateDpopKey(), { htu: 'http://localhost/orders', accessToken: token }) })
  t.equal(bad.statusCode, 401)
  t.same(bad.json(), { error: 'invalid_token', error_description: 'Access token is not bound to the DPoP proof key' })
  // app.axioms.verify has no request to bind to: a bound answer is refused there.
  const err = await s.app.axioms.verify(token).then(() => undefined, (e: unknown) => e)
  t.equal((err as { reason?: string }).reason, 'sender_constrained')
})

t.test('client_secret_post and private_key_jwt requests', async t => {
  const post = await rig(t, { clientAuth: 'client_secret_post', clientSecret: 'p0st' })
  post.ep.answer(json(active(post.idp)))
  t.equal((await call(post.app)).statusCode, 200)
  t.equal(post.ep.requests[0]?.get('client_id'), 'orders-api')
  t.equal(post.ep.requests[0]?.get('client_secret'), 'p0st')
  t.equal(post.ep.headers[0]?.authorization, undefined)

  const { generateKeyPairSync, createPublicKey, verify } = await import('node:crypto')
  for (const [type, opts, alg] of [['ec', { namedCurve: 'P-384' }, 'ES384'], ['ed25519', {}, 'EdDSA'], ['rsa', { modulusLength: 2048 }, 'RS256'], ['ec', { namedCurve: 'P-256' }, 'ES256'], ['ec', { namedCurve: 'P-521' }, 'ES512'], ['rsa-pss', { modulusLength: 2048 }, 'PS256']] as const) {
    const pair = generateKeyPairSync(type as 'ec', opts as { namedCurve: string })
    const pem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string
    // The last one without keyId: no kid in the header.
    const kid = alg === 'PS256' ? undefined : 'k1'
    const jwt = await rig(t, { privateKey: type === 'ed25519' ? pair.privateKey.export({ format: 'jwk' }) : pem, keyId: kid, clientSecret: undefined })
    jwt.ep.answer(json(active(jwt.idp)))
    t.equal((await call(jwt.app)).statusCode, 200, alg)
    const form = jwt.ep.requests[0] as URLSearchParams
    t.equal(form.get('client_assertion_type'), 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
    const [h, p, sig] = String(form.get('client_assertion')).split('.') as [string, string, string]
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, number | string>
    t.same(header, kid === undefined ? { alg, typ: 'JWT' } : { alg, typ: 'JWT', kid }, alg)
    t.match(claims, { iss: 'orders-api', sub: 'orders-api', aud: jwt.ep.url }, alg)
    t.ok((claims.exp as number) - (claims.iat as number) <= 60, `${alg}: short-lived`)
    const hash = alg === 'EdDSA' ? null : `sha${alg === 'ES384' ? 384 : alg === 'ES512' ? 512 : 256}`
    const ok = verify(hash, Buffer.from(`${h}.${p}`), {
      key: createPublicKey(pair.privateKey),
      ...(alg.startsWith('ES') ? { dsaEncoding: 'ieee-p1363' as const } : {}),
      ...(alg === 'PS256' ? { padding: 6, saltLength: 32 } : {})
    }, Buffer.from(sig, 'base64url'))
    t.ok(ok, `${alg}: the assertion verifies with the client's public key`)
  }
})

t.test('diagnostics: introspect and introspect_failed on the introspection channel, nothing secret', async t => {
  const seen: IntrospectionMessage[] = []
  const listener = (m: unknown): void => { seen.push(m as IntrospectionMessage) }
  diagnostics.subscribe(INTROSPECTION_CHANNEL, listener)
  t.teardown(() => diagnostics.unsubscribe(INTROSPECTION_CHANNEL, listener))
  const s = await rig(t, { cacheTtl: 0 }, { jwksCooldown: 0 })
  s.ep.answer(json(active(s.idp)))
  await call(s.app)
  s.ep.answer(json({ active: false }))
  await call(s.app)
  s.ep.answer(json({}, 502))
  await call(s.app)
  const mine = seen.filter(m => m.issuer === s.idp.issuer)
  t.same(mine, [
    { issuer: s.idp.issuer, event: 'introspect', active: true },
    { issuer: s.idp.issuer, event: 'introspect', active: false },
    { issuer: s.idp.issuer, event: 'introspect_failed', cause: 'status_502', stage: 'introspection', url: s.ep.url, status: 502 }
  ])
  t.notMatch(JSON.stringify(mine), /opaque-token|s3cret/)
})

t.test('verification outcomes on the verify channel: no kid (an opaque token names none), the answer\'s jti', async t => {
  const seen: Array<Record<string, unknown>> = []
  const listener = (m: unknown): void => { seen.push(m as Record<string, unknown>) }
  diagnostics.subscribe(VERIFY_CHANNEL, listener)
  t.teardown(() => diagnostics.unsubscribe(VERIFY_CHANNEL, listener))
  const s = await rig(t, { cacheTtl: 0 })
  s.ep.answer(json(active(s.idp, { jti: 'j-ok' })))
  await call(s.app)
  s.ep.answer(json(active(s.idp)))
  await call(s.app)
  s.ep.answer(json(active(s.idp, { jti: 'j-other-aud', aud: 'billing-api' })))
  await call(s.app)
  s.ep.answer(json({ active: false, jti: 'not-read' }))
  await call(s.app)
  t.same(seen.filter(m => m.issuer === s.idp.issuer), [
    { ok: true, issuer: s.idp.issuer, jti: 'j-ok' },
    { ok: true, issuer: s.idp.issuer },
    { ok: false, reason: 'bad_audience', issuer: s.idp.issuer, jti: 'j-other-aud' },
    { ok: false, reason: 'inactive_token', issuer: s.idp.issuer }
  ])
})

t.test('through an egress proxy that is down: 503, and the warning names the proxy', async t => {
  const s = await rig(t, {}, { proxy: 'http://127.0.0.1:9' })
  s.ep.answer(json(active(s.idp)))
  const res = await call(s.app)
  t.equal(res.statusCode, 503)
  t.equal(s.ep.requests.length, 0, 'nothing reached the endpoint directly')
  const warning = s.logs.find(l => typeof l.msg === 'string' && l.msg.includes('token introspection'))
  t.match(warning, { proxy: 'http://127.0.0.1:9', stage: 'introspection', url: s.ep.url })
  t.match(String(warning?.msg), / through proxy http:\/\/127\.0\.0\.1:9 /)
})

t.test('roles, permissions and ownership run on the answer as on JWT claims', async t => {
  const s = await rig(t, { cacheTtl: 0 })
  const articles = new Map([['1', { user: 'alice' }]])
  s.app.get('/admin', { onRequest: [s.app.hasRequiredRoles(['admin']), s.app.hasRequiredPermissions(['orders:delete'])] }, async () => 'admin')
  s.app.get('/articles/:id', {
    onRequest: [s.app.checkObjectOwnership<{ user: string }, { id: string }>({ getObject: r => articles.get(r.params.id) })]
  }, async r => r.ownedObject)
  s.ep.answer(json(active(s.idp, { roles: ['admin'], permissions: ['orders:delete'] })))
  t.equal((await s.app.inject({ url: '/admin', headers: { authorization: 'Bearer o1' } })).statusCode, 200)
  s.ep.answer(json(active(s.idp, { roles: ['admin'], permissions: ['orders:read'] })))
  const noPermission = await s.app.inject({ url: '/admin', headers: { authorization: 'Bearer o2' } })
  t.same([noPermission.statusCode, noPermission.json().error], [403, 'insufficient_scope'])
  s.ep.answer(json(active(s.idp, { roles: ['viewer'], permissions: ['orders:delete'] })))
  t.equal((await s.app.inject({ url: '/admin', headers: { authorization: 'Bearer o3' } })).statusCode, 403)
  s.ep.answer(json(active(s.idp, { sub: 'alice' })))
  const own = await s.app.inject({ url: '/articles/1', headers: { authorization: 'Bearer o4' } })
  t.same([own.statusCode, own.json()], [200, { user: 'alice' }])
  s.ep.answer(json(active(s.idp, { sub: 'mallory' })))
  const other = await s.app.inject({ url: '/articles/1', headers: { authorization: 'Bearer o5' } })
  t.same([other.statusCode, other.json().error_description], [403, 'You do not have permission to access this resource'])
  s.ep.answer(json(active(s.idp, { sub: 'alice' })))
  t.equal((await s.app.inject({ url: '/articles/2', headers: { authorization: 'Bearer o6' } })).statusCode, 404)
})

t.test('through a real egress proxy (HTTP_PROXY): the POST goes through it with its form and credentials', async t => {
  const proxy = await startProxy(t)
  const s = await rig(t, {}, { env: { HTTP_PROXY: proxy.url } })
  s.ep.answer(json(active(s.idp)))
  t.equal((await call(s.app)).statusCode, 200)
  // The JWKS prefetch went through it too (as GETs); the introspection is the one POST.
  const posts = (): string[] => proxy.passed.filter(p => p.method === 'POST').map(p => p.target)
  t.same(posts(), [s.ep.url])
  t.equal(s.ep.requests[0]?.get('token'), 'opaque-token-1')
  t.match(s.ep.headers[0]?.authorization, /^Basic /)
  const direct = await rig(t, {}, { env: { HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' } })
  direct.ep.answer(json(active(direct.idp)))
  t.equal((await call(direct.app)).statusCode, 200)
  t.same(posts(), [s.ep.url], 'NO_PROXY: reached directly')
})
