// SECURITY.md §8 D: signature and key material. Signatures are edited as bytes; hostile keys are
// published through setJwks (RSA-1024, e = 1, off-curve points, use: enc, oct, private members).
import { createHash, generateKeyPairSync } from 'node:crypto'
import t from 'tap'
import { signJws, type TestKey } from '../../testing.js'
import {
  accepted, claimsV, createApi, createWorld, headerFor, hs256, refused, segments, signatureOf, token, withSignature
} from './harness.js'

const world = await createWorld()
t.teardown(() => world.close())
const rs = world.k.rs
const es = world.k.es

/** Publishes exactly these JWKs on A for the current test. */
function publish (t: { teardown: (fn: () => unknown) => void }, keys: unknown[]): void {
  world.a.setJwks({ keys })
  t.teardown(() => world.a.setJwks(undefined))
}

const P256_N = BigInt('0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551')
const int32 = (n: bigint): Buffer => Buffer.from(n.toString(16).padStart(64, '0'), 'hex')
const big = (b: Buffer): bigint => BigInt('0x' + b.toString('hex'))

function derOf (raw: Buffer): Buffer {
  const part = (b: Buffer): Buffer => {
    let i = 0
    while (i < b.length - 1 && b[i] === 0) i++
    let v = b.subarray(i)
    if ((v[0] as number) & 0x80) v = Buffer.concat([Buffer.from([0]), v])
    return Buffer.concat([Buffer.from([0x02, v.length]), v])
  }
  const body = Buffer.concat([part(raw.subarray(0, 32)), part(raw.subarray(32))])
  return Buffer.concat([Buffer.from([0x30, body.length]), body])
}

t.test('D1 signature removed: Malformed token', async t => {
  const api = await createApi(t, world)
  const [h, p] = segments(token(world))
  refused(t, await api.get(`${h}.${p}.`), 'MT', api.realm)
})

t.test('D2 another token\'s signature; payload changed under the old signature', async t => {
  const api = await createApi(t, world)
  const one = token(world)
  const two = token(world, { scope: 'items:write' })
  refused(t, await api.get(withSignature(two, signatureOf(one))), 'SIG', api.realm, {}, 'swapped signature')
  const [h, , s] = segments(one)
  const [, p2] = segments(two)
  refused(t, await api.get(`${h}.${p2}.${s}`, '/items', 'POST'), 'SIG', api.realm, {}, 'payload swapped')
  const [, pE] = segments(token(world, {}, {}, es))
  refused(t, await api.get(`${segments(token(world, {}, {}, es))[0]}.${pE}.${segments(token(world, {}, {}, es))[2]}`), 'SIG', api.realm, {}, 'ES256 signature of another token')
})

t.test('D3 RS256 signature off by a byte, with leading or trailing 00: Invalid token signature', async t => {
  const api = await createApi(t, world)
  const tok = token(world)
  const sig = signatureOf(tok)
  const flipped = Buffer.from(sig)
  flipped[10] = (flipped[10] as number) ^ 1
  const last = Buffer.from(sig)
  last[last.length - 1] = (last[last.length - 1] as number) ^ 0x80
  for (const [name, s] of Object.entries({
    'one byte more': Buffer.concat([sig, Buffer.from([1])]),
    'one byte less': sig.subarray(1),
    'leading 00': Buffer.concat([Buffer.from([0]), sig]),
    'trailing 00': Buffer.concat([sig, Buffer.from([0])]),
    'bit flipped': flipped,
    'last byte changed': last,
    'all zero': Buffer.alloc(256),
    'one byte': Buffer.from([0])
  })) {
    refused(t, await api.get(withSignature(tok, s)), 'SIG', api.realm, {}, name)
  }
})

t.test('D4 ES256 signature in DER, 63 or 65 bytes: Invalid token signature (N5)', async t => {
  const api = await createApi(t, world)
  const tok = token(world, {}, {}, es)
  const raw = signatureOf(tok)
  accepted(t, await api.get(tok), 'the raw R||S original')
  refused(t, await api.get(withSignature(tok, derOf(raw))), 'SIG', api.realm, {}, 'DER')
  refused(t, await api.get(withSignature(tok, raw.subarray(1))), 'SIG', api.realm, {}, '63 bytes')
  refused(t, await api.get(withSignature(tok, Buffer.concat([Buffer.from([0]), raw]))), 'SIG', api.realm, {}, '65 bytes, leading 0')
  refused(t, await api.get(withSignature(tok, Buffer.concat([raw, Buffer.from([0])]))), 'SIG', api.realm, {}, '65 bytes, trailing 0')
})

t.test('D5 ES256 with r = s = 0 and r or s in {1, n-1, n}: Invalid token signature', async t => {
  const api = await createApi(t, world)
  const tok = token(world, { scope: 'items:write' }, {}, es)
  const raw = signatureOf(tok)
  const r = raw.subarray(0, 32)
  const s = raw.subarray(32)
  const cases: Record<string, Buffer> = { 'r = s = 0 (CVE-2022-21449)': Buffer.alloc(64) }
  for (const [name, v] of [['1', 1n], ['n-1', P256_N - 1n], ['n', P256_N], ['0', 0n]] as const) {
    cases[`r = ${name}`] = Buffer.concat([int32(v), s])
    cases[`s = ${name}`] = Buffer.concat([r, int32(v)])
  }
  cases['r = n + r'] = Buffer.concat([int32(P256_N + big(r)).subarray(-32), s])
  for (const [name, sig] of Object.entries(cases)) {
    refused(t, await api.get(withSignature(tok, sig), '/items', 'POST'), 'SIG', api.realm, {}, name)
  }
})

t.test('D6 high-S ECDSA twin verifies like the original; a token cache holds two entries (N6)', async t => {
  const api = await createApi(t, world, { options: { tokenCache: 10 } })
  const tok = token(world, {}, {}, es)
  const raw = signatureOf(tok)
  const s = big(raw.subarray(32))
  const twin = withSignature(tok, Buffer.concat([raw.subarray(0, 32), int32(P256_N - s)]))
  t.not(twin, tok)
  accepted(t, await api.get(tok), 'original')
  accepted(t, await api.get(twin), 'high-S twin')
  t.equal(api.app.axioms.stats().tokenCacheSize, 2, 'two cache entries: never key a denylist by token hash')
})

/** EMSA-PKCS1-v1_5 encoding of SHA-256(input) for a 2048-bit modulus: the "signature" e = 1 accepts. */
function pkcs1Encoded (input: string): Buffer {
  const digestInfo = Buffer.from('3031300d060960864801650304020105000420', 'hex')
  const t2 = Buffer.concat([digestInfo, createHash('sha256').update(input).digest()])
  return Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(256 - t2.length - 3, 0xff), Buffer.from([0]), t2])
}

t.test('D7 RSA-1024 or e = 1 in the JWKS: key unusable, Invalid access token', async t => {
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 })
  const smallKey: TestKey = { kid: 'k-1024', alg: 'RS256', privateKey: small.privateKey, publicKey: small.publicKey, jwk: { ...small.publicKey.export({ format: 'jwk' }), kid: 'k-1024', alg: 'RS256', use: 'sig' } }
  const e1 = { ...rs.jwk, kid: 'k-e1', e: 'AQ' }
  const e3small = { ...smallKey.jwk, kid: 'k-1024-noalg', alg: undefined }
  publish(t, [rs.jwk, smallKey.jwk, e1, e3small])
  const api = await createApi(t, world)
  refused(t, await api.get(signJws(headerFor(smallKey), claimsV(), smallKey)), 'IAC', api.realm, { jwks: 1 }, 'RSA-1024 (unusable kid: one refresh, then cooldown)')
  refused(t, await api.get(signJws(headerFor(smallKey, { kid: 'k-1024-noalg' }), claimsV(), smallKey)), 'IAC', api.realm, {}, 'RSA-1024 without alg')
  const h = Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'k-e1', typ: 'at+jwt' })).toString('base64url')
  const p = Buffer.from(JSON.stringify(claimsV({ scope: 'items:write' }))).toString('base64url')
  const forged = `${h}.${p}.${pkcs1Encoded(`${h}.${p}`).toString('base64url')}`
  refused(t, await api.get(forged, '/items', 'POST'), 'IAC', api.realm, {}, 'e = 1 forgery')
  accepted(t, await api.get(token(world)), 'the good key in the same set still works')
})

t.test('D8 EC point off the curve; kty/crv mismatch: key refused at import, no 5xx', async t => {
  const y = Buffer.from(es.jwk.y as string, 'base64url')
  y[y.length - 1] = (y[y.length - 1] as number) ^ 1
  const offCurve = { ...es.jwk, kid: 'k-off', y: y.toString('base64url') }
  const zero = { ...es.jwk, kid: 'k-zero', x: Buffer.alloc(32).toString('base64url'), y: Buffer.alloc(32).toString('base64url') }
  const edAsEc = { kty: 'EC', crv: 'Ed25519', x: world.k.ed.jwk.x, kid: 'k-ed-as-ec' }
  const ecAsOkp = { kty: 'OKP', crv: 'P-256', x: es.jwk.x, y: es.jwk.y, kid: 'k-ec-as-okp' }
  const ecWrongCrv = { ...es.jwk, crv: 'P-384', kid: 'k-crv', alg: undefined }
  const shortX = { ...es.jwk, kid: 'k-short', x: (es.jwk.x as string).slice(4) }
  const rsaNoN = { kty: 'RSA', e: 'AQAB', kid: 'k-non' }
  publish(t, [rs.jwk, es.jwk, offCurve, zero, edAsEc, ecAsOkp, ecWrongCrv, shortX, rsaNoN, 'garbage', null, 7])
  const api = await createApi(t, world)
  for (const kid of ['k-off', 'k-zero', 'k-ed-as-ec', 'k-ec-as-okp', 'k-crv', 'k-short']) {
    refused(t, await api.get(token(world, {}, { kid }, kid === 'k-ed-as-ec' ? world.k.ed : es)), 'IAC', api.realm, { jwks: null }, kid)
  }
  refused(t, await api.get(token(world, {}, { kid: 'k-non' })), 'IAC', api.realm, { jwks: null }, 'RSA without n')
  accepted(t, await api.get(token(world, {}, {}, es)), 'the good EC key still works')
})

t.test('D9 RS256 header over a PSS signature and the reverse: Invalid token signature', async t => {
  const anyAlg = { ...rs.jwk, kid: 'k-rsa-any', alg: undefined }
  publish(t, [anyAlg])
  const api = await createApi(t, world)
  const pss = signJws({ alg: 'PS256', kid: 'k-rsa-any', typ: 'at+jwt' }, claimsV(), { ...rs, alg: 'PS256' })
  const pkcs1 = signJws({ alg: 'RS256', kid: 'k-rsa-any', typ: 'at+jwt' }, claimsV(), rs)
  accepted(t, await api.get(pss), 'PS256 as signed')
  accepted(t, await api.get(pkcs1), 'RS256 as signed')
  const [hRS] = segments(pkcs1)
  const [hPS] = segments(pss)
  refused(t, await api.get(`${hRS}.${segments(pss)[1]}.${segments(pss)[2]}`), 'SIG', api.realm, {}, 'RS256 header, PSS signature')
  refused(t, await api.get(`${hPS}.${segments(pkcs1)[1]}.${segments(pkcs1)[2]}`), 'SIG', api.realm, {}, 'PS256 header, PKCS#1 signature')
})

t.test('D10 use: enc, key_ops without verify: Invalid access token', async t => {
  publish(t, [
    { ...rs.jwk, kid: 'k-enc', use: 'enc' },
    { ...rs.jwk, kid: 'k-ops', use: undefined, key_ops: ['encrypt', 'wrapKey'] },
    { ...rs.jwk, kid: 'k-sign', use: undefined, key_ops: ['sign'] },
    { ...rs.jwk, kid: 'k-ops-str', use: undefined, key_ops: 'verify' },
    { ...rs.jwk, kid: 'k-use-num', use: 1 },
    { ...rs.jwk, kid: 'k-verify', use: undefined, key_ops: ['verify'] }
  ])
  const api = await createApi(t, world)
  for (const kid of ['k-enc', 'k-ops', 'k-sign', 'k-ops-str', 'k-use-num']) {
    refused(t, await api.get(token(world, {}, { kid })), 'IAC', api.realm, { jwks: null }, kid)
  }
  accepted(t, await api.get(token(world, {}, { kid: 'k-verify' })), 'key_ops [verify] is usable')
})

t.test('D11 oct key in the JWKS; HS256 with its k: Invalid or unsupported algorithm', async t => {
  const secret = Buffer.from('published-symmetric-secret')
  publish(t, [rs.jwk, { kty: 'oct', k: secret.toString('base64url'), kid: 'k-oct', alg: 'HS256', use: 'sig' }])
  const api = await createApi(t, world)
  refused(t, await api.get(hs256({ alg: 'HS256', kid: 'k-oct', typ: 'at+jwt' }, claimsV({ scope: 'items:write' }), secret), '/items', 'POST'), 'ALG', api.realm)
  refused(t, await api.get(hs256({ alg: 'HS256', kid: 'k-oct' }, claimsV(), secret.toString('base64url'))), 'ALG', api.realm)
  refused(t, await api.get(token(world, {}, { kid: 'k-oct' })), 'IAC', api.realm, { jwks: null }, 'RS256 naming the oct key')
})

t.test('D12 JWK with private members: ignored, no crash', async t => {
  const privateJwk = { ...rs.privateKey.export({ format: 'jwk' }), kid: 'k-rs', alg: 'RS256', use: 'sig' }
  const ecPrivate = { ...es.privateKey.export({ format: 'jwk' }), kid: 'k-es', alg: 'ES256' }
  publish(t, [privateJwk, ecPrivate])
  const api = await createApi(t, world)
  accepted(t, await api.get(token(world)), 'RSA with d, p, q')
  accepted(t, await api.get(token(world, {}, {}, es)), 'EC with d')
  t.notMatch(JSON.stringify(api.app.axioms.stats()), /"d"/, 'stats carry no key material')
})
