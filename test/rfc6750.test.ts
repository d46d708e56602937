// Every row of SPEC §6 through a real route: status, body, the exact WWW-Authenticate (or its
// absence), Retry-After on 503, and the handler never running.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import axioms, { type AxiomsOptions } from '../index.js'
import { createTestIssuer, generateTestKey, signJws, type TestIssuer, type TestIssuerOptions } from '../testing.js'
import { offered } from './fixture.js'

interface Ctx { app: FastifyInstance, idp: TestIssuer, calls: { n: number } }

async function setup (t: Test, options: AxiomsOptions = {}, issuerOptions: TestIssuerOptions = {}): Promise<Ctx> {
  const idp = await createTestIssuer(issuerOptions)
  t.teardown(() => idp.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, { audience: 'your-api-audience', issuer: idp.issuer, env: {}, ...options })
  const calls = { n: 0 }
  const handler = async (): Promise<{ ok: boolean }> => { calls.n++; return { ok: true } }
  app.get('/token', { preHandler: app.hasValidAccessToken() }, handler)
  app.get('/scope', { config: { axioms: { scopes: ['read:data', 'openid'] } } }, handler)
  app.get('/role', { preHandler: [app.hasValidAccessToken(), app.hasRequiredRoles(['admin'])] }, handler)
  app.get('/owned/:id', {
    preHandler: app.checkObjectOwnership({ getObject: req => (req.params as { id: string }).id === 'missing' ? null : { user: 'alice' } })
  }, handler)
  return { app, idp, calls }
}

const b64 = (s: string): string => Buffer.from(s).toString('base64url')

function challenge (realm: string, error: string, description: string): string {
  return `Bearer realm="${realm}", error="${error}", error_description="${description}"`
}

async function expectRow (t: Test, ctx: Ctx, url: string, authorization: string | undefined, status: number, error: string, description: string, www: string | null): Promise<void> {
  const before = ctx.calls.n
  const res = await ctx.app.inject({ url, headers: authorization === undefined ? {} : { authorization } })
  t.equal(res.statusCode, status, `${description}: status ${status}`)
  t.same(res.json(), { error, error_description: description }, `${description}: body`)
  if (www === null) t.notOk('www-authenticate' in res.headers, `${description}: no challenge`)
  else t.equal(res.headers['www-authenticate'], www, `${description}: challenge`)
  t.equal(ctx.calls.n, before, `${description}: handler not run`)
}

t.test('request-level rows', async t => {
  const ctx = await setup(t)
  const realm = ctx.idp.issuer
  const good = ctx.idp.sign({ sub: 'alice' })
  await expectRow(t, ctx, '/token', undefined, 401, 'invalid_token', 'Missing Authorization Header', offered(realm))
  await expectRow(t, ctx, '/token', `Basic ${b64('user:pass')}`, 401, 'invalid_token', 'Invalid Authorization Bearer', offered(realm))
  await expectRow(t, ctx, '/token', `Token ${good}`, 401, 'invalid_token', 'Invalid Authorization Bearer', offered(realm))
  await expectRow(t, ctx, '/token', good, 401, 'invalid_token', 'Invalid Authorization Bearer', offered(realm))
  await expectRow(t, ctx, '/token', 'Bearer', 401, 'invalid_token', 'Invalid Authorization Bearer', challenge(realm, 'invalid_token', 'Invalid Authorization Bearer'))
  await expectRow(t, ctx, '/token', 'Bearer    ', 401, 'invalid_token', 'Invalid Authorization Bearer', challenge(realm, 'invalid_token', 'Invalid Authorization Bearer'))
  const dup = challenge(realm, 'invalid_request', 'Invalid Authorization Header')
  await expectRow(t, ctx, '/token', `Bearer ${good} ${good}`, 400, 'invalid_request', 'Invalid Authorization Header', dup)
  const twice = await ctx.app.inject({ url: '/token', headers: { authorization: [`Bearer ${good}`, `Bearer ${good}`] } as unknown as Record<string, string> })
  t.equal(twice.statusCode, 400)
  t.equal(twice.headers['www-authenticate'], dup)
  // Scheme is case-insensitive, separated by one or more spaces.
  for (const auth of [`bearer ${good}`, `BEARER  ${good}`, `Bearer ${good}  `]) {
    const res = await ctx.app.inject({ url: '/token', headers: { authorization: auth } })
    t.equal(res.statusCode, 200, auth.slice(0, 9))
  }
  t.equal(ctx.calls.n, 3)
})

t.test('token syntax rows: Malformed token', async t => {
  const ctx = await setup(t)
  const realm = ctx.idp.issuer
  const www = challenge(realm, 'invalid_token', 'Malformed token')
  const good = ctx.idp.sign({ sub: 'alice' })
  const [h, p, s] = good.split('.') as [string, string, string]
  const key = ctx.idp.keys[0]
  const header = { alg: 'RS256', kid: key?.kid, typ: 'at+jwt' }
  const malformed = [
    'abc',
    `${h}.${p}`,
    `${h}.${p}.${s}.x`,
    `${h}.${p}.${s}.x.y`, // a 5-part JWE shape
    `${h}..${s}`,
    `.${p}.${s}`,
    `${h}.${p}.`,
    `${h}.${p}=.${s}`,
    `${h}.${p.replace(/[-_]/g, '+')}+/.${s}`,
    `${b64('not json')}.${p}.${s}`,
    `${b64('[1,2]')}.${p}.${s}`,
    `${b64('null')}.${p}.${s}`,
    `${h}.${b64('"string"')}.${s}`,
    `${h}.${Buffer.from([0xff, 0xfe, 0x7b]).toString('base64url')}.${s}`,
    signJws(header, '{"sub":', key as never),
    'x'.repeat(8193)
  ]
  for (const token of malformed) await expectRow(t, ctx, '/token', `Bearer ${token}`, 401, 'invalid_token', 'Malformed token', www)
  // RS256 signature: 256 bytes, 342 base64url characters (2 mod 4): the last one's low 4 bits are
  // unused, and a spelling that sets them decodes to the same bytes but is refused.
  t.equal(s.length % 4, 2)
  const next: Record<string, string> = { A: 'B', Q: 'R', g: 'h', w: 'x' }
  const noncanonical = `${s.slice(0, -1)}${next[s.at(-1) as string] as string}`
  t.same(Buffer.from(noncanonical, 'base64url'), Buffer.from(s, 'base64url'))
  await expectRow(t, ctx, '/token', `Bearer ${h}.${p}.${noncanonical}`, 401, 'invalid_token', 'Malformed token', www)
})

t.test('header rows', async t => {
  const ctx = await setup(t, { algorithms: ['RS256', 'ES256'] }, { algorithms: ['RS256', 'ES256', 'PS256'] })
  const realm = ctx.idp.issuer
  const alg = challenge(realm, 'invalid_token', 'Invalid or unsupported algorithm')
  const rsa = ctx.idp.keys[0]
  const payload = { iss: ctx.idp.issuer, aud: 'your-api-audience', exp: Math.floor(Date.now() / 1000) + 60 }
  await expectRow(t, ctx, '/token', `Bearer ${ctx.idp.signRaw({ kid: rsa?.kid }, payload)}`, 401, 'invalid_token', 'Invalid or unsupported algorithm', alg)
  await expectRow(t, ctx, '/token', `Bearer ${ctx.idp.signRaw({ alg: 'none', kid: rsa?.kid }, payload)}`, 401, 'invalid_token', 'Invalid or unsupported algorithm', alg)
  await expectRow(t, ctx, '/token', `Bearer ${ctx.idp.signRaw({ alg: 'rs256', kid: rsa?.kid }, payload)}`, 401, 'invalid_token', 'Invalid or unsupported algorithm', alg)
  await expectRow(t, ctx, '/token', `Bearer ${ctx.idp.signRaw({ alg: 'HS256', kid: rsa?.kid }, payload)}`, 401, 'invalid_token', 'Invalid or unsupported algorithm', alg)
  // PS256 is a real algorithm, but not in this app's allow-list.
  await expectRow(t, ctx, '/token', `Bearer ${ctx.idp.sign({}, { alg: 'PS256' })}`, 401, 'invalid_token', 'Invalid or unsupported algorithm', alg)
  const kid = challenge(realm, 'invalid_token', 'Missing key ID in token header')
  await expectRow(t, ctx, '/token', `Bearer ${ctx.idp.sign({}, { kid: null })}`, 401, 'invalid_token', 'Missing key ID in token header', kid)
  await expectRow(t, ctx, '/token', `Bearer ${ctx.idp.sign({}, { kid: '' })}`, 401, 'invalid_token', 'Missing key ID in token header', kid)
  await expectRow(t, ctx, '/token', `Bearer ${ctx.idp.sign({}, { header: { kid: 7 } })}`, 401, 'invalid_token', 'Missing key ID in token header', kid)
  const typ = challenge(realm, 'invalid_token', 'Invalid token type')
  await expectRow(t, ctx, '/token', `Bearer ${ctx.idp.sign({}, { typ: 'JOSE' })}`, 401, 'invalid_token', 'Invalid token type', typ)
  await expectRow(t, ctx, '/token', `Bearer ${ctx.idp.sign({}, { typ: 'AT+JWT' })}`, 401, 'invalid_token', 'Invalid token type', typ)
  await expectRow(t, ctx, '/token', `Bearer ${ctx.idp.sign({}, { header: { typ: 1 } })}`, 401, 'invalid_token', 'Invalid token type', typ)
  const invalid = challenge(realm, 'invalid_token', 'Invalid access token')
  await expectRow(t, ctx, '/token', `Bearer ${ctx.idp.sign({}, { kid: 'no-such-kid' })}`, 401, 'invalid_token', 'Invalid access token', invalid)
  // key/alg mismatch: the header names the RSA key but the token is signed (and labelled) ES256.
  const es = ctx.idp.keys.find(k => k.alg === 'ES256')
  await expectRow(t, ctx, '/token', `Bearer ${signJws({ alg: 'ES256', kid: rsa?.kid }, payload, es as never)}`, 401, 'invalid_token', 'Invalid access token', invalid)
  for (const extra of [{ crit: ['exp'] }, { b64: false }, { zip: 'DEF' }, { cty: 'JWT' }]) {
    await expectRow(t, ctx, '/token', `Bearer ${ctx.idp.sign({}, { header: extra })}`, 401, 'invalid_token', 'Invalid access token', invalid)
  }
  // A missing typ is fine by default; the good ES256 and RS256 tokens pass.
  for (const token of [ctx.idp.sign({}, { typ: null }), ctx.idp.sign({}, { alg: 'ES256' })]) {
    const res = await ctx.app.inject({ url: '/token', headers: { authorization: `Bearer ${token}` } })
    t.equal(res.statusCode, 200)
  }
})

t.test('signature and claim rows', async t => {
  const ctx = await setup(t)
  const realm = ctx.idp.issuer
  const now = Math.floor(Date.now() / 1000)
  const good = ctx.idp.sign({ sub: 'alice' })
  const other = generateTestKey('RS256', ctx.idp.keys[0]?.kid)
  const forged = signJws({ alg: 'RS256', kid: other.kid, typ: 'at+jwt' }, { iss: ctx.idp.issuer, aud: 'your-api-audience', exp: now + 60 }, other)
  const sig = challenge(realm, 'invalid_token', 'Invalid token signature')
  await expectRow(t, ctx, '/token', `Bearer ${forged}`, 401, 'invalid_token', 'Invalid token signature', sig)
  const [h, p] = good.split('.')
  const [, , otherSig] = ctx.idp.sign({ sub: 'bob' }).split('.')
  await expectRow(t, ctx, '/token', `Bearer ${h}.${p}.${otherSig}`, 401, 'invalid_token', 'Invalid token signature', sig)
  const expired = challenge(realm, 'invalid_token', 'Token has expired')
  await expectRow(t, ctx, '/token', `Bearer ${ctx.idp.sign({ exp: now - 10 })}`, 401, 'invalid_token', 'Token has expired', expired)
  await expectRow(t, ctx, '/token', `Bearer ${ctx.idp.sign({ exp: undefined })}`, 401, 'invalid_token', 'Token missing expiration claim', challenge(realm, 'invalid_token', 'Token missing expiration claim'))
  await expectRow(t, ctx, '/token', `Bearer ${ctx.idp.sign({ exp: null })}`, 401, 'invalid_token', 'Token missing expiration claim', challenge(realm, 'invalid_token', 'Token missing expiration claim'))
  const invalid = challenge(realm, 'invalid_token', 'Invalid access token')
  for (const claims of [{ nbf: now + 120 }, { iat: now + 120 }, { exp: String(now + 60) }, { nbf: 'soon' }, { iat: null }, { cnf: { jkt: 'x' } }]) {
    await expectRow(t, ctx, '/token', `Bearer ${ctx.idp.sign(claims)}`, 401, 'invalid_token', 'Invalid access token', invalid)
  }
  const aud = challenge(realm, 'invalid_token', 'Invalid token audience')
  for (const claims of [{ aud: 'other-api' }, { aud: undefined }, { aud: ['a', 'b'] }, { aud: 7 }]) {
    await expectRow(t, ctx, '/token', `Bearer ${ctx.idp.sign(claims)}`, 401, 'invalid_token', 'Invalid token audience', aud)
  }
  const iss = challenge(realm, 'invalid_token', 'Invalid token issuer')
  for (const claims of [{ iss: 'https://evil.example' }, { iss: undefined }, { iss: `${ctx.idp.issuer}/` }, { iss: ['x'] }]) {
    await expectRow(t, ctx, '/token', `Bearer ${ctx.idp.sign(claims)}`, 401, 'invalid_token', 'Invalid token issuer', iss)
  }
  // aud as an array containing ours is fine.
  const res = await ctx.app.inject({ url: '/token', headers: { authorization: `Bearer ${ctx.idp.sign({ aud: ['x', 'your-api-audience'] })}` } })
  t.equal(res.statusCode, 200)
})

t.test('authorization rows: 403 and 404', async t => {
  const ctx = await setup(t)
  const realm = ctx.idp.issuer
  const token = ctx.idp.sign({ sub: 'bob', scope: 'email', roles: ['viewer'] })
  const desc = 'Insufficient role, scope or permission'
  await expectRow(t, ctx, '/scope', `Bearer ${token}`, 403, 'insufficient_scope', desc, `${challenge(realm, 'insufficient_scope', desc)}, scope="read:data openid"`)
  await expectRow(t, ctx, '/role', `Bearer ${token}`, 403, 'insufficient_scope', desc, challenge(realm, 'insufficient_scope', desc))
  const owner = 'You do not have permission to access this resource'
  await expectRow(t, ctx, '/owned/1', `Bearer ${token}`, 403, 'insufficient_scope', owner, challenge(realm, 'insufficient_scope', owner))
  await expectRow(t, ctx, '/owned/missing', `Bearer ${token}`, 404, 'not_found', 'Object not found', null)
})

t.test('keys unavailable: 503 with Retry-After and no challenge', async t => {
  const ctx = await setup(t, { jwksPrefetch: false, jwksTimeout: '2s' })
  ctx.idp.setMode('down')
  const token = ctx.idp.sign({ sub: 'alice' })
  const before = ctx.calls.n
  const res = await ctx.app.inject({ url: '/token', headers: { authorization: `Bearer ${token}` } })
  t.equal(res.statusCode, 503)
  t.same(res.json(), { error: 'temporarily_unavailable', error_description: 'Unable to verify the access token right now' })
  t.equal(res.headers['retry-after'], '5', 'when the next fetch may happen')
  t.notOk('www-authenticate' in res.headers)
  t.equal(ctx.calls.n, before)
  // Within the pause before the next fetch: no new request to the IdP, and a Retry-After to match.
  const jwks = ctx.idp.requests.jwks + ctx.idp.requests.discovery
  const again = await ctx.app.inject({ url: '/token', headers: { authorization: `Bearer ${token}` } })
  t.equal(again.statusCode, 503)
  t.ok(Number(again.headers['retry-after']) >= 1 && Number(again.headers['retry-after']) <= 5)
  t.equal(ctx.idp.requests.jwks + ctx.idp.requests.discovery, jwks, 'no retry storm')
  // A token problem is still a 401 during the outage (checked before any key is needed).
  const bad = await ctx.app.inject({ url: '/token', headers: { authorization: `Bearer ${ctx.idp.sign({ iss: 'https://evil.example' })}` } })
  t.equal(bad.statusCode, 401)
})

t.test('realm option, escaped in the quoted string', async t => {
  const ctx = await setup(t, { realm: 'my "api" \\ realm' })
  const res = await ctx.app.inject({ url: '/token', headers: { authorization: 'Bearer' } })
  t.equal(res.headers['www-authenticate'], 'Bearer realm="my \\"api\\" \\\\ realm", error="invalid_token", error_description="Invalid Authorization Bearer"')
  const bare = await ctx.app.inject({ url: '/token' })
  t.equal(bare.headers['www-authenticate'], offered('my \\"api\\" \\\\ realm'))
})

t.test('descriptions never echo the token or the identity provider', async t => {
  const ctx = await setup(t)
  const marker = 'ECHO-MARKER-<script>'
  const tokens = [
    ctx.idp.sign({ iss: marker }),
    ctx.idp.sign({ aud: marker }),
    ctx.idp.sign({}, { kid: marker }),
    ctx.idp.sign({}, { typ: marker }),
    ctx.idp.signRaw({ alg: marker, kid: 'k' }, {})
  ]
  for (const token of tokens) {
    const res = await ctx.app.inject({ url: '/token', headers: { authorization: `Bearer ${token}` } })
    t.equal(res.statusCode, 401)
    t.notMatch(res.body, 'ECHO-MARKER')
    t.notMatch(String(res.headers['www-authenticate']), 'ECHO-MARKER')
  }
})
