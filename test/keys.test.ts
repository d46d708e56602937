// JWK import checks (lib/keys.ts importJwk) and key selection through the plugin: only keys fit
// for signature verification with the token's algorithm are ever used; ambiguity is refused.
import t from 'tap'
import Fastify from 'fastify'
import { generateKeyPairSync } from 'node:crypto'
import axioms from '../index.js'
import { importJwk, type KeyEntry } from '../lib/keys.js'
import { createTestIssuer, generateTestKey, signJws, type TestKey } from '../testing.js'

const rsa = generateTestKey('RS256', 'r1')
const rsaJwk = rsa.jwk
const pub = (k: TestKey): Record<string, unknown> => k.jwk

function unusable (jwk: unknown): string | undefined {
  const r = importJwk(jwk)
  return 'unusable' in r ? r.unusable : undefined
}
function algs (jwk: unknown): string[] {
  const r = importJwk(jwk)
  if ('unusable' in r) throw new Error(r.unusable)
  return [...r.algs].sort()
}

t.test('usable keys and the algorithms they may serve', async t => {
  const { alg: _a, use: _u, ...bare } = rsaJwk
  t.same(algs(bare), ['PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512'], 'an alg-less RSA key serves every RSA alg')
  t.same(algs(rsaJwk), ['RS256'], 'a JWK alg narrows it')
  t.same(algs({ ...bare, alg: 'PS384' }), ['PS384'])
  t.same(algs(pub(generateTestKey('ES256'))), ['ES256'])
  t.same(algs(pub(generateTestKey('ES384'))), ['ES384'])
  t.same(algs(pub(generateTestKey('ES512'))), ['ES512'])
  t.same(algs(pub(generateTestKey('EdDSA'))), ['EdDSA'])
  const ed448 = generateKeyPairSync('ed448').publicKey.export({ format: 'jwk' })
  t.same(algs({ ...ed448, kid: 'e448' }), ['EdDSA'], 'Ed448 is an EdDSA key')
  t.same(algs({ ...bare, use: 'sig', key_ops: ['verify'] }), ['PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512'])
})

t.test('private members are ignored: only the public key is imported', async t => {
  const priv = { ...rsa.privateKey.export({ format: 'jwk' }), kid: 'r1', alg: 'RS256' }
  t.ok(typeof priv.d === 'string')
  const r = importJwk(priv) as KeyEntry
  t.equal(r.key.type, 'public')
  t.equal(r.fingerprint, (importJwk(rsaJwk) as KeyEntry).fingerprint, 'same identity as the public JWK')
  t.equal(r.alive, true)
  t.equal(r.kid, 'r1')
})

t.test('refused JWKs, each with its reason', async t => {
  const ec = pub(generateTestKey('ES256', 'e1'))
  const okp = pub(generateTestKey('EdDSA', 'd1'))
  const small = { ...generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' }), kid: 's' }
  const y = Buffer.from(ec.y as string, 'base64url')
  y[y.length - 1] = (y[y.length - 1] as number) ^ 1
  const cases: Array<[string, unknown, string]> = [
    ['null', null, 'not_an_object'],
    ['array', [rsaJwk], 'not_an_object'],
    ['string', 'key', 'not_an_object'],
    ['no kid', { ...rsaJwk, kid: undefined }, 'no_kid'],
    ['empty kid', { ...rsaJwk, kid: '' }, 'no_kid'],
    ['numeric kid', { ...rsaJwk, kid: 1 }, 'no_kid'],
    ['use enc', { ...rsaJwk, use: 'enc' }, 'not_for_signatures'],
    ['key_ops without verify', { ...rsaJwk, key_ops: ['encrypt', 'wrapKey'] }, 'not_for_verify'],
    ['key_ops not a list', { ...rsaJwk, key_ops: 'verify' }, 'not_for_verify'],
    ['oct key', { kty: 'oct', kid: 'h', k: 'c2VjcmV0', alg: 'HS256' }, 'unsupported_kty'],
    ['no kty', { kid: 'x', n: rsaJwk.n, e: 'AQAB' }, 'unsupported_kty'],
    ['EC on an Edwards curve', { ...ec, crv: 'Ed25519' }, 'unsupported_kty'],
    ['EC without crv', { ...ec, crv: undefined }, 'unsupported_kty'],
    ['OKP on a NIST curve', { ...okp, crv: 'P-256' }, 'unsupported_kty'],
    ['OKP X25519 (key agreement)', { ...okp, crv: 'X25519' }, 'unsupported_kty'],
    ['RSA without n', { ...rsaJwk, n: undefined }, 'bad_rsa'],
    ['RSA with empty e', { ...rsaJwk, e: '' }, 'bad_rsa'],
    ['EC without y', { ...ec, y: undefined }, 'bad_ec'],
    ['OKP without x', { ...okp, x: undefined }, 'bad_okp'],
    ['RSA with an EC alg', { ...rsaJwk, alg: 'ES256' }, 'alg_mismatch'],
    ['P-256 with ES384', { ...ec, alg: 'ES384' }, 'alg_mismatch'],
    ['alg HS256 (not one of ours)', { ...rsaJwk, alg: 'HS256' }, 'alg_unsupported'],
    ['alg not a string', { ...rsaJwk, alg: ['RS256'] }, 'alg_mismatch'],
    ['EC point off the curve', { ...ec, y: y.toString('base64url') }, 'ec_off_curve'],
    ['RSA modulus of a few bytes', { ...rsaJwk, n: 'AQAB' }, 'rsa_too_small'],
    ['RSA 1024 bits', small, 'rsa_too_small'],
    ['RSA e = 1', { ...rsaJwk, e: 'AQ' }, 'rsa_bad_exponent'],
    ['RSA even e', { ...rsaJwk, e: 'BA' }, 'rsa_bad_exponent']
  ]
  for (const [name, jwk, reason] of cases) t.equal(unusable(jwk), reason, name)
  t.equal(unusable({ ...rsaJwk, e: 'Aw' }), undefined, 'e = 3 is odd and allowed')
})

async function setup (t: { teardown: (fn: () => unknown) => void }, jwks: unknown, opts: Record<string, unknown> = {}) {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  idp.setJwks(jwks)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, { audience: 'your-api-audience', issuer: idp.issuer, env: {}, ...opts })
  let calls = 0
  app.get('/p', { preHandler: app.hasValidAccessToken() }, async () => { calls++; return { ok: true } })
  const call = async (token: string) => app.inject({ url: '/p', headers: { authorization: `Bearer ${token}` } })
  return { idp, app, call, calls: () => calls }
}

function claims (iss: string): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000)
  return { iss, aud: 'your-api-audience', iat: now, exp: now + 300, sub: 'u' }
}

const INVALID = { error: 'invalid_token', error_description: 'Invalid access token' }

t.test('two keys sharing a kid that both fit the alg are refused, in either order', async t => {
  const a = generateTestKey('RS256', 'same')
  const b = generateTestKey('RS256', 'same')
  for (const order of [[a, b], [b, a]]) {
    const s = await setup(t, { keys: order.map(pub) })
    for (const signer of [a, b]) {
      const res = await s.call(signJws({ alg: 'RS256', kid: 'same', typ: 'JWT' }, claims(s.idp.issuer), signer))
      t.equal(res.statusCode, 401)
      t.same(res.json(), INVALID)
      t.match(res.headers['www-authenticate'], /error="invalid_token"/)
    }
    t.equal(s.calls(), 0)
  }
})

t.test('a kid shared by keys of different types is resolved by the alg, in either order', async t => {
  const r = generateTestKey('RS256', 'mix')
  const e = generateTestKey('ES256', 'mix')
  for (const order of [[r, e], [e, r]]) {
    const s = await setup(t, { keys: order.map(pub) })
    t.equal((await s.call(signJws({ alg: 'RS256', kid: 'mix' }, claims(s.idp.issuer), r))).statusCode, 200)
    t.equal((await s.call(signJws({ alg: 'ES256', kid: 'mix' }, claims(s.idp.issuer), e))).statusCode, 200)
    // The RSA key never verifies an ES256 signature, nor the EC key an RS256 one.
    t.equal((await s.call(signJws({ alg: 'ES256', kid: 'mix' }, claims(s.idp.issuer), r).replace(/\.[^.]*$/, '.' + 'A'.repeat(86)))).statusCode, 401)
    t.equal(s.calls(), 2)
  }
})

t.test('the same key listed twice is one key', async t => {
  const s = await setup(t, { keys: [rsaJwk, { ...rsaJwk }] })
  t.equal((await s.call(signJws({ alg: 'RS256', kid: 'r1' }, claims(s.idp.issuer), rsa))).statusCode, 200)
  t.equal(s.app.axioms.stats().issuers[0]?.keys, 1)
})

t.test('keys unfit for the token are refused with 401, never 5xx; usable neighbours still work', async t => {
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 })
  const smallKey: TestKey = { kid: 'small', alg: 'RS256', ...small, jwk: { ...small.publicKey.export({ format: 'jwk' }), kid: 'small' } }
  const enc = generateTestKey('RS256', 'enc')
  const ops = generateTestKey('RS256', 'ops')
  const psOnly = generateTestKey('PS256', 'ps-only')
  const ed448Pair = generateKeyPairSync('ed448')
  const ed448: TestKey = { kid: 'e448', alg: 'EdDSA', ...ed448Pair, jwk: { ...ed448Pair.publicKey.export({ format: 'jwk' }), kid: 'e448' } }
  const ed25519 = generateTestKey('EdDSA', 'e25519')
  const jwks = {
    keys: [
      smallKey.jwk,
      { ...enc.jwk, use: 'enc' },
      { ...ops.jwk, key_ops: ['encrypt'] },
      psOnly.jwk,
      { kty: 'oct', kid: 'oct', k: Buffer.from('secret').toString('base64url') },
      'garbage', null, 42,
      { ...rsa.privateKey.export({ format: 'jwk' }), kid: 'r1', alg: 'RS256' },
      ed448.jwk,
      ed25519.jwk
    ]
  }
  const s = await setup(t, jwks)
  const iss = s.idp.issuer
  for (const [name, token] of [
    ['RSA 1024', signJws({ alg: 'RS256', kid: 'small' }, claims(iss), smallKey)],
    ['use enc', signJws({ alg: 'RS256', kid: 'enc' }, claims(iss), enc)],
    ['key_ops encrypt', signJws({ alg: 'RS256', kid: 'ops' }, claims(iss), ops)],
    ['JWK alg PS256, token RS256', signJws({ alg: 'RS256', kid: 'ps-only' }, claims(iss), { ...psOnly, alg: 'RS256' })],
    ['oct key', signJws({ alg: 'RS256', kid: 'oct' }, claims(iss), rsa)]
  ] as const) {
    const res = await s.call(token)
    t.equal(res.statusCode, 401, name)
    t.same(res.json(), INVALID, name)
  }
  t.equal((await s.call(signJws({ alg: 'PS256', kid: 'ps-only' }, claims(iss), psOnly))).statusCode, 200, 'PS256 key for PS256')
  t.equal((await s.call(signJws({ alg: 'RS256', kid: 'r1' }, claims(iss), rsa))).statusCode, 200, 'private JWK published: public part used')
  t.equal((await s.call(signJws({ alg: 'EdDSA', kid: 'e448' }, claims(iss), ed448))).statusCode, 200, 'Ed448')
  t.equal((await s.call(signJws({ alg: 'EdDSA', kid: 'e25519' }, claims(iss), ed25519))).statusCode, 200, 'Ed25519')
  t.equal(s.calls(), 4)
  t.equal(s.app.axioms.stats().issuers[0]?.keys, 4)
})

t.test('KeyStore: start() twice keeps one timer; stop() is idempotent; refresh is shared', async t => {
  const { KeyStore } = await import('../lib/keys.js')
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const warnings: object[] = []
  const store = new KeyStore(
    { id: idp.issuer, accepted: [idp.issuer], jwksUri: idp.jwksUri, audiences: new Set(['a']), templates: [], tenants: undefined, authorizationServers: [idp.issuer] },
    { refreshInterval: 60_000, cacheTtl: 120_000, prefetch: true, cooldown: 30_000, timeout: 2000, maxBytes: 65536, proxy: undefined },
    { warn: o => warnings.push(o), debug: () => {} }
  )
  store.start()
  store.start()
  await Promise.all([store.refresh(), store.refresh()])
  t.equal(idp.requests.jwks, 1, 'concurrent refreshes share one fetch')
  t.equal(store.stats().keys, 1)
  t.equal(store.retryDelay(), 5000, 'on-demand retry delay is capped at 5 s')
  t.same(warnings, [])
  store.stop()
  store.stop()
  // A stopped store (the app closed) fetches nothing more.
  await t.rejects(store.refresh())
  t.equal(idp.requests.jwks, 1)
})
